"""Contact outcomes over the API: the codes, logging with an Idempotency-Key, refused notes as
problem details, and the filtered log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from huancui.kit.settings import Settings
from tests.api.conftest import assert_problem, bearer
from tests.cases.conftest import (  # noqa: F401  (fixtures)
    COLLECTOR,
    DAY,
    NOW,
    SUPERVISOR,
    Book,
    worked,
)


def _take(client: TestClient, headers: dict[str, str]) -> str:
    taken = client.post("/api/cases/next", json={"as_of": DAY.isoformat()}, headers=headers)
    assert taken.status_code == 200, taken.text
    account: str = taken.json()["account_id"]
    return account


def _outcome(account: str, code: str = "no_answer", **extra: Any) -> dict[str, Any]:
    return {
        "account_id": account,
        "outcome": code,
        "occurred_at": (NOW + timedelta(minutes=2)).isoformat(),
        **extra,
    }


def test_the_codes_are_listed_with_labels_in_both_languages(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    codes = book_client.get("/api/outcomes/codes", headers=bearer(book_settings, COLLECTOR))
    assert codes.status_code == 200
    by_code = {c["code"]: c for c in codes.json()}
    assert by_code["promise_to_pay"]["labels"] == {"en": "Promise to pay", "zh-CN": "承诺还款"}
    assert by_code["dispute"]["effect"] == "dispute_hold" and by_code["dispute"]["note_required"]


def test_an_outcome_replayed_with_its_idempotency_key_is_logged_once(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    me = bearer(book_settings, COLLECTOR)
    account = _take(book_client, me)
    headers = {**me, "Idempotency-Key": "outcome-H1-0001"}
    first = book_client.post("/api/outcomes", json=_outcome(account), headers=headers)
    assert first.status_code == 201, first.text
    assert (first.json()["outcome"], first.json()["actor"]) == ("no_answer", COLLECTOR)
    again = book_client.post("/api/outcomes", json=_outcome(account), headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert worked.count("contact_outcomes") == 1
    other = book_client.post(
        "/api/outcomes", json=_outcome(account, "left_message"), headers=headers
    )
    assert_problem(other, 409, "conflict")
    assert worked.count("contact_outcomes") == 1
    # The case left the queue.
    queue = book_client.get("/api/cases/queue", params={"as_of": DAY.isoformat()}, headers=me)
    assert account not in [c["account_id"] for c in queue.json()["items"]]


def test_a_threatening_note_is_refused_naming_what_to_rephrase(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    me = bearer(book_settings, COLLECTOR)
    account = _take(book_client, me)
    refused = book_client.post(
        "/api/outcomes",
        json=_outcome(account, "refusal", note="我说再不还就通知你单位"),
        headers=me,
    )
    detail = assert_problem(refused, 422, "invalid-input")["detail"]
    assert "exposure" in detail and "通知你单位" in detail
    unknown = book_client.post("/api/outcomes", json=_outcome(account, "maybe"), headers=me)
    assert "promise_to_pay" in assert_problem(unknown, 422, "invalid-input")["detail"]
    assert worked.count("contact_outcomes") == 0


def test_someone_elses_case_is_not_permitted_and_an_analyst_may_not_write(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    account = _take(book_client, bearer(book_settings, COLLECTOR))
    other = book_client.post(
        "/api/outcomes", json=_outcome(account), headers=bearer(book_settings, "chen.collector")
    )
    assert_problem(other, 403, "not-permitted")
    analyst = book_client.post(
        "/api/outcomes", json=_outcome(account), headers=bearer(book_settings, "sun.analyst")
    )
    assert_problem(analyst, 403, "not-permitted")


def test_the_log_is_filtered_and_paged(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    me = bearer(book_settings, COLLECTOR)
    account = _take(book_client, me)
    assert book_client.post("/api/outcomes", json=_outcome(account), headers=me).status_code == 201
    boss = bearer(book_settings, SUPERVISOR)
    logged = book_client.post(
        "/api/outcomes", json=_outcome("S1", "callback_requested", note="after 18:00"), headers=boss
    )
    assert logged.status_code == 201, logged.text
    page = book_client.get("/api/outcomes", params={"actor": SUPERVISOR}, headers=me).json()
    assert [(o["account_id"], o["note"]) for o in page["items"]] == [("S1", "after 18:00")]
    assert (page["total"], page["limit"], page["offset"]) == (1, 50, 0)
    paged = book_client.get("/api/outcomes", params={"limit": 1, "offset": 1}, headers=me).json()
    assert (len(paged["items"]), paged["total"]) == (1, 2)
    naive = book_client.get("/api/outcomes", params={"since": "2026-11-28T10:00:00"}, headers=me)
    assert_problem(naive, 422, "invalid-input")
