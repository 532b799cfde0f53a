"""Arrangements over the API on the small book (tests/arrangements/conftest.py): propose with an
Idempotency-Key, four eyes, filters and pagination, and filter values that look like SQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from huancui.kit.settings import Settings
from tests.api.conftest import assert_problem, bearer
from tests.arrangements.conftest import AS_OF, COLLECTOR, MANAGER, SUPERVISOR, Book


def _plan(account: str, months: int = 12) -> dict[str, Any]:
    return {
        "account_id": account,
        "as_of": AS_OF.isoformat(),
        "kind": "installment",
        "months": months,
        "reason": "客户来电：月底发薪后还款",
    }


def test_propose_is_idempotent_with_the_same_key_and_refuses_another_body(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    account = book.account("prime")
    headers = {**bearer(book_settings, COLLECTOR), "Idempotency-Key": "call-2026-11-27-001"}
    first = book_client.post("/api/arrangements", json=_plan(account), headers=headers)
    assert first.status_code == 201, first.text
    shown = first.json()
    assert (shown["status"], shown["proposed_by"], shown["term_months"]) == (
        "proposed",
        COLLECTOR,
        12,
    )
    assert first.headers["Location"] == f"/api/arrangements/{shown['arrangement_id']}"
    again = book_client.post("/api/arrangements", json=_plan(account), headers=headers)
    assert again.status_code == 201
    assert again.json() == shown
    assert again.headers["Idempotent-Replayed"] == "true"
    assert book.count("arrangements") == 1
    other = book_client.post("/api/arrangements", json=_plan(account, 6), headers=headers)
    body = assert_problem(other, 409, "conflict")
    assert "call-2026-11-27-001" in body["detail"]
    assert book.count("arrangements") == 1


def test_nobody_approves_their_own_proposal_another_approver_may(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    account = book.account("prime")
    proposed = book_client.post(
        "/api/arrangements", json=_plan(account), headers=bearer(book_settings, SUPERVISOR)
    )
    assert proposed.status_code == 201, proposed.text
    arrangement = proposed.json()["arrangement_id"]
    own = book_client.post(
        f"/api/arrangements/{arrangement}/approve",
        json={"reason": "ok"},
        headers=bearer(book_settings, SUPERVISOR),
    )
    assert "four eyes" in assert_problem(own, 403, "not-permitted")["detail"]
    collector = book_client.post(
        f"/api/arrangements/{arrangement}/approve",
        json={},
        headers=bearer(book_settings, COLLECTOR),
    )
    assert_problem(collector, 403, "not-permitted")
    approved = book_client.post(
        f"/api/arrangements/{arrangement}/approve",
        json={"reason": "收入稳定"},
        headers=bearer(book_settings, MANAGER),
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", MANAGER)
    twice = book_client.post(
        f"/api/arrangements/{arrangement}/reject",
        json={"reason": "changed my mind"},
        headers=bearer(book_settings, MANAGER),
    )
    assert_problem(twice, 409, "conflict")


def test_list_filters_pages_and_treats_sql_looking_values_as_data(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    account = book.account("prime")
    headers = bearer(book_settings, COLLECTOR)
    created = book_client.post("/api/arrangements", json=_plan(account), headers=headers)
    assert created.status_code == 201, created.text
    arrangement = created.json()["arrangement_id"]

    def listed(**params: Any) -> dict[str, Any]:
        response = book_client.get("/api/arrangements", params=params, headers=headers)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    mine = listed(account_id=account, status="proposed")
    assert mine["total"] == 1 and mine["items"][0]["arrangement_id"] == arrangement
    assert listed(limit=1, offset=1) == {"items": [], "total": 1, "limit": 1, "offset": 1}
    for attack in ("' OR '1'='1", "x'; DROP TABLE arrangements; --", "1 OR 1=1"):
        assert listed(account_id=attack)["total"] == 0
        assert listed(status=attack)["total"] == 0
    assert book.count("arrangements") == 1
    shown = book_client.get(f"/api/arrangements/{arrangement}", headers=headers)
    assert shown.status_code == 200 and len(shown.json()["lines"]) == 12
    missing = book_client.get("/api/arrangements/999999", headers=headers)
    assert "999999" in assert_problem(missing, 404, "not-found")["detail"]
