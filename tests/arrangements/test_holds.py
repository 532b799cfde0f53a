"""Holds placed in huancui (`huancui hold add|release|list`, contact/holds.py) on SQLite and
PostgreSQL: what a person may place by hand, releasing, and which holds stop which account on a
day (the outbox's send-time check)."""

from __future__ import annotations

from huancui.contact import holds
from tests.arrangements.conftest import AS_OF, Book, as_json, day, ok

OFFICER = ("--actor", "compliance.he")


def _add(book: Book, account: str, *args: str) -> int:
    placed = as_json(book.cli("hold", "add", account, *args, *OFFICER, "--json"))
    return int(placed["hold_id"])


def test_a_hold_is_placed_listed_and_released_with_an_audit_trail(book: Book) -> None:
    account = book.account("standard")
    hold_id = _add(book, account, "--type", "dispute", "--from", day(1).isoformat(),
                   "--reason", "客户对费用有异议")  # fmt: skip
    (listed,) = book.holds(account)
    assert (listed["hold_type"], listed["start_date"], listed["end_date"], listed["source"]) == (
        "dispute",
        day(1).isoformat(),
        None,
        "manual",
    )
    released = book.cli("hold", "release", str(hold_id), "--last-day", day(20).isoformat(),
                        "--reason", "争议已解决", *OFFICER)  # fmt: skip
    assert ok(released).stdout.strip() == f"hold {hold_id} ends after {day(20)}"
    assert book.holds(account)[0]["end_date"] == day(20).isoformat()
    twice = book.cli("hold", "release", str(hold_id), "--last-day", day(21).isoformat(),
                     "--reason", "again", *OFFICER)  # fmt: skip
    assert twice.exit_code == 4 and f"hold {hold_id} was already released" in twice.output
    assert book.rows(
        "SELECT actor, action, reason FROM audit_events WHERE entity_type = 'case_hold'"
        " ORDER BY event_id"
    ) == [
        ("compliance.he", "hold.place", "客户对费用有异议"),
        ("compliance.he", "hold.release", "争议已解决"),
    ]
    missing = book.cli("hold", "release", "999", "--last-day", day(1).isoformat(),
                       "--reason", "x", *OFFICER)  # fmt: skip
    assert missing.exit_code == 3


def test_what_may_not_be_placed_by_hand(book: Book) -> None:
    account = book.account("prime")
    before = book.counts()
    cases = [
        (("--type", "hardship", "--from", day(1).isoformat()), "cannot be placed by hand"),
        (("--type", "arrangement", "--from", day(1).isoformat()), "cannot be placed by hand"),
        (("--type", "channel_opt_out", "--from", day(1).isoformat()), "--channel"),
        (("--type", "dispute", "--channel", "sms", "--from", day(1).isoformat()), "--channel"),
        (("--type", "channel_opt_out", "--channel", "fax", "--from", day(1).isoformat()),
         "'fax' is not one of"),
        (("--type", "legal", "--from", day(5).isoformat(), "--to", day(4).isoformat()),
         f"--to: {day(4)} is before the start {day(5)}"),
        (("--type", "legal", "--from", "someday"), "--from"),
    ]  # fmt: skip
    for args, message in cases:
        result = book.cli("hold", "add", account, *args, "--reason", "test", *OFFICER)
        assert (result.exit_code, message in result.output) == (2, True), (args, result.output)
    unknown = book.cli("hold", "add", "NOPE", "--type", "legal", "--from", day(1).isoformat(),
                       "--reason", "x", *OFFICER)  # fmt: skip
    assert unknown.exit_code == 3
    assert book.counts() == before


def test_person_holds_stop_every_account_of_the_customer(book: Book) -> None:
    overdue = book.account("prime")
    sibling = book.account("prime", overdue=False)  # the same customer's other card
    dispute = _add(book, sibling, "--type", "dispute", "--from", day(1).isoformat(),
                   "--to", day(9).isoformat(), "--reason", "对另一张卡的账单有异议")  # fmt: skip
    deceased = _add(book, sibling, "--type", "deceased", "--from", day(3).isoformat(),
                    "--reason", "家属告知客户已故")  # fmt: skip
    opt_out = _add(book, overdue, "--type", "channel_opt_out", "--channel", "sms",
                   "--from", day(1).isoformat(), "--reason", "客户退订短信")  # fmt: skip
    with book.session() as session:
        on_day_1 = holds.blocking(session, [overdue, sibling], day(1))
        on_day_3 = holds.blocking(session, [overdue, sibling], day(3))
        on_day_10 = holds.blocking(session, [overdue], day(10))
        before = holds.blocking(session, [overdue, sibling], AS_OF)
    # A dispute is about one debt; death is about the person. A channel opt-out is not a
    # hard hold: the guard applies it per channel.
    assert on_day_1 == {sibling: [("dispute", dispute)]}
    assert sorted(on_day_3[overdue]) == [("deceased", deceased)]
    assert sorted(on_day_3[sibling]) == [("deceased", deceased), ("dispute", dispute)]
    assert on_day_10 == {overdue: [("deceased", deceased)]}
    assert before == {}
    assert opt_out not in [h for found in on_day_3.values() for _, h in found]
