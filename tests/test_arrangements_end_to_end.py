"""Arrangements and 缓催 through the real nightly run (`huancui run`), on a generated portfolio:
a broken promise returns the case to the strategy, a kept one closes with its payment allocated
once, a hardship pause stops collection, reminds the customer and ends by itself, and holds
placed after the plan stop the morning's messages at send time."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from huancui.arrangements.monitor import reminder_key
from huancui.cli import app
from huancui.kit.database import make_engine
from huancui.kit.money import format_yuan
from huancui.kit.settings import Settings
from huancui.portfolio.snapshot_store import snapshot_dir
from tests.arrangements.conftest import built_once
from tests.conftest import ROOT, Cli

pytestmark = pytest.mark.slow

D = date(2026, 11, 27)  # DEMO_AS_OF
COLLECTOR, SUPERVISOR = "li.collector", "wang.supervisor"
ACTOR = ("--actor", "night-batch")


def on(offset: int) -> date:
    return D + timedelta(days=offset)


def at_noon(day: date) -> str:
    """12:00 Beijing time: inside every SMS window of the day, in Shanghai and in Urumqi."""
    return f"{day.isoformat()}T12:00:00+08:00"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated delivery for D (2,000 accounts, 13 months of history)."""
    out = tmp_path_factory.mktemp("generated") / "delivery"
    result = CliRunner().invoke(
        app,
        ["generate", "--accounts", "2000", "--months", "13", "--seed", "29",
         "--as-of", D.isoformat(), "--out", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def _json(result: Result) -> Any:
    return json.loads(_ok(result).stdout)


def _query(sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    try:
        return [tuple(r) for r in con.execute(sql, params or {}).fetchall()]
    finally:
        con.close()


@dataclass
class World:
    """One bank's case plane and snapshots on SQLite, fed the generated delivery."""

    cli: Cli
    settings: Settings
    delivery: Path
    scratch: Path

    def deliver(self, as_of: date, payments: Sequence[tuple[str, str, date, int]] = ()) -> None:
        """Import the delivery as the snapshot of `as_of`, with these payments made since D
        (payment id, account, paid date, fen) appended to its payments file."""
        folder = self.delivery
        if payments:
            folder = self.scratch / f"delivery-{as_of}"
            shutil.copytree(self.delivery, folder, ignore=shutil.ignore_patterns("truth"))
            with (folder / "payments.csv").open("a", encoding="utf-8") as handle:
                for payment_id, account, day, fen in payments:
                    handle.write(f"{payment_id},{account},{day},{format_yuan(fen)},app\n")
        _ok(self.cli("import", str(folder), "--as-of", as_of.isoformat(), "--actor", "etl"))

    def run(self, as_of: date) -> dict[str, Any]:
        report: dict[str, Any] = _json(
            self.cli("run", "--as-of", as_of.isoformat(), *ACTOR, "--json")
        )
        return report

    def plan(self, report: dict[str, Any], account: str) -> list[tuple[str, str, str | None]]:
        """(channel, status, suppressed_by) of the account's rows in the run's plan."""
        return [
            (str(c), str(s), b)
            for c, s, b in _query(
                "SELECT channel, status, suppressed_by FROM read_parquet($p)"
                " WHERE account_id = $a ORDER BY channel",
                {"p": report["plan_path"], "a": account},
            )
        ]

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with make_engine(self.settings.resolved_database_url).connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params).all()]

    def waiting(self, account: str, as_of: date) -> int:
        """The account's pending messages and open work items queued by the run of `as_of`."""
        found = self.rows(
            "SELECT (SELECT count(*) FROM outbox WHERE account_id = :a AND as_of = :d"
            " AND status = 'pending') + (SELECT count(*) FROM work_items WHERE account_id = :a"
            " AND as_of = :d AND status = 'open')",
            a=account,
            d=as_of,
        )
        return int(found[0][0])

    def snapshot(self, name: str) -> str:
        return str(snapshot_dir(self.settings.snapshots_dir, D) / f"{name}.parquet")

    def candidates(self) -> list[tuple[str, int]]:
        """Overdue accounts (1–60 days, not charged off, no hold of the bank's own) whose
        customer consents to SMS and calls: (account, arrears in fen), by account."""
        found = _query(
            "SELECT a.account_id, a.arrears_fen FROM read_parquet($accounts) a"
            " JOIN read_parquet($customers) c USING (customer_id)"
            " WHERE a.arrears_fen > 0 AND a.days_past_due BETWEEN 1 AND 60 AND NOT a.charged_off"
            " AND c.consent_sms AND c.consent_call"
            " AND a.account_id NOT IN (SELECT account_id FROM read_parquet($holds))"
            " ORDER BY a.account_id",
            {
                "accounts": self.snapshot("accounts"),
                "customers": self.snapshot("customers"),
                "holds": self.snapshot("holds"),
            },
        )
        assert len(found) >= 4, "the generated portfolio has too few overdue accounts"
        return [(str(a), int(f)) for a, f in found]

    def planned_account(self, report: dict[str, Any], *, taken: Sequence[str] = ()) -> str:
        """A candidate account with rows planned (none suppressed) in the run's plan."""
        for account, _ in self.candidates():
            rows = self.plan(report, account)
            if account not in taken and rows and all(s == "planned" for _, s, _ in rows):
                return account
        raise AssertionError("no overdue account is fully planned")

    def promise(self, account: str, pay_by: date) -> dict[str, Any]:
        shown: dict[str, Any] = _json(
            self.cli("arrangement", "propose", account, "--as-of", D.isoformat(), "--kind", "ptp",
                     "--pay-by", pay_by.isoformat(), "--reason", "客户承诺发薪后还款",
                     "--actor", COLLECTOR, "--json")
        )  # fmt: skip
        return shown

    def show(self, arrangement_id: int) -> dict[str, Any]:
        shown: dict[str, Any] = _json(
            self.cli("arrangement", "show", str(arrangement_id), "--json")
        )
        return shown


@pytest.fixture(scope="module")
def template(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The delivery imported for D, the default strategy active, a collector and a supervisor:
    built once, copied into each test's home."""
    home = tmp_path_factory.mktemp("template") / "home"
    home.mkdir()
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'case.db'}")
    cli = Cli(settings)
    with built_once():
        _ok(cli("import", str(generated), "--as-of", D.isoformat(), "--actor", "etl"))
        _ok(cli("strategy", "activate", str(ROOT / "strategies" / "default.yaml")))
        for user, role in ((COLLECTOR, "collector"), (SUPERVISOR, "supervisor")):
            _ok(cli("user", "add", user, "--role", role, "--actor", "admin"))
    make_engine(settings.resolved_database_url).dispose()
    return settings


@pytest.fixture
def world(
    template: Settings,
    sqlite_cli: Cli,
    sqlite_settings: Settings,
    generated: Path,
    tmp_path: Path,
) -> Iterator[World]:
    """A copy of the template: this test's own case plane (SQLite) and snapshots."""
    shutil.copytree(
        template.home, sqlite_settings.home, dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("case.db*"),
    )  # fmt: skip
    source = template.resolved_database_url.removeprefix("sqlite:///")
    target = sqlite_settings.resolved_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    with built_once():
        yield World(sqlite_cli, sqlite_settings, generated, tmp_path)


def test_a_broken_promise_returns_the_case_to_the_strategy(world: World) -> None:
    baseline = world.run(D)
    account = world.planned_account(baseline)
    queued = world.waiting(account, D)
    assert queued > 0

    promise = world.promise(account, pay_by=on(5))
    assert (promise["status"], promise["decided_by"]) == ("approved", "policy")
    held = world.run(D)
    rows = world.plan(held, account)
    assert rows and all((s, b) == ("suppressed", "hold.arrangement") for _, s, b in rows)
    # What the first run queued for the account is withdrawn by the second.
    reasons = world.rows(
        "SELECT status, status_reason FROM outbox WHERE account_id = :a"
        " UNION ALL SELECT status, status_reason FROM work_items WHERE account_id = :a",
        a=account,
    )
    assert reasons == [("cancelled", f"no longer planned by run {held['run_id']}")] * queued

    # Ten days on, nothing was paid: the promise (due D+5, three days' grace) is broken.
    world.deliver(on(10))
    later = world.run(on(10))
    assert "monitoring" in later
    assert later["monitoring"]["arrangements_activated"] == 1
    assert (later["monitoring"]["broken"], later["monitoring"]["kept"]) == (1, 0)
    shown = world.show(promise["arrangement_id"])
    assert shown["status"] == "broken"
    assert shown["status_reason"] == (
        f"line 1 due {on(5)}: 0.00 paid of {promise['total_due']} (needs 95%) after the grace days"
    )
    (hold,) = world.rows(
        "SELECT end_date, released_at FROM case_holds WHERE account_id = :a", a=account
    )
    assert str(hold[0]) <= on(10).isoformat() and hold[1] is not None
    again = world.plan(later, account)
    assert any(s == "planned" for _, s, _ in again), again
    assert all(b != "hold.arrangement" for _, _, b in again)
    assert world.waiting(account, on(10)) > 0  # tonight's work for it is queued again
    verify = _json(world.cli("audit", "verify", "--json"))
    assert verify["ok"] is True


def test_a_kept_promise_is_closed_and_its_payment_allocated_once(world: World) -> None:
    account, arrears = world.candidates()[0]
    promise = world.promise(account, pay_by=on(7))
    assert promise["total_due"] == format_yuan(arrears)

    paid = math.ceil(arrears * 95 / 100)  # just enough: 95% of the promise
    world.deliver(on(10), [("PKEPT00000001", account, on(3), paid)])
    later = world.run(on(10))
    assert (later["monitoring"]["kept"], later["monitoring"]["broken"]) == (1, 0)
    assert later["monitoring"]["payments_allocated_fen"] == paid
    shown = world.show(promise["arrangement_id"])
    assert (shown["status"], shown["status_reason"]) == ("kept", "every line paid")
    assert (shown["lines"][0]["paid"], shown["lines"][0]["status"]) == (format_yuan(paid), "met")
    allocations = world.rows("SELECT payment_id, line_no, amount_fen FROM payment_allocations")
    assert allocations == [("PKEPT00000001", 1, paid)]
    assert all(b != "hold.arrangement" for _, _, b in world.plan(later, account))

    rerun = world.run(on(10))
    assert rerun["monitoring"]["payments_allocated_fen"] == 0
    assert rerun["monitoring"]["kept"] == 0
    assert world.rows("SELECT sum(amount_fen), count(*) FROM payment_allocations") == [(paid, 1)]


def test_a_hardship_pause_stops_collection_reminds_and_ends_by_itself(
    world: World, tmp_path: Path
) -> None:
    account, _ = world.candidates()[1]
    evidence = tmp_path / "diagnosis.pdf"
    evidence.write_bytes(b"%PDF-1.4 hospital diagnosis")
    applied = _json(
        world.cli("hardship", "apply", account, "--as-of", D.isoformat(), "--reason-code",
                  "illness", "--details", "住院治疗两周", "--days", "10", "--evidence",
                  str(evidence), "--actor", COLLECTOR, "--json")
    )  # fmt: skip
    pause = applied["hardship_id"]
    approved = _json(
        world.cli("hardship", "approve", str(pause), "--today", D.isoformat(), "--reason",
                  "诊断证明齐全", "--actor", SUPERVISOR, "--json")
    )  # fmt: skip
    assert (approved["start_date"], approved["end_date"]) == (on(1).isoformat(), on(10).isoformat())

    first = world.run(D)
    rows = world.plan(first, account)
    assert rows and all((s, b) == ("suppressed", "hold.hardship") for _, s, b in rows)
    assert first["monitoring"]["hardship_started"] == 0  # it starts tomorrow

    # Seven days before its last day the customer is told that reminders will resume.
    world.deliver(on(3))
    reminding = world.run(on(3))
    assert reminding["monitoring"]["hardship_started"] == 1
    assert reminding["monitoring"]["hardship_reminders"] == 1
    assert all(b == "hold.hardship" for _, _, b in world.plan(reminding, account))
    notices = world.rows(
        "SELECT channel, contact_date, status FROM outbox WHERE account_id = :a"
        " AND template = 'notice.hardship.ending'",
        a=account,
    )
    assert [(c, str(d), s) for c, d, s in notices] == [("sms", on(4).isoformat(), "pending")]
    # Keyed by the pause: a second run of the night would find it there and add nothing.
    assert world.rows(
        "SELECT idempotency_key FROM outbox WHERE template = 'notice.hardship.ending'"
    ) == [(reminder_key(pause),)]
    # The reminder is a service notice: the pause's own hold does not stop it.
    _ok(world.cli("outbox", "send", "--now", at_noon(on(4)), "--actor", "ops"))
    assert world.rows(
        "SELECT status FROM outbox WHERE account_id = :a AND template = 'notice.hardship.ending'",
        a=account,
    ) == [("sent",)]
    lines = (world.settings.home / "outbox" / "messages.jsonl").read_text(encoding="utf-8")
    delivered = [json.loads(line) for line in lines.splitlines()]
    assert [(m["account_id"], m["template"]) for m in delivered if m["account_id"] == account] == [
        (account, "notice.hardship.ending")
    ]

    world.deliver(on(11))
    after = world.run(on(11))
    assert after["monitoring"]["hardship_ended"] == 1
    shown = _json(world.cli("hardship", "show", str(pause), "--json"))
    assert (shown["status"], shown["ended_on"], shown["end_reason"]) == (
        "ended",
        on(10).isoformat(),
        "expired",
    )
    again = world.plan(after, account)
    assert any(s == "planned" for _, s, _ in again), again
    assert all(b != "hold.hardship" for _, _, b in again)


def test_holds_placed_after_the_plan_stop_the_mornings_messages(world: World) -> None:
    report = world.run(D)
    pending = world.rows(
        "SELECT DISTINCT account_id FROM outbox WHERE status = 'pending' AND channel = 'sms'"
        " ORDER BY account_id"
    )
    assert len(pending) >= 3
    (disputed,), (promised,) = pending[0], pending[1]
    hold = _json(
        world.cli("hold", "add", disputed, "--type", "dispute", "--from", on(1).isoformat(),
                  "--reason", "客户对账单金额有异议", "--actor", "compliance.he", "--json")
    )  # fmt: skip
    # A promise made this morning holds the account from today too.
    promise = world.promise(promised, pay_by=on(5))
    arrangement_hold = world.rows(
        "SELECT hold_id FROM case_holds WHERE source = 'arrangement' AND source_id = :s",
        s=str(promise["arrangement_id"]),
    )[0][0]

    sent = _json(world.cli("outbox", "send", "--now", at_noon(on(1)), "--actor", "ops", "--json"))
    assert sent["sent"] > 0 and sent["cancelled"] >= 2
    outcome = {
        account: world.rows(
            "SELECT status, status_reason FROM outbox WHERE account_id = :a AND as_of = :d",
            a=account,
            d=D,
        )
        for account in (disputed, promised)
    }
    assert set(outcome[disputed]) == {
        ("cancelled", f"hold {hold['hold_id']} (dispute) placed since the plan stops it")
    }
    assert set(outcome[promised]) == {
        ("cancelled", f"hold {arrangement_hold} (arrangement) placed since the plan stops it")
    }
    # Everyone else's messages went out.
    others = world.rows(
        "SELECT DISTINCT status FROM outbox WHERE account_id NOT IN (:a, :b) AND run_id = :r",
        a=disputed,
        b=promised,
        r=report["run_id"],
    )
    assert ("sent",) in others and ("cancelled",) not in others
