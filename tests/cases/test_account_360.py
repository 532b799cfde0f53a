"""The account 360 view (SQLite and PostgreSQL): everything on one screen, personal data masked
for roles that do not need it, the script of the open work item in the asked language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from huancui.cases import service
from huancui.kit.errors import InvalidInput, NotFound
from huancui.kit.money import display_yuan
from tests.arrangements.conftest import AS_OF, national_id
from tests.cases.conftest import COLLECTOR, DAY, NOW, SUPERVISOR, Book

# P1's customer C1 is the first of the book's delivery.
PHONE = "13800000001"
NATIONAL_ID = national_id("11010119900307001")


def _view(book: Book, account_id: str = "P1", **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("role", "collector")
    kwargs.setdefault("as_of", AS_OF)
    with book.session() as session:
        return service.account_360(session, book.settings, account_id=account_id, **kwargs)


def test_a_collector_sees_the_phone_but_not_the_national_id(worked: Book) -> None:
    customer = _view(worked)["customer"]
    assert customer["phone"] == PHONE
    assert customer["national_id"] == NATIONAL_ID[:3] + "*" * 11 + NATIONAL_ID[-4:]
    assert customer["name"] == "测试甲"


def test_roles_without_personal_data_permissions_see_it_masked(worked: Book) -> None:
    customer = _view(worked, role="strategy_manager", with_offers=False)["customer"]
    assert customer["phone"] == "138****0001"
    assert customer["national_id"] != NATIONAL_ID and customer["name"] == "测**"
    officer = _view(worked, role="compliance_officer", with_offers=False)["customer"]
    assert (officer["phone"], officer["national_id"]) == (PHONE, NATIONAL_ID)


def test_the_view_shows_balances_history_contacts_and_the_customers_accounts(
    worked: Book,
) -> None:
    view = _view(worked)
    arrears = worked.snapshot_value("P1", "arrears_fen")
    assert view["balances"]["amount_overdue_fen"] == arrears
    assert view["balances"]["days_past_due"] == worked.snapshot_value("P1", "days_past_due")
    assert view["dpd_history"] == [
        {
            "as_of": AS_OF.isoformat(),
            "days_past_due": view["balances"]["days_past_due"],
            "bucket": view["balances"]["bucket"],
            "amount_overdue_fen": arrears,
        }
    ]
    # The bucket history comes from the delivered history, not only from imported snapshots:
    # the spells the delinquency engine stored, ending in the bucket the account is in now.
    spells = worked.rows(
        "SELECT bucket, started_on FROM delinquency_spells WHERE account_id = 'P1'"
        " ORDER BY started_on"
    )
    assert spells and [b["bucket"] for b in view["bucket_history"]] == [b for b, _ in spells]
    assert view["bucket_history"][-1]["bucket"] == view["balances"]["bucket"]
    assert view["bucket_history"][-1]["ended_on"] is None
    # C1 holds P1 and Z1 (nothing overdue on Z1).
    assert [(a["account_id"], a["amount_overdue_fen"]) for a in view["accounts"]] == [
        ("P1", arrears),
        ("Z1", 0),
    ]
    assert [(m["channel"], m["status"]) for m in view["contacts"]["messages"]] == [
        ("sms", "pending")
    ]
    assert [(i["channel"], i["status"]) for i in view["contacts"]["work_items"]] == [
        ("call", "open")
    ]
    assert view["contacts"]["outcomes"] == [] and view["claim"] is None
    assert {o["kind"] for o in view["offers"]["options"]} >= {"ptp"}


def test_outcomes_holds_and_arrangements_appear_newest_first(worked: Book) -> None:
    with worked.session() as session:
        case = service.take_next(
            session, collector=COLLECTOR, as_of=DAY, now=NOW, queue="phone_prime"
        )
    assert case is not None and case.account_id == "P2"
    assert _view(worked, "P2", with_offers=False)["claim"]["collector"] == COLLECTOR
    worked.propose_ok(
        "P2",
        "--kind",
        "ptp",
        "--pay-by",
        (AS_OF + timedelta(days=10)).isoformat(),
        "--reason",
        "客户说周五还款",
    )
    for minutes, code in ((5, "no_answer"), (9, "dispute")):
        with worked.session() as session:
            service.log_outcome(
                session,
                worked.settings,
                account_id="P2",
                outcome=code,
                actor=SUPERVISOR,
                note="客户说不认可利息" if code == "dispute" else None,
                occurred_at=NOW + timedelta(minutes=minutes),
            )
    view = _view(worked, "P2", as_of=AS_OF + timedelta(days=1), with_offers=False)
    assert [o["outcome"] for o in view["contacts"]["outcomes"]] == ["dispute", "no_answer"]
    assert [a["kind"] for a in view["arrangements"]] == ["ptp"]
    assert {h["hold_type"] for h in view["holds"]["active"]} == {"dispute", "arrangement"}
    assert view["holds"]["past"] == [] and view["claim"] is None


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "Offer a solution"), ("zh-CN", "缓催银行")]
)
def test_the_script_of_the_open_call_is_rendered_in_the_asked_language(
    worked: Book, language: str, expected: str
) -> None:
    script = _view(worked, language=language, with_offers=False)["script"]
    assert (script["template"], script["tone"], script["channel"]) == (
        "call.offer_solution",
        "gentle",
        "call",
    )
    assert expected in script["text"]
    assert display_yuan(worked.snapshot_value("P1", "arrears_fen")) in script["text"]


def test_unknown_accounts_and_languages_are_refused(worked: Book) -> None:
    with pytest.raises(NotFound, match="NOPE"):
        _view(worked, "NOPE")
    with pytest.raises(InvalidInput, match="language"):
        _view(worked, language="fr")
