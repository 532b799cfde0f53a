"""Logging contact outcomes (SQLite and PostgreSQL): validation, checked notes, and each code's
effect — the case leaves the queue, a dispute holds the account, a promise references its
arrangement, a wrong number is flagged."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from huancui.arrangements import service as arrangements
from huancui.cases import service
from huancui.cases.tables import ContactOutcomeRow
from huancui.contact.holds import blocking
from huancui.kit.errors import InvalidInput, NotFound, NotPermitted
from tests.arrangements.conftest import AS_OF
from tests.cases.conftest import COLLECTOR, COLLECTOR_2, DAY, NOW, SUPERVISOR, Book

LATER = NOW + timedelta(minutes=5)


def _take(book: Book, collector: str = COLLECTOR, queue: str = "phone_prime") -> str:
    with book.session() as session:
        case = service.take_next(session, collector=collector, as_of=DAY, now=NOW, queue=queue)
    assert case is not None
    return case.account_id


def _log(book: Book, account_id: str, outcome: str, **kwargs: Any) -> ContactOutcomeRow:
    kwargs.setdefault("note", None)
    kwargs.setdefault("actor", COLLECTOR)
    kwargs.setdefault("occurred_at", LATER)
    with book.session() as session:
        return service.log_outcome(
            session, book.settings, account_id=account_id, outcome=outcome, **kwargs
        )


def _everyone(book: Book) -> list[str]:
    with book.session() as session:
        page = service.queue(
            session, collector=SUPERVISOR, as_of=DAY, now=LATER, include_claimed=True
        )
    return [c.account_id for c in page.items]


def _promise(book: Book, account_id: str) -> int:
    with book.session() as session:
        row = arrangements.propose(
            session,
            book.settings,
            book.policy,
            account_id=account_id,
            as_of=AS_OF,
            proposal=arrangements.Proposal("ptp", pay_by=AS_OF + timedelta(days=10)),
            actor=COLLECTOR,
            reason="客户说月底发薪后还款",
        )
        return row.arrangement_id


def test_the_case_leaves_the_queue_after_a_promise(worked: Book) -> None:
    account = _take(worked)
    promise = _promise(worked, account)
    row = _log(
        worked,
        account,
        "promise_to_pay",
        arrangement_id=promise,
        note="customer will pay on Friday",
    )
    assert account not in _everyone(worked)
    assert worked.count("case_claims") == 0
    assert worked.rows(
        "SELECT status, status_reason, assigned_to FROM work_items"
        " WHERE account_id = :a AND channel = 'call'",
        a=account,
    ) == [("done", f"outcome promise_to_pay (contact outcome {row.outcome_id})", COLLECTOR)]
    assert worked.rows(
        "SELECT actor, action, entity_id FROM audit_events WHERE action = 'outcome.logged'"
    ) == [(COLLECTOR, "outcome.logged", str(row.outcome_id))]
    # The collector's next case is the next one in priority.
    assert _take(worked) != account


def test_a_promise_must_reference_its_arrangement_on_the_same_account(worked: Book) -> None:
    account = _take(worked)
    with pytest.raises(InvalidInput, match="arrangement_id: a promise_to_pay outcome"):
        _log(worked, account, "promise_to_pay")
    other = "P1" if account == "P2" else "P2"
    promise = _promise(worked, other)
    with pytest.raises(InvalidInput, match=f"about account {other}"):
        _log(worked, account, "promise_to_pay", arrangement_id=promise)
    with pytest.raises(NotFound):
        _log(worked, account, "promise_to_pay", arrangement_id=9999)
    assert worked.count("contact_outcomes") == 0
    assert account in _everyone(worked)


def test_a_dispute_holds_the_account_and_the_next_take_next_passes_it_by(worked: Book) -> None:
    # The customer called in yesterday evening to dispute; today's call must not happen.
    yesterday = NOW - timedelta(hours=20)
    row = _log(
        worked,
        "P2",
        "dispute",
        actor=SUPERVISOR,
        channel="inbound",
        occurred_at=yesterday,
        note="客户称该笔消费并非本人所为",
    )
    (hold,) = worked.holds("P2")
    assert (hold["hold_type"], hold["start_date"], hold["end_date"], hold["source_id"]) == (
        "dispute",
        AS_OF.isoformat(),
        None,
        f"outcome-{row.outcome_id}",
    )
    # Today's call is still open, but the hold takes the case out of every queue.
    assert worked.rows("SELECT status FROM work_items WHERE account_id = 'P2'") == [("open",)]
    assert _take(worked) == "P1"
    assert "P2" not in _everyone(worked)


def test_a_reported_death_holds_every_account_of_the_customer(worked: Book) -> None:
    # P1 and Z1 belong to one customer; the supervisor logs what the son said on P1.
    _log(worked, "P1", "deceased_reported", actor=SUPERVISOR, note="Spoke with the son")
    assert [h["hold_type"] for h in worked.holds("P1")] == ["deceased"]
    with worked.session() as session:
        assert set(blocking(session, ["P1", "Z1", "P2"], DAY)) == {"P1", "Z1"}


def test_unknown_codes_missing_notes_and_refused_notes_write_nothing(worked: Book) -> None:
    account = _take(worked)
    before = worked.counts()
    with pytest.raises(InvalidInput, match=r"'paid_maybe' is not an outcome code.*no_answer"):
        _log(worked, account, "paid_maybe")
    with pytest.raises(InvalidInput, match="note: required for refusal"):
        _log(worked, account, "refusal", note="  ")
    with pytest.raises(InvalidInput) as refused:
        _log(worked, account, "refusal", note="Told him we will tell your employer, idiot")
    assert "exposure" in str(refused.value) and "'tell your employer'" in str(refused.value)
    assert "insult" in str(refused.value) and "'idiot'" in str(refused.value)
    with pytest.raises(InvalidInput, match="channel"):
        _log(worked, account, "no_answer", channel="pigeon")
    with pytest.raises(InvalidInput, match="in the future"):
        _log(worked, account, "no_answer", occurred_at=NOW + timedelta(days=400))
    assert worked.counts() == before
    assert worked.count("contact_outcomes") == 0
    assert account in _everyone(worked)


def test_only_the_holder_logs_an_outcome_unless_a_supervisor(worked: Book) -> None:
    account = _take(worked)
    with pytest.raises(NotPermitted, match=f"held by {COLLECTOR}"):
        _log(worked, account, "no_answer", actor=COLLECTOR_2)
    with pytest.raises(NotPermitted, match="nobody holds it"):
        _log(worked, "S1", "no_answer", actor=COLLECTOR_2)
    with pytest.raises(NotPermitted, match="outcome:write"):
        _log(worked, "S1", "no_answer", actor="sun.analyst")
    row = _log(worked, account, "no_answer", actor=SUPERVISOR)
    assert row.actor == SUPERVISOR
    assert worked.count("case_claims") == 0


def test_a_wrong_number_is_flagged_until_the_customer_is_reached(worked: Book) -> None:
    account = _take(worked)

    def flag() -> Any:
        with worked.session() as session:
            view = service.account_360(
                session,
                worked.settings,
                account_id=account,
                as_of=AS_OF,
                role="collector",
                with_offers=False,
            )
        return view["customer"]["phone_flag"]

    assert flag() is None
    wrong = _log(worked, account, "wrong_number")
    assert flag() == {
        "reason": "wrong_number",
        "reported_at": LATER.isoformat(),
        "reported_by": COLLECTOR,
        "outcome_id": wrong.outcome_id,
    }
    _log(
        worked,
        account,
        "right_party_contact",
        actor=SUPERVISOR,
        occurred_at=LATER + timedelta(minutes=1),
    )
    assert flag() is None


def test_outcomes_are_listed_newest_first_with_filters_and_pages(worked: Book) -> None:
    first = _take(worked)
    _log(worked, first, "no_answer", occurred_at=LATER)
    second = _take(worked)
    _log(worked, second, "left_message", occurred_at=LATER + timedelta(minutes=3))
    _log(
        worked,
        "S1",
        "callback_requested",
        actor=SUPERVISOR,
        note="after 18:00",
        occurred_at=LATER + timedelta(minutes=6),
    )
    with worked.session() as session:
        every = service.list_outcomes(session)
        assert [o.outcome for o in every.items] == [
            "callback_requested",
            "left_message",
            "no_answer",
        ]
        mine = service.list_outcomes(session, actor=COLLECTOR, limit=1, offset=1)
        assert ([o.account_id for o in mine.items], mine.total) == ([first], 2)
        window = service.list_outcomes(
            session, since=LATER + timedelta(minutes=1), until=LATER + timedelta(minutes=6)
        )
        assert [o.outcome for o in window.items] == ["left_message"]
        assert service.list_outcomes(session, account_id="S1").total == 1
        with pytest.raises(InvalidInput, match="until"):
            service.list_outcomes(session, since=LATER, until=LATER)


def test_a_hardship_claim_may_reference_the_accounts_application_only(worked: Book) -> None:
    account = _take(worked)
    applied = worked.cli(
        "hardship",
        "apply",
        account,
        "--as-of",
        AS_OF.isoformat(),
        "--reason-code",
        "job_loss",
        "--details",
        "客户十月失业，正在找工作",
        "--actor",
        COLLECTOR,
        "--json",
    )
    assert applied.exit_code == 0, applied.output
    application = json.loads(applied.stdout)["hardship_id"]
    with pytest.raises(InvalidInput, match="hardship_id: only hardship_claim"):
        _log(worked, account, "refusal", note="不愿还款", hardship_id=application)
    with pytest.raises(InvalidInput, match=f"about account {account}"):
        _log(worked, "S1", "hardship_claim", actor=SUPERVISOR, note="失业", hardship_id=application)
    row = _log(worked, account, "hardship_claim", note="客户十月失业", hardship_id=application)
    assert (row.outcome, row.hardship_id) == ("hardship_claim", application)
