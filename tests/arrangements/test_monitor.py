"""The nightly monitoring (arrangements/monitor.py) on SQLite and PostgreSQL, against the payments
of real imported snapshots: promises kept and broken, plans completed and broken, no payment
counted twice, and 缓催 pauses started, reminded and ended."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tests.arrangements.conftest import (
    AS_OF,
    COLLECTOR,
    COLLECTOR_2,
    SUPERVISOR,
    Book,
    as_json,
    day,
    ok,
)

REASON = ("--reason", "客户承诺")


def _show(book: Book, arrangement_id: int) -> dict[str, Any]:
    data: dict[str, Any] = as_json(book.cli("arrangement", "show", str(arrangement_id), "--json"))
    return data


def _allocated(book: Book) -> list[tuple[str, int, int]]:
    return [
        (str(p), int(n), int(a))
        for p, n, a in book.rows(
            "SELECT payment_id, line_no, amount_fen FROM payment_allocations"
            " ORDER BY payment_id, line_no"
        )
    ]


def _holds(book: Book, account: str) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (h["hold_type"], h["start_date"], h["end_date"], h["source_id"])
        for h in book.holds(account)
    ]


def test_a_promise_paid_in_two_parts_is_kept_and_nothing_counts_twice(book: Book) -> None:
    account = book.account("prime")
    promise = book.propose_ok(account, "--kind", "ptp", "--amount", "1150.00", "--pay-by",
                              day(7).isoformat(), *REASON)  # fmt: skip
    # Paid on the day of the proposal (before it: not for it), then 600.00 two days later.
    # 500.00 more on day 5: 1,100.00 of 1,150.00 is 95.65%, within the tolerance.
    book.reimport(
        day(6),
        [
            ("X0", account, AS_OF, "80.00"),
            ("X1", account, day(2), "600.00"),
            ("X2", account, day(5), "500.00"),
        ],
    )
    report = book.monitor(day(3), payments_of=day(6))
    assert (report.activated, report.allocated_fen, report.kept) == ([1], 60_000, [])
    assert _allocated(book) == [("X1", 1, 60_000)]
    again = book.monitor(day(3), payments_of=day(6))
    assert (again.activated, again.allocated_fen) == ([], 0)
    assert _allocated(book) == [("X1", 1, 60_000)]
    assert _show(book, promise["arrangement_id"])["status"] == "active"

    kept = book.monitor(day(6))
    assert (kept.allocated_fen, kept.kept) == (50_000, [1])
    shown = _show(book, promise["arrangement_id"])
    assert (shown["status"], shown["status_reason"]) == ("kept", "every line paid")
    assert shown["lines"][0] | {"due_date": None} == {
        "line_no": 1,
        "due_date": None,
        "amount_due": "1150.00",
        "paid": "1100.00",
        "status": "met",
    }
    assert book.rows("SELECT settled_on FROM arrangement_lines")[0][0] in (day(5), str(day(5)))
    assert _allocated(book) == [("X1", 1, 60_000), ("X2", 1, 50_000)]
    # The hold ends tonight; the account is treated again from tomorrow.
    assert _holds(book, account) == [("arrangement", day(1).isoformat(), day(6).isoformat(), "1")]
    assert book.monitor(day(6)).allocated_fen == 0
    assert sum(a for _, _, a in _allocated(book)) == 110_000


def test_a_promise_underpaid_breaks_only_after_the_grace_days(book: Book) -> None:
    account = book.account("prime")
    promise = book.propose_ok(account, "--kind", "ptp", "--amount", "1000.00", "--pay-by",
                              day(5).isoformat(), *REASON)  # fmt: skip
    book.reimport(day(9), [("Y1", account, day(4), "949.90")])  # 94.99%
    grace = book.monitor(day(8), payments_of=day(9))  # the promised day plus three of grace
    assert (grace.allocated_fen, grace.broken) == (94_990, [])
    broken = book.monitor(day(9))
    assert broken.broken == [promise["arrangement_id"]]
    shown = _show(book, promise["arrangement_id"])
    assert shown["status"] == "broken"
    assert shown["status_reason"] == (
        f"line 1 due {day(5)}: 949.90 paid of 1000.00 (needs 95%) after the grace days"
    )
    assert shown["lines"][0]["status"] == "missed"
    # The hold ran out with the grace days and was released: nothing holds the account now.
    (hold,) = _holds(book, account)
    assert hold[2] is not None and hold[2] <= day(9).isoformat()
    assert book.rows("SELECT count(*) FROM case_holds WHERE released_at IS NULL") == [(0,)]


def _three_month_plan(book: Book, account: str) -> tuple[int, list[dict[str, Any]]]:
    shown = book.propose_ok(account, "--kind", "installment", "--months", "3", *REASON)
    approved = as_json(book.cli("arrangement", "approve", str(shown["arrangement_id"]),
                                "--actor", COLLECTOR_2, "--json"))  # fmt: skip
    assert approved["status"] == "approved"
    return shown["arrangement_id"], shown["lines"]


def test_a_plan_paid_line_by_line_completes_with_a_cure_hold(book: Book) -> None:
    account = book.account("prime")
    plan, lines = _three_month_plan(book, account)
    assert len(lines) == 3
    payments = [
        (f"Z{line['line_no']}", account, date.fromisoformat(line["due_date"]), line["amount_due"])
        for line in lines
    ]
    last = date.fromisoformat(lines[-1]["due_date"])
    tonight = last + (day(1) - AS_OF)
    book.reimport(tonight, payments)
    report = book.monitor(tonight)
    assert (report.activated, report.completed) == ([plan], [plan])
    total = sum(int(Decimal(line["amount_due"]) * 100) for line in lines)
    assert report.allocated_fen == total
    shown = _show(book, plan)
    assert shown["status"] == "completed"
    assert [line["status"] for line in shown["lines"]] == ["met", "met", "met"]
    # While the bank books the cure (35 days) nobody is dunned.
    assert _holds(book, account) == [
        ("arrangement", day(1).isoformat(), tonight.isoformat(), str(plan)),
        (
            "arrangement",
            (tonight + (day(1) - AS_OF)).isoformat(),
            (tonight + (day(35) - AS_OF)).isoformat(),
            f"{plan}:cure",
        ),
    ]


def test_a_plan_with_a_missed_line_breaks_naming_it(book: Book) -> None:
    account = book.account("prime")
    plan, lines = _three_month_plan(book, account)
    second = date.fromisoformat(lines[1]["due_date"])
    tonight = second + (day(4) - AS_OF)
    book.reimport(tonight, [("W1", account, day(20), lines[0]["amount_due"])])
    report = book.monitor(tonight)
    assert (report.activated, report.broken) == ([plan], [plan])
    shown = _show(book, plan)
    assert shown["status_reason"] == (
        f"line 2 due {second}: 0.00 paid of {lines[1]['amount_due']} (needs 95%)"
        " after the grace days"
    )
    assert [line["status"] for line in shown["lines"]] == ["met", "missed", "due"]
    assert [e["actor"] for e in shown["history"]][-2:] == ["night-batch", "night-batch"]


def test_a_pause_starts_reminds_once_and_ends_by_itself(book: Book) -> None:
    account = book.account("standard")
    applied = as_json(book.cli("hardship", "apply", account, "--as-of", AS_OF.isoformat(),
                               "--reason-code", "illness", "--details", "住院治疗", "--days", "10",
                               "--actor", COLLECTOR, "--json"))  # fmt: skip
    pause = applied["hardship_id"]
    ok(book.cli("hardship", "approve", str(pause), "--actor", SUPERVISOR, "--today",
                AS_OF.isoformat()))  # fmt: skip
    assert book.monitor(AS_OF).pauses_started == []
    started = book.monitor(day(2))
    assert (started.pauses_started, started.reminders) == ([pause], [])
    # Seven days before the last day (day 10) the customer is reminded, once.
    assert book.monitor(day(3)).reminders == [pause]
    assert book.monitor(day(4)).reminders == []
    assert book.monitor(day(9)).pauses_ended == []
    ended = book.monitor(day(10))
    assert ended.pauses_ended == [pause]
    shown = as_json(book.cli("hardship", "show", str(pause), "--json"))
    assert (shown["status"], shown["reminder_on"], shown["ended_on"], shown["end_reason"]) == (
        "ended",
        day(3).isoformat(),
        day(10).isoformat(),
        "expired",
    )
    assert [(e["actor"], e["action"]) for e in shown["history"]] == [
        (COLLECTOR, "hardship.applied"),
        (SUPERVISOR, "hardship.approved"),
        ("night-batch", "hardship.active"),
        ("night-batch", "hardship.reminder"),
        ("night-batch", "hardship.ended"),
    ]
    # Its hold covered exactly the pause; collection resumes the day after by itself.
    assert _holds(book, account) == [
        ("hardship", day(1).isoformat(), day(10).isoformat(), str(pause))
    ]


def test_a_pause_missed_by_the_nightly_runs_starts_and_ends_in_one_pass(book: Book) -> None:
    applied = as_json(book.cli("hardship", "apply", book.account("prime"), "--as-of",
                               AS_OF.isoformat(), "--reason-code", "disaster", "--details",
                               "房屋受灾", "--days", "5", "--actor", COLLECTOR, "--json"))  # fmt: skip
    ok(book.cli("hardship", "approve", str(applied["hardship_id"]), "--actor", SUPERVISOR,
                "--today", AS_OF.isoformat()))  # fmt: skip
    report = book.monitor(day(20))
    assert report.pauses_started == report.pauses_ended == [applied["hardship_id"]]
    assert report.reminders == []  # nobody to remind of a pause that is over


def test_a_payment_corrected_in_a_later_delivery_does_not_stop_the_nightly_run(book: Book) -> None:
    """The bank re-delivers payment X1 with its amount corrected from 600.00 to 800.00. The
    nightly run must not fail on it (payment_allocations is unique per payment and line, and
    the 200.00 more would be a second row of X1 on line 1), and never allocate more than the
    payment."""
    account = book.account("prime")
    book.propose_ok(account, "--kind", "ptp", "--amount", "1150.00", "--pay-by",
                    day(7).isoformat(), *REASON)  # fmt: skip
    book.reimport(day(3), [("X1", account, day(2), "600.00")])
    book.monitor(day(3))
    book.reimport(day(4), [("X1", account, day(2), "800.00")])
    run = book.cli("run", "--as-of", day(4).isoformat(), "--actor", "night-batch", "--json")
    assert run.exit_code == 0, run.output[-600:]
    assert sum(a for _, _, a in _allocated(book)) <= 80_000
