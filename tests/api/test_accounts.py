"""The account 360 view over the API: masked for the caller's role, as of the latest snapshot
unless asked, the script in the asked language."""

from __future__ import annotations

from fastapi.testclient import TestClient

from huancui.kit.settings import Settings
from tests.api.conftest import assert_problem, bearer
from tests.arrangements.conftest import AS_OF, national_id
from tests.cases.conftest import COLLECTOR, Book, worked  # noqa: F401  (fixtures)

PHONE = "13800000001"
NATIONAL_ID = national_id("11010119900307001")


def test_a_collector_sees_the_phone_in_clear_and_the_national_id_masked(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    response = book_client.get("/api/accounts/P1", headers=bearer(book_settings, COLLECTOR))
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["as_of"] == AS_OF.isoformat()  # the latest snapshot
    assert view["customer"]["phone"] == PHONE
    assert view["customer"]["national_id"] == NATIONAL_ID[:3] + "*" * 11 + NATIONAL_ID[-4:]
    assert PHONE in response.text and NATIONAL_ID not in response.text
    assert view["role"] == "collector"
    assert view["script"]["language"] == "zh-CN"


def test_a_strategy_manager_sees_no_personal_data_in_clear(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    # A role for the analyst of the book: strategy managers may read queues, not personal data.
    with worked.session() as session:
        from huancui.access.users import add_user

        add_user(
            session, username="qian.strategy", display_name="", role="strategy_manager", actor="t"
        )
    response = book_client.get(
        "/api/accounts/P1",
        params={"lang": "en", "offers": "false"},
        headers=bearer(book_settings, "qian.strategy"),
    )
    assert response.status_code == 200, response.text
    assert PHONE not in response.text and NATIONAL_ID not in response.text
    assert response.json()["script"]["language"] == "en"
    assert response.json()["offers"] is None


def test_an_analyst_is_refused_and_unknown_accounts_are_404(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    refused = book_client.get("/api/accounts/P1", headers=bearer(book_settings, "sun.analyst"))
    assert_problem(refused, 403, "not-permitted")
    missing = book_client.get("/api/accounts/NOPE", headers=bearer(book_settings, COLLECTOR))
    assert "NOPE" in assert_problem(missing, 404, "not-found")["detail"]
    bad = book_client.get(
        "/api/accounts/P1", params={"lang": "fr"}, headers=bearer(book_settings, COLLECTOR)
    )
    assert_problem(bad, 422, "invalid-input")
