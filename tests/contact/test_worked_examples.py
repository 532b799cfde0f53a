"""Worked examples of the compliance guard: one scenario per rule, on real Parquet and DuckDB.

Each test builds a small snapshot (tests/contact/builders.py), plans the night of `as_of` (actions
for the next day) with a compliance pack, and reads the plan. Unless a test says otherwise the
strategy gives every delinquent account a call, an SMS, an e-mail, a visit and a letter, with the
bank working around the clock, so what changes is the guard's doing.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.contact.builders import (
    HARD_HOLD_TYPES,
    Snapshot,
    default_strategy,
    one,
    plan,
    rows_for,
    rules_of,
)

AS_OF = date(2026, 11, 27)  # a Friday; the plan is for Saturday 2026-11-28
DAY = AS_OF + timedelta(days=1)


def statuses(rows: list[dict[str, object]], account_id: str) -> dict[object, object]:
    return {r["channel"]: r["status"] for r in rows_for(rows, account_id)}


# --- cn: contact hours in the customer's local time ------------------------------------------


def test_cn_windows_follow_the_customers_zone_urumqi(tmp_path: Path) -> None:
    """cn: no contact 22:00–08:00 in the customer's local time.

    The default strategy calls 09:00–21:00 and texts 09:00–20:00 in the bank's zone (Beijing
    time). A customer in Xinjiang who keeps Asia/Urumqi (UTC+6) is at 07:00 when the bank opens,
    so the lawful window starts at 08:00+06:00 (10:00 in Beijing) and the row says the pack
    narrowed it. A Beijing customer keeps the bank's hours unchanged.
    """
    snap = Snapshot()
    snap.customer("C1", timezone="Asia/Urumqi")
    snap.customer("C2", timezone="Asia/Shanghai")
    # Grade C, 20 days past due: the default strategy's standard × contact cell, [call, sms].
    snap.account("A1", "C1", credit_grade="C", days_past_due=20)
    snap.account("A2", "C2", credit_grade="C", days_past_due=20)

    rows = plan(snap, tmp_path, pack="cn", as_of=AS_OF, strategy=default_strategy())

    call = one(rows, "A1", "call")
    assert call["status"] == "planned"
    assert call["timezone"] == "Asia/Urumqi"
    assert (call["window_start"], call["window_end"]) == (
        "2026-11-28T08:00:00+06:00",
        "2026-11-28T19:00:00+06:00",  # the bank's 21:00 in Beijing
    )
    assert rules_of(call) == ["hours.narrowed"]
    sms = one(rows, "A1", "sms")
    assert (sms["window_start"], sms["window_end"]) == (
        "2026-11-28T08:00:00+06:00",
        "2026-11-28T18:00:00+06:00",
    )

    beijing = one(rows, "A2", "call")
    assert (beijing["window_start"], beijing["window_end"]) == (
        "2026-11-28T09:00:00+08:00",
        "2026-11-28T21:00:00+08:00",
    )
    assert beijing["rules"] is None


# --- cn: at most 3 connected calls per debtor per day ----------------------------------------


def test_cn_calls_capped_at_three_per_debtor_highest_priority_kept(tmp_path: Path) -> None:
    """cn: at most 3 connected calls per debtor per day, across all of the debtor's accounts.

    One customer, four delinquent accounts: four calls wanted. The three with the highest
    priority (here: arrears) are kept, the fourth is suppressed naming the cap; SMS is not capped.
    """
    snap = Snapshot()
    snap.customer("C1")
    for account_id, arrears in (("A1", 200_000), ("A2", 400_000), ("A3", 100_000), ("A4", 300_000)):
        snap.account(account_id, "C1", arrears_fen=arrears)

    rows = plan(snap, tmp_path, pack="cn", as_of=AS_OF)

    calls = {r["account_id"]: r for r in rows if r["channel"] == "call"}
    assert {a for a, r in calls.items() if r["status"] == "planned"} == {"A1", "A2", "A4"}
    assert calls["A3"]["suppressed_by"] == "cn.connected_calls_per_debtor_day"
    assert "cn.connected_calls_per_debtor_day" in rules_of(calls["A3"])
    assert one(rows, "A3", "sms")["status"] == "planned"


def test_cn_cap_counts_connected_calls_already_made_that_local_day(tmp_path: Path) -> None:
    """cn: calls already connected on the contact day (bank or agency, any of the debtor's
    accounts) use the quota; unanswered attempts and yesterday's calls do not.

    The contact day is 2026-11-28 in Beijing. Already in the history that day: one connected
    call at 00:30 Beijing time (still 27 November in UTC, so counting UTC days would miss it) on
    the debtor's current account, and two unanswered attempts. A connected call at 23:30 on the
    27th is another day. So two of the four wanted calls remain, the two highest priorities.
    """
    snap = Snapshot()
    snap.customer("C1", timezone="Asia/Shanghai")
    snap.account("A0", "C1", days_past_due=0)  # current: no action of its own, but its calls count
    for account_id, arrears in (("A1", 200_000), ("A2", 400_000), ("A3", 100_000), ("A4", 300_000)):
        snap.account(account_id, "C1", arrears_fen=arrears)
    snap.call("A0", "2026-11-28T00:30:00+08:00", connected=True, right_party=True)
    snap.call("A0", "2026-11-28T01:00:00+08:00", connected=False)
    snap.call("A0", "2026-11-28T01:10:00+08:00", connected=False)
    snap.call("A0", "2026-11-27T23:30:00+08:00", connected=True, right_party=True)

    rows = plan(snap, tmp_path, pack="cn", as_of=AS_OF)

    calls = {r["account_id"]: r for r in rows if r["channel"] == "call"}
    assert set(calls) == {"A1", "A2", "A3", "A4"}
    assert {a for a, r in calls.items() if r["status"] == "planned"} == {"A2", "A4"}
    for account_id in ("A1", "A3"):
        assert calls[account_id]["suppressed_by"] == "cn.connected_calls_per_debtor_day"


def test_cn_cap_is_per_debtor_not_per_bank_customer_pair(tmp_path: Path) -> None:
    """cn: the cap is the debtor's; another debtor's calls that day do not use it."""
    snap = Snapshot()
    snap.customer("C1")
    snap.customer("C2")
    snap.account("A1", "C1")
    snap.account("B0", "C2", days_past_due=0)
    snap.account("B1", "C2")
    for hour in (9, 10, 11):
        snap.call("B0", f"2026-11-28T{hour:02d}:00:00+08:00", connected=True, right_party=True)

    rows = plan(snap, tmp_path, pack="cn", as_of=AS_OF)

    assert one(rows, "A1", "call")["status"] == "planned"
    assert one(rows, "B1", "call")["suppressed_by"] == "cn.connected_calls_per_debtor_day"


# --- cn: public holidays ---------------------------------------------------------------------


def test_cn_national_day_defers_calls_and_visits_sms_stays(tmp_path: Path) -> None:
    """cn: public holidays defer calls and visits to the first day after the holiday.

    The National Day holiday of 2026 runs 1–7 October (State Council notice; 10 October, a
    Saturday, is a working day). A call and a visit meant for 1 October go to Thursday
    8 October with 'holiday.deferred'; the SMS, e-mail and letter stay on 1 October. Note that
    4 October, a Sunday inside the holiday, is not a day to defer to.
    """
    snap = Snapshot()
    snap.customer("C1")
    snap.account("A1", "C1", as_of=date(2026, 9, 30))

    rows = plan(snap, tmp_path, pack="cn", as_of=date(2026, 9, 30))

    for channel in ("call", "visit"):
        row = one(rows, "A1", channel)
        assert row["planned_date"] == date(2026, 10, 1)
        assert row["contact_date"] == date(2026, 10, 8), channel
        assert row["status"] == "planned"
        assert "holiday.deferred" in rules_of(row)
        assert row["window_start"] == "2026-10-08T08:00:00+08:00"
    for channel in ("sms", "email", "letter"):
        row = one(rows, "A1", channel)
        assert row["contact_date"] == date(2026, 10, 1), channel
        assert "holiday.deferred" not in rules_of(row)
        assert row["window_start"].startswith("2026-10-01T")


@pytest.mark.parametrize(
    ("as_of", "contact_day"),
    [
        # Spring Festival 2026: 15–23 February, weekends inside it included.
        (date(2026, 2, 14), date(2026, 2, 24)),
        (date(2026, 2, 20), date(2026, 2, 24)),  # Saturday 21 February, inside the holiday
        # Labour Day 2026: 1–5 May; Sunday 3 May is inside it.
        (date(2026, 5, 2), date(2026, 5, 6)),
        # Mid-Autumn 2026: 25–27 September (Friday to Sunday).
        (date(2026, 9, 24), date(2026, 9, 28)),
        # New Year 2026: 1–3 January; Sunday 4 January is a working day.
        (date(2025, 12, 31), date(2026, 1, 4)),
        # An ordinary Saturday is no holiday.
        (date(2026, 11, 27), date(2026, 11, 28)),
    ],
)
def test_cn_holiday_periods_include_their_weekends(
    tmp_path: Path, as_of: date, contact_day: date
) -> None:
    """cn: a holiday period as the State Council announces it, weekends inside it included."""
    snap = Snapshot()
    snap.customer("C1")
    snap.account("A1", "C1", as_of=as_of)

    rows = plan(snap, tmp_path, pack="cn", as_of=as_of)

    assert one(rows, "A1", "call")["contact_date"] == contact_day
    assert one(rows, "A1", "sms")["contact_date"] == as_of + timedelta(days=1)


# --- us-reg-f: 7 calls in 7 days, and the cool-down after a conversation --------------------

NEW_YORK = "America/New_York"


def _us_debtor(snap: Snapshot) -> None:
    snap.customer("C1", timezone=NEW_YORK)
    snap.account("A1", "C1")


def test_us_seven_calls_on_seven_consecutive_days_next_day_allowed(tmp_path: Path) -> None:
    """Reg F 1006.14(b)(2)(i), the rolling window: one attempt a day on 21–27 November is seven
    in seven days, but the seven days ending on the 28th hold only six of them (22–27), so a
    call on the 28th is allowed."""
    snap = Snapshot()
    _us_debtor(snap)
    for day in range(21, 28):
        snap.call("A1", f"2026-11-{day}T10:00:00-05:00")

    rows = plan(snap, tmp_path, pack="us-reg-f", as_of=AS_OF)

    assert one(rows, "A1", "call")["status"] == "planned"


def test_us_six_in_the_window_and_one_more_is_the_limit(tmp_path: Path) -> None:
    """Reg F: attempts on 22–27 November and a second one on the 22nd: seven in the seven days
    ending on the 28th, so no call on the 28th; the rule is named."""
    snap = Snapshot()
    _us_debtor(snap)
    for day in range(22, 28):
        snap.call("A1", f"2026-11-{day}T10:00:00-05:00")
    snap.call("A1", "2026-11-22T15:00:00-05:00")

    rows = plan(snap, tmp_path, pack="us-reg-f", as_of=AS_OF)

    call = one(rows, "A1", "call")
    assert call["suppressed_by"] == "us.call_attempts_per_debt_7d"
    assert one(rows, "A1", "sms")["status"] == "planned"


@pytest.mark.parametrize("day_after", range(1, 8))
def test_us_seven_calls_on_one_day_block_the_next_six(tmp_path: Path, day_after: int) -> None:
    """Reg F: seven attempts on 20 November use the whole quota of every seven-day window that
    contains the 20th: no call on the 21st–26th; on the 27th the window no longer has it."""
    first = date(2026, 11, 20)
    snap = Snapshot()
    _us_debtor(snap)
    for hour in range(9, 16):
        snap.call("A1", f"2026-11-20T{hour:02d}:00:00-05:00")

    contact_day = first + timedelta(days=day_after)
    rows = plan(snap, tmp_path, pack="us-reg-f", as_of=contact_day - timedelta(days=1))

    call = one(rows, "A1", "call")
    assert call["contact_date"] == contact_day
    if day_after <= 6:
        assert call["suppressed_by"] == "us.call_attempts_per_debt_7d"
    else:
        assert call["status"] == "planned"


@pytest.mark.parametrize("day_number", range(2, 9))
def test_us_no_call_within_seven_days_of_a_conversation(tmp_path: Path, day_number: int) -> None:
    """Reg F 1006.14(b)(2)(ii): a telephone conversation on 20 November is day 1; no call on
    days 2–7 (21–26 November), a call is allowed again on day 8 (the 27th)."""
    conversation = date(2026, 11, 20)
    snap = Snapshot()
    _us_debtor(snap)
    snap.call("A1", "2026-11-20T19:30:00-05:00", connected=True, right_party=True)

    contact_day = conversation + timedelta(days=day_number - 1)
    rows = plan(snap, tmp_path, pack="us-reg-f", as_of=contact_day - timedelta(days=1))

    call = one(rows, "A1", "call")
    if day_number <= 7:
        assert call["suppressed_by"] == "us.no_call_after_conversation_7d"
        assert one(rows, "A1", "sms")["status"] == "planned"  # only calls cool down
    else:
        assert call["status"] == "planned"


def test_us_conversation_day_is_the_consumers_local_day(tmp_path: Path) -> None:
    """Reg F counts days where the consumer is: a conversation at 23:30 on 20 November in Los
    Angeles is 21 November in UTC and in New York, but day 1 is the 20th, so the 27th is day 8."""
    snap = Snapshot()
    snap.customer("C1", timezone="America/Los_Angeles")
    snap.account("A1", "C1")
    snap.call("A1", "2026-11-20T23:30:00-08:00", connected=True, right_party=True)

    rows = plan(snap, tmp_path, pack="us-reg-f", as_of=date(2026, 11, 26))

    assert one(rows, "A1", "call")["status"] == "planned"


def test_us_wrong_party_connection_is_no_conversation(tmp_path: Path) -> None:
    """The cool-down follows a conversation with the consumer: a call answered by someone else
    (connected, not the right party) starts none, though it counts as an attempt."""
    snap = Snapshot()
    _us_debtor(snap)
    snap.call("A1", "2026-11-25T10:00:00-05:00", connected=True, right_party=False)

    rows = plan(snap, tmp_path, pack="us-reg-f", as_of=AS_OF)

    assert one(rows, "A1", "call")["status"] == "planned"


@pytest.mark.parametrize(
    ("as_of", "offset"),
    [
        (date(2026, 3, 7), "-04:00"),  # 8 March 2026: clocks go forward at 02:00
        (date(2026, 10, 31), "-05:00"),  # 1 November 2026: clocks go back at 02:00
    ],
)
def test_us_hours_on_daylight_saving_change_days(tmp_path: Path, as_of: date, offset: str) -> None:
    """Reg F: 08:00–21:00 at the consumer's location, on the day's own offset."""
    snap = Snapshot()
    _us_debtor(snap)

    rows = plan(snap, tmp_path, pack="us-reg-f", as_of=as_of)

    call = one(rows, "A1", "call")
    day = (as_of + timedelta(days=1)).isoformat()
    assert (call["window_start"], call["window_end"]) == (
        f"{day}T08:00:00{offset}",
        f"{day}T21:00:00{offset}",
    )


# --- us-reg-f: opt-out per channel -----------------------------------------------------------


@pytest.mark.parametrize("channel", ["call", "sms", "email", "visit", "letter"])
def test_us_opt_out_stops_that_channel_only(tmp_path: Path, channel: str) -> None:
    """Reg F 1006.6(d)(3), 1006.14(h): a consumer who opts out of a medium is not contacted
    through it; the other channels go on. An opt-out that ended yesterday no longer applies."""
    snap = Snapshot()
    _us_debtor(snap)
    snap.account("A2", "C1")
    snap.hold("A1", "channel_opt_out", channel=channel, start=date(2026, 6, 1))
    snap.hold("A2", "channel_opt_out", channel=channel, start=date(2026, 6, 1), end=AS_OF)

    rows = plan(snap, tmp_path, pack="us-reg-f", as_of=AS_OF)

    stopped = one(rows, "A1", channel)
    assert stopped["status"] == "suppressed"
    assert stopped["suppressed_by"] == "hold.channel_opt_out"
    others = {c: s for c, s in statuses(rows, "A1").items() if c != channel}
    assert set(others.values()) == {"planned"}
    assert set(statuses(rows, "A2").values()) == {"planned"}


# --- every pack: hard holds, consent, vulnerability -----------------------------------------


@pytest.mark.parametrize("pack", ["cn", "us-reg-f"])
@pytest.mark.parametrize("hold_type", HARD_HOLD_TYPES)
def test_hard_hold_suppresses_every_channel_with_its_rule(
    tmp_path: Path, pack: str, hold_type: str
) -> None:
    """Every pack: hardship (缓催), dispute, legal, bankruptcy, deceased and do-not-contact stop
    every channel of the account, each naming its own rule. The customer's other account goes on
    when the hold is about this debt (hardship, dispute, legal) and stops too when it is about the
    person (deceased, bankruptcy, do-not-contact)."""
    snap = Snapshot()
    snap.customer("C1", timezone="Asia/Shanghai" if pack == "cn" else NEW_YORK)
    snap.account("A1", "C1")
    snap.account("A2", "C1")
    snap.hold("A1", hold_type, start=date(2026, 11, 1))

    rows = plan(snap, tmp_path, pack=pack, as_of=AS_OF)

    held = rows_for(rows, "A1")
    assert {r["channel"] for r in held} == {"call", "sms", "email", "visit", "letter"}
    for row in held:
        assert row["status"] == "suppressed"
        assert row["suppressed_by"] == f"hold.{hold_type}"
        assert f"hold.{hold_type}" in rules_of(row)
    other = "suppressed" if hold_type in ("deceased", "bankruptcy", "do_not_contact") else "planned"
    assert set(statuses(rows, "A2").values()) == {other}


def test_hardship_pause_ends_by_itself(tmp_path: Path) -> None:
    """缓催: a hardship hold pauses collection until its end date, inclusive; the day after, the
    account is worked again without anyone lifting the hold."""
    snap = Snapshot()
    snap.customer("C1")
    snap.account("A1", "C1")  # hold ended on the as-of day
    snap.account("A2", "C1")  # hold ends on the contact day
    snap.account("A3", "C1")  # open-ended hold
    snap.hold("A1", "hardship", start=date(2026, 10, 1), end=AS_OF)
    snap.hold("A2", "hardship", start=date(2026, 10, 1), end=DAY)
    snap.hold("A3", "hardship", start=date(2026, 10, 1))

    rows = plan(snap, tmp_path, pack="cn", as_of=AS_OF)

    assert set(statuses(rows, "A1").values()) == {"planned"}
    assert {r["suppressed_by"] for r in rows_for(rows, "A2")} == {"hold.hardship"}
    assert {r["suppressed_by"] for r in rows_for(rows, "A3")} == {"hold.hardship"}


def test_hold_starting_after_the_contact_day_does_not_apply_yet(tmp_path: Path) -> None:
    snap = Snapshot()
    snap.customer("C1")
    snap.account("A1", "C1")
    snap.hold("A1", "dispute", start=DAY + timedelta(days=1))

    rows = plan(snap, tmp_path, pack="cn", as_of=AS_OF)

    assert set(statuses(rows, "A1").values()) == {"planned"}


def test_hold_on_a_deferred_contact_day_applies(tmp_path: Path) -> None:
    """cn: a call deferred past the holiday is checked against the holds of the day it is made:
    a dispute from 8 October stops the call moved to the 8th, not the SMS of the 1st."""
    snap = Snapshot()
    snap.customer("C1")
    snap.account("A1", "C1", as_of=date(2026, 9, 30))
    snap.hold("A1", "dispute", start=date(2026, 10, 8))

    rows = plan(snap, tmp_path, pack="cn", as_of=date(2026, 9, 30))

    assert one(rows, "A1", "call")["suppressed_by"] == "hold.dispute"
    assert one(rows, "A1", "sms")["status"] == "planned"


@pytest.mark.parametrize("pack", ["cn", "us-reg-f"])
@pytest.mark.parametrize("channel", ["sms", "email", "call"])
@pytest.mark.parametrize("given", [False, None], ids=["refused", "missing"])
def test_missing_consent_suppresses_that_channel_only(
    tmp_path: Path, pack: str, channel: str, given: bool | None
) -> None:
    """Every pack: SMS, e-mail and calls need the customer's consent; False and NULL (never
    recorded) both mean no. Visits and letters need none."""
    snap = Snapshot()
    snap.customer(
        "C1",
        timezone="Asia/Shanghai" if pack == "cn" else NEW_YORK,
        **{f"consent_{channel}": given},
    )
    snap.account("A1", "C1")

    rows = plan(snap, tmp_path, pack=pack, as_of=AS_OF)

    assert one(rows, "A1", channel)["suppressed_by"] == "consent.missing"
    others = {c: s for c, s in statuses(rows, "A1").items() if c != channel}
    assert set(others.values()) == {"planned"}


def test_unknown_customer_has_no_consent_and_the_packs_zone(tmp_path: Path) -> None:
    """An account whose customer row is missing: no consent on record, the pack's default zone."""
    snap = Snapshot()
    snap.customer("C1")
    snap.account("A1", "C9")

    rows = plan(snap, tmp_path, pack="us-reg-f", as_of=AS_OF)

    for channel in ("call", "sms", "email"):
        assert one(rows, "A1", channel)["suppressed_by"] == "consent.missing"
    visit = one(rows, "A1", "visit")
    assert visit["status"] == "planned"
    assert visit["timezone"] == NEW_YORK
    assert visit["window_start"] == "2026-11-28T08:00:00-05:00"


