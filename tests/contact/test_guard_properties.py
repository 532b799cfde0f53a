"""Property test of the compliance guard: no planned contact breaks a hard rule, on any portfolio.

Hypothesis draws small portfolios (a few customers with 1–3 accounts each, random grades, days
past due and arrears, customers in China, the US and the UK), random holds of every type around
the as-of date, random consents (True, False, missing) and random contact histories over the last
ten days, for both shipped packs and as-of dates that include Chinese public holidays and daylight
saving changes. The plan is made the real way (Parquet snapshot → one DuckDB statement) and then
checked against `Reference` below: the rules written out again in plain Python from the issue's
wording (not from the packs' YAML, not by calling the guard), with China's holiday periods as the
State Council announced them.

What is checked, for every plan:
- a planned row has no active hard hold, opt-out or missing consent on its channel on its contact
  day; its window lies inside the pack's contact hours in the customer's local time; the caps and
  the cool-down hold counting the history and the plan's own calls; the strategy's cadence holds;
  a vulnerable customer gets only the one specialist contact, never an automated one;
- every suppressed row names its rule, and that rule's condition really holds (no suppression on
  a made-up ground); a cap keeps the highest priorities;
- every row's contact day is the planned day or, for deferred channels on a holiday, the first
  day after it, and a moved row says 'holiday.deferred'.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from huancui.strategy.spec import Strategy
from tests.contact.builders import (
    HARD_HOLD_TYPES,
    HOLD_TYPES,
    Planner,
    Row,
    Snapshot,
    default_strategy,
    every_channel_strategy,
    rules_of,
)

# --- the rules, from the issue ------------------------------------------------------------------


PERSON_HOLD_TYPES = ("deceased", "bankruptcy", "do_not_contact")


@dataclass(frozen=True)
class PackRules:
    default_zone: str
    hours: tuple[time, time]  # lawful local hours [start, end)
    timed: frozenset[str]  # channels the hours apply to
    consent: frozenset[str]  # channels that need the customer's consent
    deferred_on_holidays: frozenset[str]
    cap_scope: str  # "debtor" (customer) or "debt" (account)
    cap_counts: str  # "connected" or "attempts"
    cap_days: int
    cap_max: int
    cap_rule: str
    cooldown_days: int | None
    cooldown_rule: str | None
    parties: frozenset[str]


RULES = {
    # 22:00–08:00 no contact; ≤ 3 connected calls per debtor per day; debtor and guarantor only;
    # public holidays defer calls and visits.
    "cn": PackRules(
        default_zone="Asia/Shanghai",
        hours=(time(8), time(22)),
        timed=frozenset({"sms", "email", "call", "visit"}),
        consent=frozenset({"sms", "email", "call"}),
        deferred_on_holidays=frozenset({"call", "visit"}),
        cap_scope="debtor",
        cap_counts="connected",
        cap_days=1,
        cap_max=3,
        cap_rule="cn.connected_calls_per_debtor_day",
        cooldown_days=None,
        cooldown_rule=None,
        parties=frozenset({"debtor", "guarantor"}),
    ),
    # 08:00–21:00 local; ≤ 7 call attempts per debt in any 7 consecutive days; no call in the 7
    # days after a telephone conversation (its day is day 1); opt-outs.
    "us-reg-f": PackRules(
        default_zone="America/New_York",
        hours=(time(8), time(21)),
        timed=frozenset({"sms", "email", "call", "visit"}),
        consent=frozenset({"sms", "email", "call"}),
        deferred_on_holidays=frozenset(),
        cap_scope="debt",
        cap_counts="attempts",
        cap_days=7,
        cap_max=7,
        cap_rule="us.call_attempts_per_debt_7d",
        cooldown_days=7,
        cooldown_rule="us.no_call_after_conversation_7d",
        parties=frozenset({"debtor"}),
    ),
}
SPECIALIST_QUEUE = "specialist_care"
AUTOMATED = frozenset({"sms", "email"})


def _days(first: str, last: str) -> set[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return {start + timedelta(days=n) for n in range((end - start).days + 1)}


# China's public holiday periods (国务院办公厅 notices for 2025 and 2026), weekends inside included.
CN_HOLIDAYS: set[date] = set().union(
    *(
        _days(a, b)
        for a, b in (
            ("2025-10-01", "2025-10-08"),  # National Day and Mid-Autumn
            ("2026-01-01", "2026-01-03"),  # New Year (Sunday 4 January is a working day)
            ("2026-02-15", "2026-02-23"),  # Spring Festival
            ("2026-04-04", "2026-04-06"),  # Qingming
            ("2026-05-01", "2026-05-05"),  # Labour Day
            ("2026-06-19", "2026-06-21"),  # Dragon Boat
            ("2026-09-25", "2026-09-27"),  # Mid-Autumn
            ("2026-10-01", "2026-10-07"),  # National Day
        )
    )
)

ZONES = (
    "Asia/Shanghai",
    "Asia/Urumqi",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    None,  # unknown: the pack's default zone
)
# Planned days (as_of + 1) worth trying: holidays, the days around them, DST changes.
INTERESTING_DAYS = tuple(
    date.fromisoformat(d)
    for d in (
        "2025-10-01",
        "2025-10-08",
        "2026-01-01",
        "2026-01-04",
        "2026-02-15",
        "2026-02-21",
        "2026-02-24",
        "2026-03-08",  # US clocks forward
        "2026-03-09",
        "2026-03-29",  # UK clocks forward
        "2026-04-04",
        "2026-05-03",
        "2026-06-19",
        "2026-09-25",
        "2026-10-01",
        "2026-10-04",
        "2026-10-07",
        "2026-10-08",
        "2026-10-25",  # UK clocks back
        "2026-11-01",  # US clocks back
        "2026-11-02",
    )
)


# --- the reference ------------------------------------------------------------------------------


def active(hold: Row, day: date) -> bool:
    end: date | None = hold["end_date"]
    return bool(hold["start_date"] <= day and (end is None or day <= end))


class Reference:
    """The snapshot's facts, indexed, and the rules' questions about them."""

    def __init__(self, snap: Snapshot, pack: str, as_of: date) -> None:
        self.rules = RULES[pack]
        self.planned_day = as_of + timedelta(days=1)
        self.customer_of = {a["account_id"]: a["customer_id"] for a in snap.accounts}
        self.customers = {c["customer_id"]: c for c in snap.customers}
        self.holds: dict[str, list[Row]] = defaultdict(list)
        for h in snap.holds:
            self.holds[h["account_id"]].append(h)
        # (account, channel, local day, connected, conversation) in the customer's zone
        self.history: list[tuple[str, str, date, bool, bool]] = []
        for k in snap.contacts:
            if k["account_id"] not in self.customer_of:
                continue
            zone = ZoneInfo(self.zone_of(self.customer_of[k["account_id"]]))
            local_day = k["contacted_at"].astimezone(zone).date()
            connected = bool(k["connected"])
            self.history.append(
                (
                    k["account_id"],
                    k["channel"],
                    local_day,
                    connected,
                    connected and k["right_party"],
                )
            )

    def zone_of(self, customer_id: str) -> str:
        customer = self.customers.get(customer_id)
        zone: str | None = customer["timezone"] if customer else None
        return zone or self.rules.default_zone

    def contact_day(self, channel: str) -> date:
        day = self.planned_day
        if channel in self.rules.deferred_on_holidays:
            while day in CN_HOLIDAYS:
                day += timedelta(days=1)
        return day

    def active_holds(self, account_id: str, day: date, kinds: tuple[str, ...]) -> set[str]:
        """Holds on this debt, and the person's holds (deceased, bankruptcy, do-not-contact) on
        any account of the same customer."""
        owner = self.customer_of.get(account_id)
        siblings = [a for a, c in self.customer_of.items() if c == owner and a != account_id]
        found = {
            h["hold_type"]
            for h in self.holds[account_id]
            if h["hold_type"] in kinds and active(h, day)
        }
        found |= {
            h["hold_type"]
            for sibling in siblings
            for h in self.holds[sibling]
            if h["hold_type"] in kinds and h["hold_type"] in PERSON_HOLD_TYPES and active(h, day)
        }
        return found

    def opted_out(self, account_id: str, channel: str, day: date) -> bool:
        return any(
            h["hold_type"] == "channel_opt_out" and h["channel"] == channel and active(h, day)
            for h in self.holds[account_id]
        )

    def consented(self, customer_id: str, channel: str) -> bool:
        if channel not in self.rules.consent:
            return True
        customer = self.customers.get(customer_id)
        return customer is not None and customer[f"consent_{channel}"] is True

    def vulnerable(self, customer_id: str) -> bool:
        return any(
            h["hold_type"] == "vulnerable" and active(h, self.planned_day)
            for account_id, owner in self.customer_of.items()
            if owner == customer_id
            for h in self.holds[account_id]
        )

    def lawful_bounds(self, channel: str, day: date, zone: str) -> tuple[datetime, datetime]:
        tz = ZoneInfo(zone)
        start, end = (time(0), None) if channel not in self.rules.timed else self.rules.hours
        lower = datetime.combine(day, start, tzinfo=tz)
        upper = (
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
            if end is None
            else datetime.combine(day, end, tzinfo=tz)
        )
        return lower, upper

    def calls_in_history(self, row: Row, first: date, last: date, *, what: str) -> int:
        """Calls of the row's scope with local day in [first, last]: attempts, connected or
        conversations."""
        if self.rules.cap_scope == "debtor" and what != "conversation":
            accounts = {a for a, c in self.customer_of.items() if c == row["customer_id"]}
        else:
            accounts = {row["account_id"]}
        index = {"attempts": None, "connected": 3, "conversation": 4}[what]
        return sum(
            1
            for h in self.history
            if h[0] in accounts
            and h[1] == "call"
            and first <= h[2] <= last
            and (index is None or h[index])
        )

    def touched_within(self, row: Row, cadence_days: int) -> bool:
        day = row["contact_date"]
        return any(
            h[0] == row["account_id"]
            and h[1] == row["channel"]
            and day - timedelta(days=cadence_days) < h[2] <= day
            for h in self.history
        )


# --- the checks ---------------------------------------------------------------------------------


def check_plan(ref: Reference, rows: list[Row]) -> None:
    rules = ref.rules
    planned = [r for r in rows if r["status"] == "planned"]
    for row in rows:
        where = f"{row['account_id']}/{row['channel']}/{row['queue']}: {row}"
        assert row["status"] in ("planned", "suppressed"), where
        assert row["party"] in rules.parties, where
        assert row["planned_date"] == ref.planned_day, where
        if row["channel"] is None:
            continue
        assert row["contact_date"] == ref.contact_day(row["channel"]), where
        if row["contact_date"] != row["planned_date"]:
            assert "holiday.deferred" in rules_of(row), where
        if row["status"] == "suppressed":
            assert row["suppressed_by"], where
            assert row["suppressed_by"] in rules_of(row), where
            check_suppression_grounded(ref, row, planned, where)
        else:
            assert row["suppressed_by"] is None, where
            check_planned_row(ref, row, where)
    check_quotas(ref, planned)
    check_vulnerable(ref, rows)
    keys = Counter(r["idempotency_key"] for r in planned)
    assert all(n == 1 for n in keys.values()), keys


def check_planned_row(ref: Reference, row: Row, where: str) -> None:
    account, customer, channel = row["account_id"], row["customer_id"], row["channel"]
    day: date = row["contact_date"]
    assert not ref.active_holds(account, day, HARD_HOLD_TYPES), where
    assert not ref.opted_out(account, channel, day), where
    assert ref.consented(customer, channel), where
    if ref.vulnerable(customer):
        assert row["queue"] == SPECIALIST_QUEUE and channel not in AUTOMATED, where
    assert not ref.touched_within(row, row["cadence_days"]), where

    # The window, read back as instants, inside the lawful hours of the customer's local day.
    zone = ref.zone_of(customer)
    assert row["timezone"] == zone, where
    assert row["window_start"] and row["window_end"], where
    start = datetime.fromisoformat(row["window_start"])
    end = datetime.fromisoformat(row["window_end"])
    assert start < end, where
    lower, upper = ref.lawful_bounds(channel, day, zone)
    assert lower <= start and end <= upper, where
    tz = ZoneInfo(zone)
    assert start.utcoffset() == start.astimezone(tz).utcoffset(), f"offset not local: {where}"
    assert end.utcoffset() == end.astimezone(tz).utcoffset(), f"offset not local: {where}"

    rules = ref.rules
    if channel == "call" and rules.cooldown_days is not None:
        first = day - timedelta(days=rules.cooldown_days - 1)
        assert ref.calls_in_history(row, first, day, what="conversation") == 0, where


def check_quotas(ref: Reference, planned: list[Row]) -> None:
    """History plus the plan's own calls stay within the cap, per scope and contact day."""
    rules = ref.rules
    key = "customer_id" if rules.cap_scope == "debtor" else "account_id"
    calls: dict[tuple[str, date], list[Row]] = defaultdict(list)
    for row in planned:
        if row["channel"] == "call":
            calls[(row[key], row["contact_date"])].append(row)
    for (_, day), group in calls.items():
        first = day - timedelta(days=rules.cap_days - 1)
        used = ref.calls_in_history(group[0], first, day, what=rules.cap_counts)
        assert used + len(group) <= rules.cap_max, (used, group)


