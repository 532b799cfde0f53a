"""`huancui kpi` and the KPI API against an independent reading of the raw snapshot files.

One generated book (2,000 accounts, 13 months) is imported twice — as of 2026-11-27 and, with the
later rows quarantined, as of 2026-10-31, a night that is planned (segments for November) — so
windows can open on a day with its own snapshot (exact arrears) or without one (arrears rebuilt). The expected numbers
are computed here in plain Python, row by row from pyarrow's `to_pylist()`, without SQL: bucket
on a day from the spells, arrears by walking each account's payments in order.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from huancui.arrangements.tables import ArrangementRow, HardshipRow
from huancui.kit.database import unit_of_work
from huancui.kit.money import format_yuan
from huancui.kit.settings import Settings
from huancui.monitoring.data import ensure_states, open_kpi_data
from huancui.monitoring.kpis import KPIS, roll_matrix
from huancui.portal.tables import CsatRatingRow
from tests.conftest import ROOT, Cli
from tests.strategy.conftest import variant

AS_OF = date(2026, 11, 27)
EARLIER = date(2026, 10, 31)
NOVEMBER = (date(2026, 11, 1), AS_OF)
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
SHANGHAI = ZoneInfo("Asia/Shanghai")
LEAD_DAYS = 15  # the default policy's billing lead (dues without a statement date)
Q = Decimal("0.0001")


@dataclass
class World:
    settings: Settings
    cli: Cli
    snapshot: Path
    earlier: Path
    paused_account: str  # its pause ended 3 days before a cure
    pause_last_day: date
    rows: dict[str, list[dict[str, Any]]]

    def spells(self) -> dict[str, list[dict[str, Any]]]:
        by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in self.rows["delinquency_spells"]:
            by_account[s["account_id"]].append(s)
        return by_account


def read(folder: Path, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(folder / f"{name}.parquet").to_pylist()
    return rows


def ok(result: Any) -> None:
    assert result.exit_code == 0, result.output


def _feedback(contacts: list[dict[str, Any]], folder: Path) -> None:
    """A tiny hand-made feedback file: three scores and a complaint in November, one older."""
    november = sorted(
        (c for c in contacts if c["channel"] == "call" and local_day(c) >= NOVEMBER[0]),
        key=lambda c: c["contact_id"],
    )
    first, second = (
        november[0],
        next(c for c in november if c["agent_id"] != november[0]["agent_id"]),
    )
    rows = [
        ("F1", first["account_id"], date(2026, 11, 10), "survey", 5, "call", None, first["contact_id"]),
        ("F2", second["account_id"], date(2026, 11, 12), "survey", 2, "call", None, second["contact_id"]),
        ("F3", first["account_id"], date(2026, 11, 15), "portal_rating", 4, None, None, None),
        ("F4", first["account_id"], date(2026, 11, 20), "complaint", None, "call", "frequency", first["contact_id"]),
        ("F5", second["account_id"], date(2026, 9, 15), "survey", 1, "sms", None, None),
    ]  # fmt: skip
    names = ["feedback_id", "account_id", "received_date", "kind", "score", "channel",
             "category", "contact_id"]  # fmt: skip
    types = [pa.string(), pa.string(), pa.date32(), pa.string(), pa.int32(), pa.string(),
             pa.string(), pa.string()]  # fmt: skip
    columns = list(zip(*rows, strict=True))
    table = pa.table([pa.array(c, t) for c, t in zip(columns, types, strict=True)], names=names)
    pq.write_table(table, folder / "feedback.parquet")


def _arrangement(
    account: str, kind: str, status: str, proposed_on: date, segment: str
) -> ArrangementRow:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    return ArrangementRow(
        account_id=account, customer_id="C", kind=kind, status=status, segment=segment,
        product="credit_card", proposed_on=proposed_on, start_date=proposed_on,
        end_date=proposed_on + timedelta(days=10), terms={}, quote={}, total_due_fen=10000,
        waived_fen=0, discount_share="0", term_months=0, monthly_burden_fen=10000,
        proposed_by="test", proposed_at=now, proposal_reason="test", updated_at=now,
    )  # fmt: skip


def _pause(account: str, *, status: str, decided: datetime, start: date, end: date,
           ended_on: date | None) -> HardshipRow:  # fmt: skip
    return HardshipRow(
        account_id=account, customer_id="C", reason_code="illness", details="test",
        requested_start=start, requested_days=(end - start).days + 1, status=status,
        applied_via="cli", applied_by="test", applied_at=decided, start_date=start, end_date=end,
        interest_accrues=True, decided_by="boss", decided_role="manager", decided_at=decided,
        ended_on=ended_on, updated_at=decided,
    )  # fmt: skip


def _settings(root: Path) -> Settings:
    home = root / "home"
    return Settings(home=home, database_url=f"sqlite:///{home / 'case.db'}")


def _pause_to_follow(spells: list[dict[str, Any]]) -> tuple[str, date]:
    """An account cured in mid-October, and a pause that ended three days before the cure."""
    cured = sorted(
        (s for s in spells
         if s["event"] == "cured" and date(2026, 10, 10) <= s["started_on"] <= date(2026, 10, 25)),
        key=lambda s: s["account_id"],
    )  # fmt: skip
    return cured[0]["account_id"], cured[0]["started_on"] - timedelta(days=3)


def _build(root: Path) -> None:
    """Generate, import twice, plan 10-31, add feedback and case-plane records."""
    settings = _settings(root)
    settings.home.mkdir(parents=True)
    cli = Cli(settings)
    delivery = root / "delivery"
    ok(cli("generate", "--accounts", "2000", "--months", "13", "--seed", "5",
           "--as-of", AS_OF.isoformat(), "--out", str(delivery)))  # fmt: skip
    ok(cli("import", str(delivery), "--as-of", AS_OF.isoformat()))
    ok(cli("import", str(delivery), "--as-of", EARLIER.isoformat(),
           "--quarantine", str(root / "refused.csv")))  # fmt: skip
    strategy = root / "strategy.yaml"
    strategy.write_text(variant("effective_date: 2026-11-01", "effective_date: 2026-10-01"))
    ok(cli("strategy", "activate", str(strategy), "--actor", "test"))
    ok(cli("run", "--as-of", EARLIER.isoformat(), "--actor", "night"))
    snapshot = settings.snapshots_dir / AS_OF.isoformat()
    _feedback(read(snapshot, "contacts"), snapshot)
    paused, last_day = _pause_to_follow(read(snapshot, "delinquency_spells"))
    delinquent_now = sorted(
        a["account_id"] for a in read(snapshot, "accounts") if a["bucket"] != "M0"
    )
    ptps = ("kept", "kept", "kept", "broken", "active", "cancelled")
    plans = [("ptp", status, date(2026, 11, 3 + i), "prime") for i, status in enumerate(ptps)]
    plans += [
        ("installment", "completed", date(2026, 11, 9), "standard"),
        ("installment", "broken", date(2026, 11, 10), "standard"),
        ("ptp", "kept", date(2026, 10, 20), "prime"),  # October: outside November's count
    ]
    with unit_of_work(settings.resolved_database_url) as session:
        for account, (kind, status, proposed_on, segment) in zip(
            delinquent_now, plans, strict=False
        ):
            session.add(_arrangement(account, kind, status, proposed_on, segment))
        session.add(
            _pause(paused, status="ended", decided=datetime(2026, 9, 1, 3, tzinfo=UTC),
                   start=last_day - timedelta(days=29), end=last_day, ended_on=last_day)
        )  # fmt: skip
        # Approved at 01:00 on 5 November in Beijing (17:00 UTC the day before).
        session.add(
            _pause(delinquent_now[9], status="active", decided=datetime(2026, 11, 4, 17, tzinfo=UTC),
                   start=date(2026, 11, 6), end=date(2027, 1, 4), ended_on=None)
        )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> World:
    """Built once per test session and shared by the xdist workers, which only read it."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    root = shared / "kpi-world"
    with (shared / "kpi-world.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (root / "built").exists():
            shutil.rmtree(root, ignore_errors=True)
            _build(root)
            (root / "built").touch()
    settings = _settings(root)
    snapshot = settings.snapshots_dir / AS_OF.isoformat()
    names = ("accounts", "payments", "dues", "contacts", "holds", "delinquency_spells", "feedback")
    rows = {name: read(snapshot, name) for name in names}
    paused, last_day = _pause_to_follow(rows["delinquency_spells"])
    earlier = settings.snapshots_dir / EARLIER.isoformat()
    return World(settings, Cli(settings), snapshot, earlier, paused, last_day, rows)


# --- the independent reading ----------------------------------------------------------------


def local_day(contact: dict[str, Any]) -> date:
    stamp: datetime = contact["contacted_at"]
    return stamp.astimezone(SHANGHAI).date()


def state_on(spells: list[dict[str, Any]], day: date) -> tuple[str, bool]:
    """(bucket, charged off) on `day`: the spell covering it, else current."""
    for s in spells:
        if s["started_on"] <= day and (s["ended_on"] is None or s["ended_on"] > day):
            return s["bucket"], s["event"] == "charged_off"
    return "M0", False


def arrears_on(dues: list[dict[str, Any]], payments: list[dict[str, Any]], day: date) -> int:
    """Walk the payments in order: each applies up to what was billed when it arrived."""
    ordered = sorted(dues, key=lambda d: (d["due_date"], d["period_no"]))
    billed_on, latest = [], date.min
    for d in ordered:
        latest = max(latest, d["statement_date"] or d["due_date"] - timedelta(days=LEAD_DAYS))
        billed_on.append(latest)
    amounts = [d["principal_due"] + (d["interest_due"] or 0) + (d["fee_due"] or 0) for d in ordered]
    applied = 0
    for p in sorted(payments, key=lambda p: (p["paid_date"], p["payment_id"])):
        if p["paid_date"] > day:
            break
        billed = sum(a for a, b in zip(amounts, billed_on, strict=True) if b <= p["paid_date"])
        applied = min(applied + p["amount"], billed)
    owed = sum(a for a, d in zip(amounts, ordered, strict=True) if d["due_date"] <= day)
    return max(0, owed - applied)


class Book:
    """The snapshot's rows grouped by account, for the loops below."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.accounts = {a["account_id"]: a for a in world.rows["accounts"]}
        self.spells = world.spells()
        self.dues: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in world.rows["dues"]:
            self.dues[d["account_id"]].append(d)
        self.payments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for p in world.rows["payments"]:
            self.payments[p["account_id"]].append(p)
        earlier = read(world.earlier, "accounts")
        self.exact = {EARLIER: {a["account_id"]: a for a in earlier}, AS_OF: self.accounts}

    def open_on(self, day: date) -> Iterator[str]:
        return (a for a, row in self.accounts.items() if row["open_date"] <= day)

    def state(self, account: str, day: date) -> tuple[str, bool]:
        return state_on(self.spells.get(account, []), day)

    def arrears(self, account: str, day: date) -> int:
        if day in self.exact:
            return int(self.exact[day][account]["arrears_fen"])
        return arrears_on(self.dues.get(account, []), self.payments.get(account, []), day)

    def cohort(self, opening: date) -> list[str]:
        out = []
        for account in self.open_on(opening):
            bucket, charged_off = self.state(account, opening)
            if bucket != "M0" and not charged_off:
                out.append(account)
        return out


@pytest.fixture(scope="module")
def book(world: World) -> Book:
    return Book(world)


def rate(part: int, whole: int, scale: int = 1) -> str | None:
    if whole == 0:
        return None
    return str((Decimal(part) * scale / Decimal(whole)).quantize(Q, rounding=ROUND_HALF_UP))


def kpi_json(world: World, start: date, end: date, *args: str) -> dict[str, Any]:
    result = world.cli("kpi", "--from", start.isoformat(), "--to", end.isoformat(), *args, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def row(
    data: dict[str, Any], key: str, period: str = "total", group: str = "all"
) -> dict[str, Any]:
    return next(
        r for r in data["kpis"][key]["rows"] if r["period"] == period and r["group"] == group
    )


def value(data: dict[str, Any], key: str, group: str = "all") -> str | None:
    found: str | None = row(data, key, group=group)["value"]
    return found


def groups(data: dict[str, Any], key: str, field: str = "denominator") -> dict[str, Any]:
    return {
        r["group"]: r[field]
        for r in data["kpis"][key]["rows"]
        if r["period"] == "total" and r["group"] != "all"
    }


# Reports shared by the tests (each is one `huancui kpi --json`).
@pytest.fixture(scope="module")
def november(world: World) -> dict[str, Any]:
    return kpi_json(world, *NOVEMBER)


@pytest.fixture(scope="module")
def since_october(world: World) -> dict[str, Any]:
    return kpi_json(world, OCTOBER[0], AS_OF)


@pytest.fixture(scope="module")
def by_segment(world: World) -> dict[str, Any]:
    return kpi_json(world, *NOVEMBER, "--by", "segment")


@pytest.fixture(scope="module")
def by_channel(world: World) -> dict[str, Any]:
    return kpi_json(world, *NOVEMBER, "--by", "channel")


def november_contacts(world: World) -> list[dict[str, Any]]:
    return [c for c in world.rows["contacts"] if NOVEMBER[0] <= local_day(c) <= NOVEMBER[1]]


# --- tests ----------------------------------------------------------------------------------


def test_arrears_are_rebuilt_for_days_without_a_snapshot(world: World, book: Book) -> None:
    # The reference walk reproduces the engine's arrears on the snapshot's own day …
    for account, snap in book.accounts.items():
        assert arrears_on(book.dues[account], book.payments[account], AS_OF) == snap["arrears_fen"]
    # … and the rebuilt arrears (two days without a snapshot) equal the walk's.
    days = [date(2026, 8, 31), date(2026, 9, 30)]
    with open_kpi_data(world.settings, start=days[0], end=AS_OF) as data:
        ensure_states(data, days)
        rebuilt = {(d, a): (arrears, exact) for d, a, arrears, exact in data.rows(
            "SELECT as_of, account_id, arrears_fen, exact FROM states")}  # fmt: skip
    for day in days:
        for account in book.open_on(day):
            assert rebuilt[(day, account)] == (book.arrears(account, day), False), (account, day)


@pytest.mark.parametrize("report", ["november", "since_october"])
def test_recovery_and_cure_rates_match_the_raw_files(
    book: Book, report: str, request: pytest.FixtureRequest
) -> None:
    """November opens on 10-31, which has its own snapshot; October opens on 09-30, rebuilt."""
    data = request.getfixturevalue(report)
    start, end = date.fromisoformat(data["from"]), date.fromisoformat(data["to"])
    opening = start - timedelta(days=1)
    cohort = book.cohort(opening)
    arrears = sum(book.arrears(a, opening) for a in cohort)
    collected = recovered = cured = 0
    for account in cohort:
        paid = sum(p["amount"] for p in book.payments[account] if start <= p["paid_date"] <= end)
        collected += paid
        recovered += min(paid, book.arrears(account, opening))
        cured += any(s["event"] == "cured" and start <= s["started_on"] <= end
                     for s in book.spells[account])  # fmt: skip
    assert len(cohort) > 20 and arrears > 0 and collected > 0
    recovery = row(data, "recovery_rate")
    assert (recovery["numerator"], recovery["denominator"], recovery["value"]) == (
        format_yuan(collected), format_yuan(arrears), rate(collected, arrears),
    )  # fmt: skip
    assert value(data, "arrears_recovered_rate") == rate(recovered, arrears)
    cure = row(data, "cure_rate")
    assert (cure["numerator"], cure["denominator"], cure["value"]) == (
        cured, len(cohort), rate(cured, len(cohort)),
    )  # fmt: skip
    assert (opening.isoformat() in data["sources"]["exact_snapshots"]) == (opening == EARLIER)


def test_roll_matrix_matches_month_end_buckets_from_the_spells(world: World, book: Book) -> None:
    matrix = roll_matrix(world.settings, date(2026, 8, 1), AS_OF)
    ends = [date(2026, 7, 31), date(2026, 8, 31), date(2026, 9, 30), date(2026, 10, 31)]
    assert list(matrix.month_ends) == ends
    pooled: Counter[tuple[str, str]] = Counter()
    for t, following in pairwise(ends):
        counts: Counter[tuple[str, str]] = Counter()
        arrears: Counter[tuple[str, str]] = Counter()
        balance: Counter[tuple[str, str]] = Counter()
        for account in book.open_on(t):
            bucket, charged_off = book.state(account, t)
            if charged_off:
                continue
            later, gone = book.state(account, following)
            move = (bucket, "charged_off" if gone else later)
            counts[move] += 1
            arrears[move] += book.arrears(account, t)
        got = matrix.counts(month_end=t)
        assert {(f, to): n for f, line in got.items() for to, n in line.items() if n} == counts
        cells = {(c.from_state, c.to_state): c for c in matrix.cells
                 if c.month_end == t and c.group == "all"}  # fmt: skip
        assert {k: c.arrears_fen for k, c in cells.items()} == arrears
        # None of these month ends has a snapshot of its own: no balance.
        assert all(c.balance_fen is None for c in cells.values()) and not balance
        pooled.update(counts)
    got = matrix.counts()
    assert {(f, to): n for f, line in got.items() for to, n in line.items() if n} == pooled
    m1_total = sum(n for (f, _), n in pooled.items() if f == "M1")
    assert str(matrix.shares()["M1"]["M2"]) == rate(pooled[("M1", "M2")], m1_total)
    assert any("rebuilt" in n for n in matrix.notes)


def test_contact_rates_and_cost_match_the_contacts_file(
    world: World, book: Book, november: dict[str, Any]
) -> None:
    contacts = november_contacts(world)
    attempts = [c for c in contacts if c["channel"] in ("call", "visit")]
    connected = sum(bool(c["connected"]) for c in attempts)
    right_party = sum(bool(c["right_party"]) for c in attempts)
    rpc_all = [c for c in contacts if c["right_party"]]
    promises = [c for c in rpc_all if c["outcome"] == "promise"]
    assert attempts and promises
    costs = {"sms": 5, "email": 1, "call": 300, "visit": 12000, "letter": 500, "legal": 80000}
    assert value(november, "contact_rate") == rate(connected, len(attempts))
    assert value(november, "right_party_contact_rate") == rate(right_party, len(attempts))
    assert value(november, "promise_rate") == rate(len(promises), len(rpc_all))
    cost = sum(costs[c["channel"]] for c in contacts)
    assert value(november, "contact_cost") == format_yuan(cost)
    collected = row(november, "collected")["numerator"]
    assert value(november, "net_recovery") == format_yuan(int(Decimal(collected) * 100) - cost)
    # The 7-day proxy: a payment on the day of the promise or within 7 days after it, counted
    # for promises whose 7 days have passed by the snapshot.
    resolved = [c for c in promises if local_day(c) + timedelta(days=7) <= AS_OF]
    kept = sum(
        any(local_day(c) <= p["paid_date"] <= local_day(c) + timedelta(days=7)
            for p in book.payments[c["account_id"]])
        for c in resolved
    )  # fmt: skip
    proxy = row(november, "promise_kept_rate_7d")
    assert (proxy["numerator"], proxy["denominator"]) == (kept, len(resolved))


def test_contact_kpis_slice_by_channel_and_collector(
    world: World, by_channel: dict[str, Any]
) -> None:
    attempts = [c for c in november_contacts(world) if c["channel"] in ("call", "visit")]
    by_kind = Counter(c["channel"] for c in attempts)
    got = groups(by_channel, "contact_rate")
    assert {g: n for g, n in got.items() if n} == by_kind
    connected = sum(bool(c["connected"]) for c in attempts if c["channel"] == "call")
    assert value(by_channel, "contact_rate", "call") == rate(connected, by_kind["call"])
    by_collector = kpi_json(world, *NOVEMBER, "--by", "collector")
    got = groups(by_collector, "right_party_contact_rate")
    assert {g: n for g, n in got.items() if n} == Counter(c["agent_id"] or "none" for c in attempts)


def test_satisfaction_and_complaints_from_the_feedback_file(
    world: World, november: dict[str, Any], by_channel: dict[str, Any]
) -> None:
    contacts = november_contacts(world)
    # F1 5, F2 2 (surveys) and F3 4 (portal) in November; F5 (September) is outside.
    assert value(november, "csat") == "0.6667"
    assert value(november, "mean_score") == "3.6667"
    accounts = len({c["account_id"] for c in contacts})
    assert value(november, "complaints_per_1000_accounts") == rate(1, accounts, 1000)
    assert value(november, "complaints_per_10000_contacts") == rate(1, len(contacts), 10_000)
    # F3 names no channel and no contact: a group of its own.
    assert value(by_channel, "csat", "call") == "0.5000"
    assert value(by_channel, "csat", "unknown") == "1.0000"
    calls = sum(c["channel"] == "call" for c in contacts)
    assert value(by_channel, "complaints_per_10000_contacts", "call") == rate(1, calls, 10_000)
    assert value(by_channel, "complaints_per_10000_contacts", "sms") == "0.0000"


def test_ratings_given_on_huancuis_portal_count_in_satisfaction(
    world: World, tmp_path: Path
) -> None:
    """The portal's own CSAT ratings (csat_ratings) join the delivered feedback, once each."""
    home = tmp_path / "home"
    shutil.copytree(world.settings.home, home)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'case.db'}")
    account = world.rows["accounts"][0]["account_id"]
    with unit_of_work(settings.resolved_database_url) as session:
        session.add(
            CsatRatingRow(
                customer_id="C-any", account_id=account, score=1, comment=None,
                channel="portal", created_at=datetime(2026, 11, 15, 3, 0, tzinfo=UTC),
            )
        )  # fmt: skip
    result = Cli(settings)("kpi", "--from", NOVEMBER[0].isoformat(), "--to", AS_OF.isoformat(),
                           "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    copy = json.loads(result.stdout)
    # F1 5, F2 2, F3 4 delivered, and the portal's 1: two satisfied of four.
    assert value(copy, "csat") == "0.5000"
    assert value(copy, "mean_score") == "3.0000"


def test_promise_and_arrangement_kept_rates_from_the_case_plane(
    november: dict[str, Any], by_segment: dict[str, Any]
) -> None:
    # November: PTPs kept 3, broken 1 (active, cancelled: unresolved); plans completed 1, broken 1.
    ptp = row(november, "promise_kept_rate")
    assert (ptp["numerator"], ptp["denominator"], ptp["value"]) == (3, 4, "0.7500")
    plans = row(november, "arrangement_kept_rate")
    assert (plans["numerator"], plans["denominator"]) == (4, 6)
    # Sliced by the segment recorded with each arrangement.
    assert value(by_segment, "arrangement_kept_rate", "standard") == "0.5000"
    assert value(by_segment, "promise_kept_rate", "prime") == "0.7500"


def test_hardship_uptake_and_what_follows_a_pause(
    world: World, book: Book, since_october: dict[str, Any]
) -> None:
    start, end = OCTOBER[0], AS_OF
    delinquent = {
        account
        for account, spells in book.spells.items()
        for s in spells
        if s["event"] not in ("cured", "charged_off") and s["started_on"] <= end
        and (s["ended_on"] is None or s["ended_on"] > start)
    }  # fmt: skip
    approved = {h["account_id"] for h in world.rows["holds"]
                if h["hold_type"] == "hardship" and start <= h["start_date"] <= end}  # fmt: skip
    approved.add(sorted(a["account_id"] for a in world.rows["accounts"] if a["bucket"] != "M0")[9])
    uptake = row(since_october, "hardship_uptake")
    assert (uptake["numerator"], uptake["denominator"]) == (
        len(approved & delinquent), len(delinquent),
    )  # fmt: skip
    # Pauses ending in the window, followed for 30 days: ours (cured 3 days after) and the bank's.
    ended = [(world.paused_account, world.pause_last_day)] + [
        (h["account_id"], h["end_date"]) for h in world.rows["holds"]
        if h["hold_type"] == "hardship" and h["end_date"] and start <= h["end_date"] <= end
    ]  # fmt: skip
    observed = [(a, last) for a, last in ended if last + timedelta(days=30) <= AS_OF]
    cured = sum(
        any(s["event"] == "cured" and last < s["started_on"] <= last + timedelta(days=30)
            for s in book.spells[a])
        for a, last in observed
    )  # fmt: skip
    post = row(since_october, "post_hold_cure_rate")
    assert (post["numerator"], post["denominator"]) == (cured, len(observed))
    assert post["numerator"] >= 1


def test_delinquency_rate_by_bucket_at_month_ends_and_against_the_baseline(
    book: Book, since_october: dict[str, Any]
) -> None:
    series = since_october["delinquency"]
    days = [date(2026, 9, 30), EARLIER, AS_OF]
    assert series["dates"] == [d.isoformat() for d in days]
    assert series["baseline"]["date"] == "2026-09-30"  # the strategy took effect on 10-01
    buckets = {"M1": {"M1"}, "M2": {"M2"}, "M3": {"M3"}, "M4+": {"M4", "M5", "M6", "M7+"},
               "all": {"M1", "M2", "M3", "M4", "M5", "M6", "M7+"}}  # fmt: skip
    expected: dict[tuple[str, str], Decimal] = {}
    for day in days:
        live = [b for b, gone in (book.state(a, day) for a in book.open_on(day)) if not gone]
        for name, members in buckets.items():
            expected[(day.isoformat(), name)] = Decimal(
                rate(sum(b in members for b in live), len(live)) or ""
            )
    points = {(p["as_of"], p["bucket"]): p for p in series["points"] if p["group"] == "all"}
    for key, share in expected.items():
        assert Decimal(points[key]["rate"]) == share, key
    m2 = points[(AS_OF.isoformat(), "M2")]
    assert (
        Decimal(m2["change"])
        == expected[(AS_OF.isoformat(), "M2")] - expected[(EARLIER.isoformat(), "M2")]
    )
    assert (
        Decimal(m2["vs_baseline"])
        == expected[(AS_OF.isoformat(), "M2")] - expected[("2026-09-30", "M2")]
    )


def test_by_segment_and_product_slice_each_kpi_that_has_the_field(
    world: World, book: Book, by_segment: dict[str, Any]
) -> None:
    plan = read(world.settings.home / "runs" / EARLIER.isoformat() / "run-1", "plan")
    segment_of = {p["account_id"]: p["segment"] for p in plan}
    cohort = book.cohort(EARLIER)
    assert by_segment["kpis"]["cure_rate"]["sliced_by"] == "segment"
    assert groups(by_segment, "cure_rate") == Counter(
        segment_of.get(a, "unplanned") for a in cohort
    )
    # Delinquency rates are over the whole book, whose current accounts have no segment.
    assert by_segment["delinquency"]["sliced_by"] is None and by_segment["delinquency"]["notes"]
    by_product = kpi_json(world, *NOVEMBER, "--by", "product")
    assert groups(by_product, "cure_rate") == Counter(book.accounts[a]["product"] for a in cohort)
    assert row(by_product, "cure_rate")["denominator"] == len(cohort)
    assert by_product["delinquency"]["sliced_by"] == "product"


def test_a_kpi_without_the_field_is_reported_unsliced_with_a_note(
    by_channel: dict[str, Any],
) -> None:
    recovery = by_channel["kpis"]["recovery_rate"]
    assert recovery["sliced_by"] is None
    assert {r["group"] for r in recovery["rows"]} == {"all"}
    assert any(n.startswith("not sliceable by channel") for n in recovery["notes"])
    assert by_channel["kpis"]["contact_rate"]["sliced_by"] == "channel"


def test_zero_denominators_are_null_never_nan(world: World) -> None:
    result = world.cli("kpi", "--from", "2026-01-01", "--to", "2026-01-30", "--json")
    assert result.exit_code == 0, result.output
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    data = json.loads(result.stdout)
    # No contacts before late September, no arrangements before November.
    for key in (
        "contact_rate",
        "promise_rate",
        "complaints_per_1000_accounts",
        "promise_kept_rate",
    ):
        assert value(data, key) is None, key
    assert value(data, "contact_cost") == "0.00"
    assert data["roll_matrix"]["cells"] == [] and data["roll_matrix"]["notes"]


def test_human_output_shows_tables(world: World) -> None:
    result = world.cli("kpi", "--from", "2026-10-01", "--to", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    for text in ("Recovery rate", "Delinquency rate by bucket", "By month", "2026-10"):
        assert text in result.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--from", "2026-13-01", "--to", "2026-11-27"], "--from"),
        (["--from", "2026-11-01", "--to", "yesterday"], "--to"),
        (["--from", "2026-11-27", "--to", "2026-11-01"], "--to"),
        (["--from", "2026-11-01", "--to", "2026-11-27", "--by", "colour"], "--by"),
        (["--from", "2026-11-01", "--to", "2026-11-27", "--grain", "week"], "--grain"),
    ],
)
def test_bad_options_exit_2_naming_the_option(world: World, args: list[str], option: str) -> None:
    result = world.cli("kpi", *args)
    assert result.exit_code == 2
    assert option in result.output


def test_channel_costs_come_from_the_configured_file(world: World, tmp_path: Path) -> None:
    costs = tmp_path / "costs.yaml"
    one_yuan = ", ".join(
        f"{c}: '1.00'" for c in ("sms", "email", "call", "visit", "letter", "legal")
    )
    costs.write_text(f"channels: {{{one_yuan}}}\n")
    cli = Cli(world.settings)
    cli.env = {**cli.env, "HUANCUI_CHANNEL_COSTS": str(costs)}
    result = cli("kpi", "--from", NOVEMBER[0].isoformat(), "--to", AS_OF.isoformat(), "--json")
    assert value(json.loads(result.stdout), "contact_cost") == format_yuan(
        100 * len(november_contacts(world))
    )
    costs.write_text("channels: {sms: '0.05'}\n")
    result = cli("kpi", "--from", NOVEMBER[0].isoformat(), "--to", AS_OF.isoformat())
    assert result.exit_code == 2
    assert str(costs) in result.output and "missing" in result.output


def test_the_docs_define_every_kpi() -> None:
    text = (ROOT / "docs" / "kpis.md").read_text(encoding="utf-8")
    for spec in KPIS:
        assert f"| `{spec.key}` | {spec.label.split(' ')[0]}" in text, spec.key