@pytest.mark.parametrize("pack", ["cn", "us-reg-f"])
def test_vulnerable_customer_gets_one_specialist_contact(tmp_path: Path, pack: str) -> None:
    """Every pack: a vulnerable customer gets no automated pressure. The strategy's actions are
    suppressed ('vulnerable.specialist_queue') on all the customer's accounts, and one gentle
    call from the specialist queue replaces them, for the account with the highest priority."""
    snap = Snapshot()
    snap.customer("C1", timezone="Asia/Shanghai" if pack == "cn" else NEW_YORK)
    snap.account("A1", "C1", arrears_fen=100_000)
    snap.account("A2", "C1", arrears_fen=300_000)  # the vulnerability is recorded on A1 only
    snap.hold("A1", "vulnerable", start=date(2026, 11, 1))

    rows = plan(snap, tmp_path, pack=pack, as_of=AS_OF)

    specialist = [r for r in rows if r["queue"] == "specialist_care"]
    assert len(specialist) == 1
    (row,) = specialist
    assert (row["account_id"], row["channel"], row["template"], row["tone"], row["status"]) == (
        "A2",
        "call",
        "call.specialist_care",
        "gentle",
        "planned",
    )
    automated = [r for r in rows if r["queue"] != "specialist_care"]
    assert {r["account_id"] for r in automated} == {"A1", "A2"}
    for r in automated:
        assert r["status"] == "suppressed"
        assert r["suppressed_by"] == "vulnerable.specialist_queue"