def check_vulnerable(ref: Reference, rows: list[Row]) -> None:
    """One specialist contact per vulnerable customer with any action; none for the others."""
    wanted = {r["customer_id"] for r in rows if r["channel"] is not None}
    specialist = Counter(r["customer_id"] for r in rows if r["queue"] == SPECIALIST_QUEUE)
    for customer in wanted:
        expected = 1 if ref.vulnerable(customer) else 0
        assert specialist[customer] == expected, (
            customer,
            [r for r in rows if r["customer_id"] == customer],
        )


def check_suppression_grounded(ref: Reference, row: Row, planned: list[Row], where: str) -> None:
    """The rule that suppressed the row really applies to it."""
    rule: str = row["suppressed_by"]
    account, customer, channel = row["account_id"], row["customer_id"], row["channel"]
    day: date = row["contact_date"]
    rules = ref.rules
    if rule.startswith("hold.") and rule != "hold.channel_opt_out":
        assert rule.removeprefix("hold.") in ref.active_holds(account, day, HARD_HOLD_TYPES), where
    elif rule == "hold.channel_opt_out":
        assert ref.opted_out(account, channel, day), where
    elif rule == "consent.missing":
        assert not ref.consented(customer, channel), where
    elif rule == "vulnerable.specialist_queue":
        assert ref.vulnerable(customer) and row["queue"] != SPECIALIST_QUEUE, where
    elif rule == "strategy.cadence":
        assert ref.touched_within(row, row["cadence_days"]), where
    elif rule == rules.cooldown_rule:
        assert rules.cooldown_days is not None
        first = day - timedelta(days=rules.cooldown_days - 1)
        assert ref.calls_in_history(row, first, day, what="conversation") > 0, where
    elif rule == rules.cap_rule:
        key = "customer_id" if rules.cap_scope == "debtor" else "account_id"
        kept = [
            r
            for r in planned
            if r["channel"] == "call" and r[key] == row[key] and r["contact_date"] == day
        ]
        first = day - timedelta(days=rules.cap_days - 1)
        used = ref.calls_in_history(row, first, day, what=rules.cap_counts)
        assert used + len(kept) >= rules.cap_max, where
        # The highest priorities are kept.
        assert all((r["priority"] or 0) >= (row["priority"] or 0) for r in kept), where
    elif rule == "hours.no_lawful_window":
        assert row["window_start"] is None, where
    else:
        raise AssertionError(f"unknown rule {rule}: {where}")


