"""Sign-in over the API: the OAuth2 password flow, lockout, tampered and expired tokens, refresh
rotation and reuse, sign-out (docs/security.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from huancui.access.tables import AuditEventRow, UserRow
from huancui.access.throttle import REFUSED
from huancui.access.tokens import GENERIC
from huancui.kit.database import unit_of_work
from huancui.kit.settings import Settings
from tests.api.conftest import PASSWORD, assert_problem, bearer, username_of

COLLECTOR = username_of("collector")


def _sign_in(client: TestClient, password: str = PASSWORD, username: str = COLLECTOR) -> Response:
    response: Response = client.post(
        "/api/auth/token", data={"username": username, "password": password}
    )
    return response


def test_sign_in_gives_a_bearer_pair_that_opens_the_api(client: TestClient) -> None:
    response = _sign_in(client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 15 * 60
    assert body["access_token"] and body["refresh_token"]
    listed = client.get(
        "/api/arrangements", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert listed.status_code == 200
    assert listed.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_every_refused_sign_in_gives_the_same_401_and_keeps_its_count(
    client: TestClient, api_settings: Settings
) -> None:
    wrong = assert_problem(_sign_in(client, "not the password at all"), 401, "sign-in-required")
    unknown = assert_problem(_sign_in(client, username="nobody.here"), 401, "sign-in-required")
    assert wrong["detail"] == unknown["detail"] == REFUSED
    # The refusal was raised after the unit of work committed the count and the audit events.
    with unit_of_work(api_settings.resolved_database_url) as session:
        user = session.scalars(select(UserRow).where(UserRow.username == COLLECTOR)).one()
        assert user.failed_logins == 1
        actions = session.scalars(
            select(AuditEventRow.action).where(AuditEventRow.action.like("login.%"))
        ).all()
        assert actions == ["login.failure", "login.failure"]


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(
    client: TestClient,
) -> None:
    for _ in range(5):
        assert _sign_in(client, "wrong wrong wrong").status_code == 401
    locked = assert_problem(_sign_in(client), 401, "sign-in-required")
    assert locked["detail"] == REFUSED  # nothing says the account is locked


def test_a_tampered_token_is_refused_with_the_generic_message(
    client: TestClient, api_settings: Settings
) -> None:
    headers = bearer(api_settings, COLLECTOR)
    token = headers["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    for value in (f"Bearer {forged}", "Bearer not-a-jwt", "Basic abc"):
        refused = client.get("/api/arrangements", headers={"Authorization": value})
        body = assert_problem(refused, 401, "sign-in-required")
        assert body["detail"] == GENERIC
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert_problem(client.get("/api/arrangements"), 401, "sign-in-required")


def test_an_expired_token_is_refused(client: TestClient, api_settings: Settings) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    stale = bearer(api_settings, COLLECTOR, now=an_hour_ago)
    body = assert_problem(client.get("/api/arrangements", headers=stale), 401, "sign-in-required")
    assert body["detail"] == GENERIC


def test_a_refresh_token_is_not_an_access_token(client: TestClient) -> None:
    refresh = _sign_in(client).json()["refresh_token"]
    refused = client.get("/api/arrangements", headers={"Authorization": f"Bearer {refresh}"})
    assert_problem(refused, 401, "sign-in-required")


def test_refresh_rotates_and_a_reused_token_signs_the_family_out(client: TestClient) -> None:
    first = _sign_in(client).json()
    second = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    # The spent token presented again (a copy): refused, and the rotated one dies with it.
    reused = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_problem(reused, 401, "sign-in-required")
    after = client.post("/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert_problem(after, 401, "sign-in-required")


def test_logout_revokes_the_refresh_family(client: TestClient) -> None:
    pair = _sign_in(client).json()
    assert (
        client.post("/api/auth/logout", json={"refresh_token": pair["refresh_token"]}).status_code
        == 204
    )
    again = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_problem(again, 401, "sign-in-required")