def test_vulnerable_specialist_call_still_obeys_the_holds(tmp_path: Path) -> None:
    """The specialist call is a contact like any other: a dispute on the account stops it."""
    snap = Snapshot()
    snap.customer("C1")
    snap.account("A1", "C1")
    snap.hold("A1", "vulnerable", start=date(2026, 11, 1))
    snap.hold("A1", "dispute", start=date(2026, 11, 1))

    rows = plan(snap, tmp_path, pack="cn", as_of=AS_OF)

    (row,) = [r for r in rows if r["queue"] == "specialist_care"]
    assert row["suppressed_by"] == "hold.dispute"
    assert {r["status"] for r in rows} == {"suppressed"}


def test_vulnerable_specialist_contact_avoids_an_account_on_hold(tmp_path: Path) -> None:
    """The one specialist contact goes on an account it may be made about: the disputed account
    with the highest priority is passed over for the next one, so the customer still gets it."""
    snap = Snapshot()
    snap.customer("C1")
    snap.account("A1", "C1", arrears_fen=100_000)
    snap.account("A2", "C1", arrears_fen=300_000)
    snap.hold("A1", "vulnerable", start=date(2026, 11, 1))
    snap.hold("A2", "dispute", start=date(2026, 11, 1))

    rows = plan(snap, tmp_path, pack="cn", as_of=AS_OF)

    (row,) = [r for r in rows if r["queue"] == "specialist_care"]
    assert (row["account_id"], row["status"]) == ("A1", "planned")


