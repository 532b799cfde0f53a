"""A collector's queue and claims on a case (SQLite and PostgreSQL): order, filters, paging,
one collector per case, lapsed claims taken over, releases, and 20 collectors at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from huancui.access import audit
from huancui.cases import service
from huancui.cases.model import CaseSummary
from huancui.cases.tables import CaseClaimRow
from huancui.contact import holds
from huancui.kit.database import make_engine
from huancui.kit.errors import Conflict, InvalidInput, NotFound, NotPermitted
from tests.cases.conftest import (
    BY_PRIORITY,
    COLLECTOR,
    COLLECTOR_2,
    DAY,
    NOW,
    SUPERVISOR,
    Book,
    add_cases,
    add_collectors,
)


def _ids(book: Book, collector: str = COLLECTOR, **kwargs: object) -> list[str]:
    with book.session() as session:
        page = service.queue(session, collector=collector, as_of=DAY, now=NOW, **kwargs)  # type: ignore[arg-type]
        return [c.account_id for c in page.items]


def _next(book: Book, collector: str, *, now: object = NOW, **kwargs: object) -> CaseSummary | None:
    with book.session() as session:
        return service.take_next(session, collector=collector, as_of=DAY, now=now, **kwargs)  # type: ignore[arg-type]


def test_the_queue_lists_the_days_calls_highest_priority_first(worked: Book) -> None:
    with worked.session() as session:
        page = service.queue(session, collector=COLLECTOR, as_of=DAY, now=NOW)
    assert [c.account_id for c in page.items] == BY_PRIORITY
    assert (page.total, page.limit, page.offset) == (4, 50, 0)
    top = page.items[0]
    # H1 has a call and a letter; the case is its call (letters go out in batches).
    assert (top.queue, top.channel, top.segment, top.tone) == (
        "phone_high_risk",
        "call",
        "high_risk",
        "firm",
    )
    assert len(top.work_item_ids) == 1
    # Amounts and days past due come from the snapshot, in fen.
    assert top.amount_overdue_fen == worked.snapshot_value("H1", "arrears_fen") == 177_500
    assert top.days_past_due == worked.snapshot_value("H1", "days_past_due")
    assert top.claimed_by is None


def test_nothing_is_due_before_its_contact_day(worked: Book) -> None:
    with worked.session() as session:
        page = service.queue(session, collector=COLLECTOR, as_of=DAY - timedelta(days=1), now=NOW)
    assert (page.items, page.total) == ([], 0)


def test_the_queue_filters_by_queue_and_pages_in_order(worked: Book) -> None:
    assert _ids(worked, queue="phone_prime") == ["P2", "P1"]
    with worked.session() as session:
        second = service.queue(session, collector=COLLECTOR, as_of=DAY, now=NOW, limit=2, offset=2)
    assert [c.account_id for c in second.items] == BY_PRIORITY[2:]
    assert second.total == 4
    with worked.session() as session, pytest.raises(InvalidInput, match="limit"):
        service.queue(session, collector=COLLECTOR, as_of=DAY, limit=0)


def test_a_blocking_hold_takes_the_case_out_of_every_queue(worked: Book) -> None:
    with worked.session() as session:
        holds.place(
            session,
            account_id="P2",
            hold_type="legal",
            start=DAY,
            end=None,
            reason="referred to counsel",
            actor=SUPERVISOR,
        )
    assert _ids(worked) == ["H1", "P1", "S1"]
    with worked.session() as session:
        # The same judgement as the one the outbox and the nightly run use.
        assert set(holds.blocking(session, BY_PRIORITY, DAY)) == {"P2"}


def test_a_person_level_hold_on_another_account_stops_the_customers_case(worked: Book) -> None:
    # Z1 (nothing overdue) belongs to P1's customer: a deceased hold there covers P1 too.
    with worked.session() as session:
        holds.place(
            session,
            account_id="Z1",
            hold_type="deceased",
            start=DAY,
            end=None,
            reason="death certificate received",
            actor=SUPERVISOR,
        )
    assert "P1" not in _ids(worked)


def test_take_next_claims_the_top_case_and_the_next_collector_gets_the_one_after(
    worked: Book,
) -> None:
    first = _next(worked, COLLECTOR)
    second = _next(worked, COLLECTOR_2)
    assert first is not None and second is not None
    assert (first.account_id, first.claimed_by) == ("H1", COLLECTOR)
    assert first.claim_expires_at == NOW + timedelta(minutes=30)
    assert second.account_id == "P2"
    # Each collector's queue shows their own case and not the other's.
    assert _ids(worked, COLLECTOR) == ["H1", "P1", "S1"]
    assert _ids(worked, COLLECTOR_2) == ["P2", "P1", "S1"]
    # A supervisor's overview shows every case with its holder.
    with worked.session() as session:
        everything = service.queue(
            session, collector=SUPERVISOR, as_of=DAY, now=NOW, include_claimed=True
        )
    assert [(c.account_id, c.claimed_by) for c in everything.items] == [
        ("H1", COLLECTOR),
        ("P2", COLLECTOR_2),
        ("P1", None),
        ("S1", None),
    ]


def test_take_next_returns_the_case_a_collector_already_holds_and_renews_it(
    worked: Book,
) -> None:
    first = _next(worked, COLLECTOR)
    again = _next(worked, COLLECTOR, now=NOW + timedelta(minutes=10))
    assert first is not None and again is not None
    assert again.account_id == first.account_id == "H1"
    assert again.claim_expires_at == NOW + timedelta(minutes=40)
    assert worked.count("case_claims") == 1


def test_a_lapsed_claim_is_taken_over_and_the_takeover_is_audited(worked: Book) -> None:
    assert _next(worked, COLLECTOR, lease=timedelta(minutes=5)) is not None
    # Before the lease ends the case is not offered to anyone else.
    early = _next(worked, COLLECTOR_2, now=NOW + timedelta(minutes=4))
    assert early is not None and early.account_id == "P2"
    later = _next(worked, "wang.supervisor", now=NOW + timedelta(minutes=6))
    assert later is not None and (later.account_id, later.claimed_by) == ("H1", SUPERVISOR)
    assert worked.rows(
        "SELECT actor, action, reason FROM audit_events WHERE entity_type = 'case'"
        " AND entity_id = 'H1' ORDER BY event_id"
    ) == [
        (COLLECTOR, "case.claim", "take next case"),
        (SUPERVISOR, "case.claim", f"claim of {COLLECTOR} lapsed"),
    ]


def test_take_next_answers_none_when_every_case_is_held(worked: Book) -> None:
    for collector in (COLLECTOR, COLLECTOR_2, SUPERVISOR, "zhao.manager"):
        assert _next(worked, collector) is not None
    (fifth,) = add_collectors(worked, 1)
    assert _next(worked, fifth) is None
    with worked.session() as session:
        assert service.queue(session, collector=fifth, as_of=DAY, now=NOW).total == 0


def test_only_staff_who_work_cases_may_take_one(worked: Book) -> None:
    with pytest.raises(NotPermitted, match="case:work"):
        _next(worked, "sun.analyst")
    with pytest.raises(NotPermitted, match="not an active user"):
        _next(worked, "nobody")


def test_a_collector_releases_their_case_back_to_the_queue(worked: Book) -> None:
    taken = _next(worked, COLLECTOR)
    assert taken is not None
    with worked.session() as session:
        service.release(
            session,
            account_id="H1",
            collector=COLLECTOR,
            now=NOW,
            reason="customer asked for a call after 18:00",
        )
    assert worked.count("case_claims") == 0
    assert _ids(worked, COLLECTOR_2)[0] == "H1"
    assert worked.rows("SELECT actor, reason FROM audit_events WHERE action = 'case.release'") == [
        (COLLECTOR, "customer asked for a call after 18:00")
    ]


def test_only_the_holder_or_a_supervisor_forcing_it_releases_a_case(worked: Book) -> None:
    assert _next(worked, COLLECTOR) is not None
    with worked.session() as session, pytest.raises(Conflict, match=f"held by {COLLECTOR}"):
        service.release(session, account_id="H1", collector=COLLECTOR_2, now=NOW, reason="x")
    with worked.session() as session, pytest.raises(NotPermitted):
        service.release(
            session, account_id="H1", collector=COLLECTOR_2, now=NOW, reason="x", force=True
        )
    with worked.session() as session:
        service.release(
            session,
            account_id="H1",
            collector=SUPERVISOR,
            now=NOW,
            reason="collector went home ill",
            force=True,
        )
    assert worked.count("case_claims") == 0
    with worked.session() as session, pytest.raises(NotFound):
        service.release(session, account_id="H1", collector=COLLECTOR, now=NOW, reason="x")
    with worked.session() as session, pytest.raises(InvalidInput, match="reason"):
        service.release(session, account_id="H1", collector=COLLECTOR, now=NOW, reason=" ")


def test_twenty_collectors_taking_cases_at_once_never_get_the_same_case(worked: Book) -> None:
    with worked.session() as session:
        add_cases(session, 26)
    collectors = add_collectors(worked, 20)
    factory = sessionmaker(bind=make_engine(worked.url), expire_on_commit=False)
    start = threading.Barrier(len(collectors))
    taken: dict[str, str | None] = {}
    errors: list[BaseException] = []

    def work(collector: str) -> None:
        try:
            with factory() as session, session.begin():
                start.wait()
                case = service.take_next(session, collector=collector, as_of=DAY, now=NOW)
                taken[collector] = None if case is None else case.account_id
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in collectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    cases = list(taken.values())
    assert len(cases) == 20 and None not in cases
    assert len(set(cases)) == 20  # nobody got a case twice
    with worked.session() as session:
        claims = {c.account_id: c.collector for c in session.scalars(select(CaseClaimRow))}
        assert claims == {case: who for who, case in taken.items()}
        # The 20 best cases went out: the book's four and the 16 highest of the rest.
        assert set(cases) == set(BY_PRIORITY) | {f"Q{n:03d}" for n in range(16)}
        assert audit.verify(session).ok