# --- the portfolios -----------------------------------------------------------------------------

STRATEGIES: dict[str, Strategy] = {
    "every_channel": every_channel_strategy(),
    # A three-day cadence and a bank calling 07:00–22:00 New York time.
    "every_channel_ny_bank": every_channel_strategy(
        {
            "cadence_days: 1": "cadence_days: 3",
            "priority: arrears_fen": (
                "priority: arrears_fen\n"
                "operating_hours:\n"
                "  timezone: America/New_York\n"
                '  call: {start: "07:00", end: "22:00"}\n'
                '  sms: {start: "10:00", end: "20:00"}'
            ),
        }
    ),
    "default": default_strategy(),
}


@dataclass
class Case:
    pack: str
    as_of: date
    strategy: str
    snapshot: Snapshot


@st.composite
def cases(draw: st.DrawFn) -> Case:
    pack = draw(st.sampled_from(sorted(RULES)))
    planned_day = draw(
        st.one_of(
            st.sampled_from(INTERESTING_DAYS),
            st.dates(min_value=date(2025, 10, 1), max_value=date(2026, 12, 20)),
        )
    )
    as_of = planned_day - timedelta(days=1)
    snap = Snapshot()
    consent = st.sampled_from([True] * 6 + [False, None])
    accounts: dict[str, str] = {}  # account → its customer's zone (for the history's local days)
    for c in range(draw(st.integers(1, 3))):
        customer_id = f"C{c}"
        zone = draw(st.sampled_from(ZONES))
        snap.customer(
            customer_id,
            timezone=zone,
            consent_sms=draw(consent),
            consent_email=draw(consent),
            consent_call=draw(consent),
        )
        for n in range(draw(st.integers(1, 3))):
            account_id = f"A{c}{n}"
            accounts[account_id] = zone or RULES[pack].default_zone
            snap.account(
                account_id,
                customer_id,
                as_of=as_of,
                credit_grade=draw(st.sampled_from("ABCDE")),
                days_past_due=draw(st.sampled_from([0, 1, 5, 15, 16, 25, 31, 60, 95, 120])),
                arrears_fen=draw(st.integers(1, 50)) * 10_000,
                cycles_delinquent=draw(st.integers(1, 4)),
            )
    for account_id in sorted(accounts):
        # About every other account has a hold, of any type, starting on or before the as-of day
        # (the data contract) or, for a hard hold, up to ten days later (a deferred contact day).
        kind = draw(st.one_of(st.none(), st.sampled_from(HOLD_TYPES)))
        if kind is not None:
            latest = 0 if kind == "vulnerable" else 10
            start = as_of + timedelta(days=draw(st.integers(-20, latest)))
            length = draw(st.sampled_from([None, 0, 1, 2, 5, 10, 20]))
            snap.hold(
                account_id,
                kind,
                start=start,
                end=None if length is None else start + timedelta(days=length),
                channel=draw(st.sampled_from(["sms", "email", "call", "visit", "letter"]))
                if kind == "channel_opt_out"
                else None,
            )
        # Its contact history in bursts (several contacts in one sitting make the caps bite), at
        # a local time of the customer, over the ten days before the planned day and on it.
        for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
            channel = draw(st.sampled_from(["call", "call", "call", "sms", "email", "visit"]))
            back = draw(st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 9]))
            minute = draw(st.integers(0, 24 * 60 - 1))
            local = datetime.combine(
                planned_day - timedelta(days=back),
                time(minute // 60, minute % 60),
                tzinfo=ZoneInfo(accounts[account_id]),
            )
            answered = draw(st.sampled_from(["none", "some", "all"]))
            for i in range(draw(st.sampled_from([1, 2, 3, 4, 7, 8]))):
                connected = answered == "all" or (answered == "some" and draw(st.booleans()))
                snap.contact(
                    account_id,
                    local + timedelta(minutes=3 * i),
                    channel=channel,
                    connected=connected,
                    right_party=connected and draw(st.booleans()),
                )
    strategy = draw(st.sampled_from(["every_channel", "every_channel", *sorted(STRATEGIES)]))
    return Case(pack, as_of, strategy, snap)


# 60 examples run in well under a minute; HUANCUI_GUARD_EXAMPLES=2000 hunts longer.
@settings(
    max_examples=int(os.environ.get("HUANCUI_GUARD_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
def test_no_planned_contact_breaks_a_hard_rule(case: Case) -> None:
    strategy = STRATEGIES[case.strategy]
    planner = Planner()
    with tempfile.TemporaryDirectory() as folder:
        rows = planner.plan(
            case.snapshot, Path(folder), pack=case.pack, as_of=case.as_of, strategy=strategy
        )
        # A snapshot whose holds and contacts do not name their customers (written before
        # the import added them): the guard looks the owners up in the accounts instead.
        looked_up = planner.plan(
            case.snapshot,
            Path(folder) / "without-owners",
            pack=case.pack,
            as_of=case.as_of,
            strategy=strategy,
            owners=False,
        )
    assert looked_up == rows
    check_plan(Reference(case.snapshot, case.pack, case.as_of), rows)
    # What the example exercised (pytest --hypothesis-show-statistics).
    for rule in sorted({rule for r in rows for rule in rules_of(r)}):
        event(f"rule {rule}")
    event(f"planned rows: {min(sum(r['status'] == 'planned' for r in rows), 5)}+")


def test_the_reference_calendar_matches_the_notices() -> None:
    """The reference's own holiday list, spot-checked: weekends inside a holiday are holidays,
    weekend working days (调休) are not."""
    assert date(2026, 10, 4) in CN_HOLIDAYS  # Sunday inside National Day
    assert date(2026, 10, 10) not in CN_HOLIDAYS  # Saturday working day
    assert date(2026, 2, 14) not in CN_HOLIDAYS and date(2026, 2, 28) not in CN_HOLIDAYS
    assert date(2026, 1, 4) not in CN_HOLIDAYS
    assert len(_days("2026-02-15", "2026-02-23")) == 9