@pytest.mark.parametrize("timezone", [None, ""])
def test_unknown_time_zone_means_the_packs_zone(tmp_path: Path, timezone: str | None) -> None:
    """A customer without a time zone (NULL or blank) is planned in the pack's default zone,
    never without a window."""
    snap = Snapshot()
    snap.customer("C1", timezone=timezone)
    snap.account("A1", "C1")

    rows = plan(snap, tmp_path, pack="us-reg-f", as_of=AS_OF)

    call = one(rows, "A1", "call")
    assert (call["status"], call["timezone"]) == ("planned", NEW_YORK)
    assert call["window_start"] == "2026-11-28T08:00:00-05:00"


@pytest.mark.parametrize("kind", ["deceased", "bankruptcy", "do_not_contact"])
def test_holds_about_the_person_stop_all_their_accounts(tmp_path: Path, kind: str) -> None:
    """Deceased, bankruptcy and do-not-contact are about the person: a hold recorded on one of
    the customer's accounts stops contact about every one of them. A dispute is about one debt."""
    snap = Snapshot()
    snap.customer("C1")
    snap.account("A1", "C1")
    snap.account("A2", "C1")
    snap.hold("A1", kind, start=AS_OF)
    snap.customer("C2")
    snap.account("B1", "C2")
    snap.account("B2", "C2")
    snap.hold("B1", "dispute", start=AS_OF)

    rows = plan(snap, tmp_path, pack="cn", as_of=AS_OF)

    for account_id in ("A1", "A2"):
        account_rows = [r for r in rows if r["account_id"] == account_id]
        assert account_rows
        assert all(r["suppressed_by"] == f"hold.{kind}" for r in account_rows)
    assert all(r["suppressed_by"] == "hold.dispute" for r in rows if r["account_id"] == "B1")
    assert any(r["status"] == "planned" for r in rows if r["account_id"] == "B2")
