"""What a signed-in customer can see and do: their own accounts only, what is owed and why,
the plans the policy allows (never past the authority matrix), a promise within its limits,
a 缓催 application with checked evidence, and one rating a day."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest

from huancui.arrangements import service as arrangements
from huancui.kit.database import unit_of_work
from huancui.kit.errors import Conflict, InvalidInput, NotFound
from huancui.portal import service
from tests.arrangements.conftest import AS_OF, SUPERVISOR
from tests.portal.conftest import NOW, PDF, PNG, Portal


def _owner(portal: Portal, account_id: str) -> str:
    ((customer_id,),) = portal.rows(
        "SELECT customer_id FROM accounts WHERE account_id = :a", a=account_id
    )
    return str(customer_id)


def _call(portal: Portal, use_case: Any, **kwargs: Any) -> Any:
    with unit_of_work(portal.settings.resolved_database_url) as session:
        return use_case(session, **kwargs)


def _with_policy(portal: Portal, use_case: Any, **kwargs: Any) -> Any:
    with unit_of_work(portal.settings.resolved_database_url) as session:
        return use_case(session, portal.settings, portal.policy, **kwargs)


def test_a_customer_sees_their_own_accounts_and_nobody_elses(portal: Portal) -> None:
    prime = portal.book.account("prime")
    customer = _owner(portal, prime)
    mine = _call(portal, service.my_accounts, customer_id=customer)
    ids = {a["account_id"] for a in mine["accounts"]}
    owned = {
        r[0]
        for r in portal.rows("SELECT account_id FROM accounts WHERE customer_id = :c", c=customer)
    }
    assert ids == owned and prime in ids
    assert mine["as_of"] == AS_OF.isoformat()


def test_another_customers_account_answers_exactly_like_a_missing_one(portal: Portal) -> None:
    prime = portal.book.account("prime")
    other = portal.book.account("standard")
    customer = _owner(portal, prime)
    assert _owner(portal, other) != customer
    with pytest.raises(NotFound) as theirs:
        _call(portal, service.account_view, customer_id=customer, account_id=other)
    with pytest.raises(NotFound) as missing:
        _call(portal, service.account_view, customer_id=customer, account_id="NOPE")
    assert str(theirs.value).replace(other, "X") == str(missing.value).replace("NOPE", "X")
    with pytest.raises(NotFound):
        _with_policy(portal, service.options, customer_id=customer, account_id=other)
    with pytest.raises(NotFound):
        _with_policy(
            portal,
            service.apply_for_hardship,
            customer_id=customer,
            account_id=other,
            reason_code="illness",
            details="in hospital",
            days=30,
            evidence=[PDF],
        )


def test_the_account_shows_what_is_owed_and_why(portal: Portal) -> None:
    prime = portal.book.account("prime")
    view = _call(portal, service.account_view, customer_id=_owner(portal, prime), account_id=prime)
    owed = view["owed"]
    assert owed["amount_overdue"] == "1150.00"
    assert owed["days_past_due"] == portal.book.snapshot_value(prime, "days_past_due")
    assert (owed["overdue_principal"], owed["overdue_interest"], owed["overdue_fees"]) == (
        "1000.00",
        "150.00",
        "0.00",
    )
    assert view["arrangement"] is None and view["hardship"] == [] and view["holds"] == []


def test_the_customer_chooses_an_offered_plan_and_it_waits_for_a_person_with_authority(
    portal: Portal,
) -> None:
    prime = portal.book.account("prime")
    customer = _owner(portal, prime)
    offered = _with_policy(portal, service.options, customer_id=customer, account_id=prime)
    plans = {p.option: p for p in offered.plans}
    assert "installment-12" in plans and "installment-60" in plans
    twelve = plans["installment-12"]
    assert twelve.payments == 12 and not twelve.approved_at_once
    assert twelve.monthly_amount and twelve.total_to_pay
    chosen = _with_policy(
        portal,
        service.choose_plan,
        customer_id=customer,
        account_id=prime,
        option="installment-12",
        note="I can pay about 1,000 a month",
    )
    # Beyond the policy's automatic limits: proposed, for a supervisor or manager to decide.
    assert chosen["status"] == "proposed" and not chosen["approved"]
    assert chosen["monthly_amount"] == twelve.monthly_amount
    ((proposed_by, status),) = portal.rows(
        "SELECT proposed_by, status FROM arrangements WHERE arrangement_id = :i",
        i=chosen["arrangement_id"],
    )
    assert (proposed_by, status) == (f"customer:{customer}", "proposed")
    with unit_of_work(portal.settings.resolved_database_url) as session:
        arrangements.approve(
            session, portal.policy, chosen["arrangement_id"], actor=SUPERVISOR, reason="checked"
        )
    view = _call(portal, service.account_view, customer_id=customer, account_id=prime)
    assert view["arrangement"]["status"] == "approved"
    assert view["arrangement"]["next_payment"]["amount"] == twelve.monthly_amount
    assert [h["kind"] for h in view["holds"]] == []  # the hold starts tomorrow


def test_a_plan_that_is_not_offered_is_refused_and_nothing_is_written(portal: Portal) -> None:
    prime = portal.book.account("prime")
    risky = portal.book.account("high_risk")
    before = portal.book.counts()
    with pytest.raises(InvalidInput, match=r"^option: 'installment-7'"):
        _with_policy(
            portal,
            service.choose_plan,
            customer_id=_owner(portal, prime),
            account_id=prime,
            option="installment-7",
        )
    offered = _with_policy(
        portal, service.options, customer_id=_owner(portal, risky), account_id=risky
    )
    assert offered.plans == ()  # high-risk accounts are offered no plan (policy)
    with pytest.raises(InvalidInput, match="none today"):
        _with_policy(
            portal,
            service.choose_plan,
            customer_id=_owner(portal, risky),
            account_id=risky,
            option="installment-12",
        )
    assert portal.book.counts() == before


def test_a_promise_inside_the_automatic_limit_is_approved_at_once_and_a_later_one_waits(
    portal: Portal,
) -> None:
    prime = portal.book.account("prime")
    standard = portal.book.account("standard")
    soon = _with_policy(
        portal,
        service.promise_to_pay,
        customer_id=_owner(portal, prime),
        account_id=prime,
        pay_by=AS_OF + timedelta(days=7),
    )
    assert soon["status"] == "approved" and soon["total_to_pay"] == "1150.00"
    limits = _with_policy(
        portal, service.options, customer_id=_owner(portal, standard), account_id=standard
    ).promise
    assert limits.latest == AS_OF + timedelta(days=21)
    assert limits.approved_at_once_until == AS_OF + timedelta(days=14)
    with pytest.raises(InvalidInput, match=r"^pay_by: choose a date from"):
        _with_policy(
            portal,
            service.promise_to_pay,
            customer_id=_owner(portal, standard),
            account_id=standard,
            pay_by=AS_OF + timedelta(days=22),
        )
    later = _with_policy(
        portal,
        service.promise_to_pay,
        customer_id=_owner(portal, standard),
        account_id=standard,
        pay_by=AS_OF + timedelta(days=20),
    )
    assert later["status"] == "proposed"
    with pytest.raises(Conflict, match="already has"):
        _with_policy(
            portal,
            service.promise_to_pay,
            customer_id=_owner(portal, standard),
            account_id=standard,
            pay_by=AS_OF + timedelta(days=5),
        )


def test_a_hardship_application_with_evidence_is_stored_by_hash_and_waits_for_staff(
    portal: Portal,
) -> None:
    prime = portal.book.account("prime")
    customer = _owner(portal, prime)
    applied = _with_policy(
        portal,
        service.apply_for_hardship,
        customer_id=customer,
        account_id=prime,
        reason_code="job_loss",
        details="laid off in November",
        days=60,
        evidence=[PDF, PNG],
    )
    assert applied["status"] == "applied" and applied["evidence_files"] == 2
    for content in (PDF, PNG):
        stored = portal.settings.home / "evidence" / hashlib.sha256(content).hexdigest()
        assert stored.read_bytes() == content
    rows = portal.rows(
        "SELECT e.filename, h.applied_by, h.applied_via FROM hardship_evidence e"
        " JOIN hardship_applications h USING (hardship_id) ORDER BY e.filename"
    )
    assert rows == [
        ("evidence-1.pdf", f"customer:{customer}", "portal"),
        ("evidence-2.png", f"customer:{customer}", "portal"),
    ]
    view = _call(portal, service.account_view, customer_id=customer, account_id=prime)
    assert [h["status"] for h in view["hardship"]] == ["applied"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"MZ\x90\x00 a windows program", "only PDF, JPEG or PNG"),
        (b"<html><script>alert(1)</script></html>", "only PDF, JPEG or PNG"),
        (b"", "empty"),
        (b"%PDF-" + b"0" * (5 * 1024 * 1024), "at most 5 MB"),
    ],
    ids=["exe", "html", "empty", "too-big"],
)
def test_evidence_that_is_not_a_small_pdf_jpeg_or_png_is_refused_and_nothing_written(
    portal: Portal, content: bytes, message: str
) -> None:
    prime = portal.book.account("prime")
    before = portal.book.counts()
    with pytest.raises(InvalidInput, match=rf"^evidence\[1\]: .*{message}"):
        _with_policy(
            portal,
            service.apply_for_hardship,
            customer_id=_owner(portal, prime),
            account_id=prime,
            reason_code="illness",
            details="in hospital",
            days=30,
            evidence=[PDF, content],
        )
    assert portal.book.counts() == before
    assert not (portal.settings.home / "evidence").exists()


def test_one_rating_a_day_from_one_to_five(portal: Portal) -> None:
    prime = portal.book.account("prime")
    customer = _owner(portal, prime)

    def rate(score: int, *, hours: int = 0, comment: str | None = None) -> Any:
        return _call(
            portal,
            service.rate_service,
            customer_id=customer,
            score=score,
            comment=comment,
            account_id=prime,
            channel="portal",
            now=NOW + timedelta(hours=hours),
        )

    with pytest.raises(InvalidInput, match=r"^score: "):
        rate(6)
    assert rate(5, comment="  kind and clear  ")["day"] == "2026-11-28"
    with pytest.raises(Conflict, match="today already"):
        rate(4, hours=12)  # 22:00 in Beijing: the same day
    assert rate(3, hours=15)["day"] == "2026-11-29"  # 01:00 next day in Beijing
    assert portal.rows("SELECT score, comment, channel FROM csat_ratings ORDER BY rating_id") == [
        (5, "kind and clear", "portal"),
        (3, None, "portal"),
    ]


def test_an_account_with_nothing_overdue_offers_no_plan_and_no_promise(portal: Portal) -> None:
    paid_up = portal.book.account("prime", overdue=False)
    customer = _owner(portal, paid_up)
    view = _call(portal, service.account_view, customer_id=customer, account_id=paid_up)
    assert view["owed"]["amount_overdue"] == "0.00"
    offered = _with_policy(portal, service.options, customer_id=customer, account_id=paid_up)
    assert offered.plans == ()
    assert offered.promise is None or not offered.promise.available
    with pytest.raises(InvalidInput, match=r"^pay_by: "):
        _with_policy(
            portal,
            service.promise_to_pay,
            customer_id=customer,
            account_id=paid_up,
            pay_by=AS_OF + timedelta(days=5),
        )
