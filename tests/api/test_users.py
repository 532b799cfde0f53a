"""Staff users over the API: an admin adds a user who can then sign in, changes a role (in force
on the next request), deactivates (signed out at once) and resets passwords; no answer ever holds
a password hash, and every change is in the audit log."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from huancui.access.tables import AuditEventRow
from huancui.kit.database import unit_of_work
from huancui.kit.settings import Settings
from tests.api.conftest import PASSWORD, assert_problem, bearer, username_of

ADMIN = username_of("admin")
NEW_PASSWORD = "a long and memorable passphrase"


def _admin(settings: Settings) -> dict[str, str]:
    return bearer(settings, ADMIN)


def _sign_in(client: TestClient, username: str, password: str) -> Response:
    response: Response = client.post(
        "/api/auth/token", data={"username": username, "password": password}
    )
    return response


def _actions(settings: Settings, username: str) -> list[tuple[str, str]]:
    with unit_of_work(settings.resolved_database_url) as session:
        rows = session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.entity_type == "user", AuditEventRow.entity_id == username)
            .order_by(AuditEventRow.event_id)
        )
        return [(r.action, r.actor) for r in rows]


def test_an_added_user_signs_in_and_no_answer_holds_a_password_hash(
    client: TestClient, api_settings: Settings
) -> None:
    created = client.post(
        "/api/users",
        json={
            "username": "zhou.collector",
            "display_name": "周催收",
            "role": "collector",
            "password": NEW_PASSWORD,
        },
        headers=_admin(api_settings),
    )
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/api/users/zhou.collector"
    body = created.json()
    assert (body["role"], body["active"], body["password_set"]) == ("collector", True, True)
    listed = client.get("/api/users", headers=_admin(api_settings))
    shown = client.get("/api/users/zhou.collector", headers=_admin(api_settings))
    for response in (created, listed, shown):
        assert "argon2" not in response.text and "password_hash" not in response.text
        assert NEW_PASSWORD not in response.text
    assert _actions(api_settings, "zhou.collector") == [
        ("user.add", ADMIN),
        ("user.set_password", ADMIN),
    ]
    assert _sign_in(client, "zhou.collector", NEW_PASSWORD).status_code == 200
    again = client.post(
        "/api/users",
        json={"username": "zhou.collector", "role": "collector"},
        headers=_admin(api_settings),
    )
    assert_problem(again, 409, "conflict")
    bad_role = client.post(
        "/api/users", json={"username": "x.y", "role": "root"}, headers=_admin(api_settings)
    )
    assert "role" in assert_problem(bad_role, 422, "invalid-input")["detail"]


def test_a_new_role_takes_effect_on_the_next_request(
    client: TestClient, api_settings: Settings
) -> None:
    collector = username_of("collector")
    token = bearer(api_settings, collector)
    assert_problem(client.get("/api/approvals", headers=token), 403, "not-permitted")
    changed = client.patch(
        f"/api/users/{collector}",
        json={"role": "supervisor", "reason": "promoted to team lead"},
        headers=_admin(api_settings),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "supervisor"
    assert client.get("/api/approvals", headers=token).status_code == 200  # same token
    with unit_of_work(api_settings.resolved_database_url) as session:
        event = session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "user.change")
        ).one()
        assert (event.before, event.after, event.reason) == (
            {"role": "collector", "active": True},
            {"role": "supervisor", "active": True},
            "promoted to team lead",
        )


def test_a_deactivated_user_is_signed_out_at_once_everywhere(
    client: TestClient, api_settings: Settings
) -> None:
    collector = username_of("collector")
    pair = _sign_in(client, collector, PASSWORD).json()
    access = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get("/api/arrangements", headers=access).status_code == 200
    off = client.patch(
        f"/api/users/{collector}",
        json={"active": False, "reason": "left the bank"},
        headers=_admin(api_settings),
    )
    assert off.status_code == 200 and off.json()["active"] is False
    assert_problem(client.get("/api/arrangements", headers=access), 401, "sign-in-required")
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_problem(refreshed, 401, "sign-in-required")
    assert_problem(_sign_in(client, collector, PASSWORD), 401, "sign-in-required")
    listed = client.get("/api/users", params={"active": "false"}, headers=_admin(api_settings))
    assert [u["username"] for u in listed.json()["items"]] == [collector]


def test_changes_that_make_no_sense_are_refused(client: TestClient, api_settings: Settings) -> None:
    admin = _admin(api_settings)
    own = client.patch(f"/api/users/{ADMIN}", json={"active": False, "reason": "x"}, headers=admin)
    assert "another admin" in assert_problem(own, 409, "conflict")["detail"]
    nothing = client.patch(
        f"/api/users/{username_of('analyst')}", json={"reason": "x"}, headers=admin
    )
    assert_problem(nothing, 422, "invalid-input")
    no_reason = client.patch(
        f"/api/users/{username_of('analyst')}", json={"role": "collector"}, headers=admin
    )
    assert ["body", "reason"] in [e["loc"] for e in no_reason.json()["errors"]]
    unknown = client.patch(
        "/api/users/nobody", json={"active": False, "reason": "x"}, headers=admin
    )
    assert_problem(unknown, 404, "not-found")
    bad_role = client.patch(
        f"/api/users/{username_of('analyst')}",
        json={"role": "superuser", "reason": "x"},
        headers=admin,
    )
    assert "superuser" in assert_problem(bad_role, 422, "invalid-input")["detail"]


def test_a_password_reset_checks_the_policy_and_replaces_the_old_one(
    client: TestClient, api_settings: Settings
) -> None:
    collector = username_of("collector")
    url = f"/api/users/{collector}/password"
    weak = client.post(url, json={"password": "short"}, headers=_admin(api_settings))
    body = assert_problem(weak, 422, "invalid-input")
    assert "at least" in body["detail"] and "short" not in weak.text  # never echoed
    reset = client.post(url, json={"password": NEW_PASSWORD}, headers=_admin(api_settings))
    assert reset.status_code == 204, reset.text
    assert_problem(_sign_in(client, collector, PASSWORD), 401, "sign-in-required")
    assert _sign_in(client, collector, NEW_PASSWORD).status_code == 200
    missing = client.post(
        "/api/users/nobody.here/password",
        json={"password": NEW_PASSWORD},
        headers=_admin(api_settings),
    )
    assert_problem(missing, 404, "not-found")


def test_the_list_filters_pages_and_treats_sql_looking_values_as_data(
    client: TestClient, api_settings: Settings
) -> None:
    admin = _admin(api_settings)
    everyone = client.get("/api/users", headers=admin).json()
    assert everyone["total"] == 7
    names = [u["username"] for u in everyone["items"]]
    assert names == sorted(names)
    page = client.get("/api/users", params={"limit": 2, "offset": 2}, headers=admin).json()
    assert [u["username"] for u in page["items"]] == names[2:4]
    supervisors = client.get("/api/users", params={"role": "supervisor"}, headers=admin).json()
    assert [u["username"] for u in supervisors["items"]] == [username_of("supervisor")]
    for attack in ("' OR 1=1 --", "admin' OR 'x'='x", "%"):
        found = client.get("/api/users", params={"role": attack}, headers=admin)
        assert found.status_code == 200 and found.json()["total"] == 0
    assert_problem(
        client.get("/api/users", headers=bearer(api_settings, username_of("manager"))),
        403,
        "not-permitted",
    )
