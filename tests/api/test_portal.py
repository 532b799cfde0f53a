"""The customer portal over the API: a code by SMS traded for a customer's token, then the
customer's own accounts only; staff and customer tokens never open each other's routes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from huancui.access import tokens
from huancui.access.users import add_user
from huancui.kit.settings import Settings
from huancui.portal import codes
from tests.api.conftest import assert_problem, bearer
from tests.arrangements.conftest import AS_OF, COLLECTOR, SUPERVISOR, Book

PHONE_C1 = "13800000001"
PHONE_C3 = "13800000003"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _fresh_portal_throttles() -> Iterator[None]:
    codes.REQUESTS.reset()
    codes.FAILURES.reset()
    yield
    codes.REQUESTS.reset()
    codes.FAILURES.reset()


def _last_code(settings: Settings) -> str:
    lines = (settings.home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    (code,) = re.findall(r"(?<!\d)\d{6}(?!\d)", json.loads(lines[-1])["body"])
    return str(code)


def _sign_in(client: TestClient, settings: Settings, phone: str) -> dict[str, str]:
    assert client.post("/api/portal/code", json={"phone": phone}).status_code == 202
    answer = client.post("/api/portal/token", json={"phone": phone, "code": _last_code(settings)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and 0 < body["expires_in"] <= 15 * 60
    return {"Authorization": f"Bearer {body['access_token']}"}


def _owner_of(book: Book, account_id: str) -> str:
    ((customer_id,),) = book.rows(
        "SELECT customer_id FROM accounts WHERE account_id = :a", a=account_id
    )
    return str(customer_id)


def test_a_customer_signs_in_with_the_code_and_sees_their_accounts(
    book_client: TestClient, book_settings: Settings, book: Book
) -> None:
    headers = _sign_in(book_client, book_settings, PHONE_C1)
    mine = book_client.get("/api/portal/accounts", headers=headers)
    assert mine.status_code == 200
    ids = {a["account_id"] for a in mine.json()["accounts"]}
    assert book.account("prime") in ids and book.account("standard") not in ids


def test_known_and_unknown_numbers_get_the_same_answer(
    book_client: TestClient, book_settings: Settings
) -> None:
    known = book_client.post("/api/portal/code", json={"phone": PHONE_C1})
    unknown = book_client.post("/api/portal/code", json={"phone": "13912345678"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert assert_problem(
        book_client.post("/api/portal/code", json={"phone": "not a phone"}), 422, "invalid-input"
    )["detail"].startswith("phone: ")


def test_a_wrong_code_is_refused_and_the_attempt_is_kept(
    book_client: TestClient, book_settings: Settings, book: Book
) -> None:
    book_client.post("/api/portal/code", json={"phone": PHONE_C1})
    code = _last_code(book_settings)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = book_client.post("/api/portal/token", json={"phone": PHONE_C1, "code": wrong})
    body = assert_problem(refused, 401, "sign-in-required")
    assert "wrong" in body["detail"]
    assert book.rows("SELECT attempts FROM one_time_codes") == [(1,)]  # committed
    assert (
        book_client.post("/api/portal/token", json={"phone": PHONE_C1, "code": code}).status_code
        == 200
    )


def test_customer_and_staff_tokens_never_open_each_others_routes(
    book_client: TestClient, book_settings: Settings, book: Book
) -> None:
    customer = _sign_in(book_client, book_settings, PHONE_C1)
    staff_route = book_client.get("/api/arrangements", headers=customer)
    assert_problem(staff_route, 401, "sign-in-required")
    collector = bearer(book_settings, COLLECTOR)
    assert_problem(book_client.get("/api/portal/accounts", headers=collector), 403, "not-permitted")
    assert_problem(book_client.get("/api/portal/accounts"), 401, "sign-in-required")


def test_a_customer_token_never_passes_as_a_staff_user_of_the_same_name(
    book_client: TestClient, book_settings: Settings, book: Book
) -> None:
    # A bank whose customer ids look like usernames: customer "c1" and manager "c1".
    with book.session() as session:
        add_user(session, username="c1", display_name="", role="manager", actor="admin")
    token = tokens.issue_customer_access(book_settings, "c1", now=datetime.now(UTC))
    customer = {"Authorization": f"Bearer {token}"}
    assert_problem(book_client.get("/api/arrangements", headers=customer), 401, "sign-in-required")
    assert book_client.get("/api/portal/accounts", headers=customer).json()["accounts"] == []
    manager = bearer(book_settings, "c1")  # the real staff user
    assert book_client.get("/api/arrangements", headers=manager).status_code == 200
    assert_problem(book_client.get("/api/portal/accounts", headers=manager), 403, "not-permitted")


def test_another_customers_account_answers_404_like_a_missing_one(
    book_client: TestClient, book_settings: Settings, book: Book
) -> None:
    headers = _sign_in(book_client, book_settings, PHONE_C1)
    other = book.account("standard")
    assert _owner_of(book, other) != "C1"
    for path in ("", "/offers"):
        theirs = book_client.get(f"/api/portal/accounts/{other}{path}", headers=headers)
        missing = book_client.get(f"/api/portal/accounts/NOPE{path}", headers=headers)
        assert_problem(theirs, 404, "not-found")
        assert_problem(missing, 404, "not-found")
    plan = book_client.post(
        f"/api/portal/accounts/{other}/plans", json={"option": "installment-12"}, headers=headers
    )
    assert_problem(plan, 404, "not-found")
    upload = book_client.post(
        "/api/portal/hardship",
        data={"account_id": other, "reason_code": "illness", "details": "in hospital"},
        files=[("evidence", ("x.pdf", PDF, "application/pdf"))],
        headers=headers,
    )
    assert_problem(upload, 404, "not-found")
    assert book.count("hardship_applications") == 0


def test_what_is_owed_offers_a_chosen_plan_and_a_promise(
    book_client: TestClient, book_settings: Settings, book: Book
) -> None:
    prime = book.account("prime")
    headers = _sign_in(book_client, book_settings, PHONE_C1)
    account = book_client.get(f"/api/portal/accounts/{prime}", headers=headers).json()
    assert account["owed"]["amount_overdue"] == "1150.00"
    offers = book_client.get(f"/api/portal/accounts/{prime}/offers", headers=headers).json()
    twelve = next(p for p in offers["plans"] if p["option"] == "installment-12")
    assert {"monthly_amount", "total_to_pay", "payments"} <= set(twelve)
    assert "expected_recovery" not in json.dumps(offers)  # the bank's estimates stay inside
    chosen = book_client.post(
        f"/api/portal/accounts/{prime}/plans",
        json={"option": "installment-12"},
        headers={**headers, "Idempotency-Key": "plan-1"},
    )
    assert chosen.status_code == 201 and chosen.json()["status"] == "proposed"
    again = book_client.post(
        f"/api/portal/accounts/{prime}/plans",
        json={"option": "installment-12"},
        headers={**headers, "Idempotency-Key": "plan-1"},
    )
    assert again.json() == chosen.json() and again.headers["Idempotent-Replayed"] == "true"
    assert book.count("arrangements") == 1
    # A supervisor approves it under the authority matrix; the customer never could.
    approved = book_client.post(
        f"/api/arrangements/{chosen.json()['arrangement_id']}/approve",
        json={"reason": "income checked"},
        headers=bearer(book_settings, SUPERVISOR),
    )
    assert approved.status_code == 200, approved.text

    standard = book.account("standard")
    other = _sign_in(book_client, book_settings, PHONE_C3)
    too_late = book_client.post(
        f"/api/portal/accounts/{standard}/promises",
        json={"pay_by": (AS_OF + timedelta(days=60)).isoformat()},
        headers=other,
    )
    assert assert_problem(too_late, 422, "invalid-input")["detail"].startswith("pay_by: ")
    promised = book_client.post(
        f"/api/portal/accounts/{standard}/promises",
        json={"pay_by": (AS_OF + timedelta(days=10)).isoformat(), "amount": "750.00"},
        headers=other,
    )
    assert promised.status_code == 201, promised.text
    assert promised.json()["status"] == "approved"  # within the policy's automatic 14 days


def test_hardship_with_a_pdf_is_pending_and_a_disguised_file_is_refused(
    book_client: TestClient, book_settings: Settings, book: Book
) -> None:
    prime = book.account("prime")
    headers = _sign_in(book_client, book_settings, PHONE_C1)
    form = {"account_id": prime, "reason_code": "job_loss", "details": "laid off", "days": "60"}
    disguised = book_client.post(
        "/api/portal/hardship",
        data=form,
        files=[("evidence", ("payslip.pdf", b"<html>not a pdf</html>", "application/pdf"))],
        headers=headers,
    )
    assert assert_problem(disguised, 422, "invalid-input")["detail"].startswith("evidence[0]: ")
    assert book.count("hardship_applications") == 0
    applied = book_client.post(
        "/api/portal/hardship",
        data=form,
        files=[("evidence", ("../../etc/passwd.pdf", PDF, "application/pdf"))],
        headers=headers,
    )
    assert applied.status_code == 201, applied.text
    assert applied.json()["status"] == "applied"
    assert book.rows("SELECT filename FROM hardship_evidence") == [("evidence-1.pdf",)]
    account = book_client.get(f"/api/portal/accounts/{prime}", headers=headers).json()
    assert [h["status"] for h in account["hardship"]] == ["applied"]


def test_a_rating_once_a_day(book_client: TestClient, book_settings: Settings, book: Book) -> None:
    headers = _sign_in(book_client, book_settings, PHONE_C1)
    first = book_client.post(
        "/api/portal/ratings", json={"score": 5, "comment": "clear"}, headers=headers
    )
    assert first.status_code == 201 and first.json()["score"] == 5
    assert_problem(
        book_client.post("/api/portal/ratings", json={"score": 4}, headers=headers),
        409,
        "conflict",
    )
    assert_problem(
        book_client.post("/api/portal/ratings", json={"score": 0}, headers=headers),
        422,
        "invalid-input",
    )
    assert book.rows("SELECT customer_id, score, channel FROM csat_ratings") == [("C1", 5, "api")]
