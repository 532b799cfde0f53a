"""The audit log over the API: searching it by actor, action (or family), record and time, one page
at a time; personal values masked in what it shows (but kept intact, so the chain verifies);
verifying the hash chain and finding the event someone altered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from huancui.access import audit, audit_search
from huancui.kit.database import make_engine, unit_of_work
from huancui.kit.settings import Settings
from tests.api.conftest import assert_problem, bearer, username_of

ADMIN = username_of("admin")
OFFICER = username_of("compliance_officer")


def _add_users(client: TestClient, settings: Settings, *names: str) -> None:
    for name in names:
        response = client.post(
            "/api/users",
            json={"username": name, "role": "collector"},
            headers=bearer(settings, ADMIN),
        )
        assert response.status_code == 201, response.text


def test_search_filters_by_actor_action_family_record_and_time_newest_first(
    client: TestClient, api_settings: Settings
) -> None:
    _add_users(client, api_settings, "a.one", "b.two")
    headers = bearer(api_settings, OFFICER)
    mine = client.get("/api/audit", params={"actor": ADMIN}, headers=headers).json()
    assert [(e["action"], e["entity_id"]) for e in mine["items"]] == [
        ("user.add", "b.two"),
        ("user.add", "a.one"),
    ]
    assert mine["total"] == 2
    family = client.get("/api/audit", params={"action": "user.*"}, headers=headers).json()
    exact = client.get("/api/audit", params={"action": "user.add"}, headers=headers).json()
    # Seven staff users of the fixture plus two; one password set by the fixture.
    assert (family["total"], exact["total"]) == (10, 9)
    one = client.get(
        "/api/audit", params={"entity_type": "user", "entity_id": "a.one"}, headers=headers
    ).json()
    assert [e["action"] for e in one["items"]] == ["user.add"]
    page = client.get("/api/audit", params={"limit": 3, "offset": 1}, headers=headers).json()
    assert [e["event_id"] for e in page["items"]] == [e["event_id"] for e in family["items"][1:4]]
    now = datetime.now(UTC)
    later = client.get(
        "/api/audit", params={"since": (now + timedelta(hours=1)).isoformat()}, headers=headers
    ).json()
    earlier = client.get(
        "/api/audit",
        params={"since": (now - timedelta(hours=1)).isoformat(), "until": now.isoformat()},
        headers=headers,
    ).json()
    assert (later["total"], earlier["total"]) == (0, family["total"])


def test_filters_that_look_like_sql_or_wildcards_match_nothing(
    client: TestClient, api_settings: Settings
) -> None:
    headers = bearer(api_settings, OFFICER)
    for name, attack in (
        ("actor", "' OR 1=1 --"),
        ("action", "user.add' OR '1'='1"),
        ("action", "%.*"),
        ("action", "_ser.*"),
        ("entity_id", "x'; DELETE FROM audit_events; --"),
    ):
        found = client.get("/api/audit", params={name: attack}, headers=headers)
        assert found.status_code == 200, found.text
        assert found.json()["total"] == 0, (name, attack)
    assert client.get("/api/audit/verify", headers=headers).json()["ok"] is True
    bad_time = client.get("/api/audit", params={"since": "yesterday"}, headers=headers)
    assert ["query", "since"] in [e["loc"] for e in bad_time.json()["errors"]]
    assert_problem(
        client.get("/api/audit", headers=bearer(api_settings, username_of("supervisor"))),
        403,
        "not-permitted",
    )


def test_personal_values_are_masked_in_the_answer_and_intact_in_the_log(
    client: TestClient, api_settings: Settings
) -> None:
    with unit_of_work(api_settings.resolved_database_url) as session:
        audit.record(
            session,
            actor="portal",
            action="contact.update",
            entity_type="customer",
            entity_id="C1",
            before={"phone": "13800000001", "email": "wang@example.com"},
            after={
                "phone": "13900000002",
                "contact": {"name": "王小明", "national_id": "110101199003071234"},
                "channels": ["sms"],
            },
            reason="the customer changed their number",
        )
    body = client.get(
        "/api/audit", params={"entity_type": "customer"}, headers=bearer(api_settings, ADMIN)
    ).json()
    (event,) = body["items"]
    assert event["before"] == {"phone": "138****0001", "email": "w***@example.com"}
    assert event["after"] == {
        "phone": "139****0002",
        "contact": {"name": "王**", "national_id": "110***********1234"},
        "channels": ["sms"],
    }
    shown = client.get("/api/audit", headers=bearer(api_settings, ADMIN)).text
    assert "13900000002" not in shown and "110101199003071234" not in shown
    verified = client.get("/api/audit/verify", headers=bearer(api_settings, ADMIN)).json()
    assert verified["ok"] is True


def test_verify_finds_the_event_someone_altered(client: TestClient, api_settings: Settings) -> None:
    headers = bearer(api_settings, OFFICER)
    healthy = client.get("/api/audit/verify", headers=headers).json()
    assert healthy == {"ok": True, "events": 8, "first_bad_event": None, "problem": None}
    engine = make_engine(api_settings.resolved_database_url)
    with engine.begin() as conn:
        victim = conn.execute(text("SELECT min(event_id) + 2 FROM audit_events")).scalar_one()
        conn.execute(
            text("UPDATE audit_events SET actor = 'someone.else' WHERE event_id = :id"),
            {"id": victim},
        )
    broken = client.get("/api/audit/verify", headers=headers).json()
    assert (broken["ok"], broken["first_bad_event"]) == (False, victim)
    assert "altered" in broken["problem"]


def test_search_refuses_pages_outside_its_bounds(api_settings: Settings) -> None:
    with unit_of_work(api_settings.resolved_database_url) as session:
        for limit, offset in ((0, 0), (201, 0), (10, -1)):
            try:
                audit_search.search(session, limit=limit, offset=offset)
            except ValueError as exc:
                assert "limit" in str(exc) or "offset" in str(exc)
            else:
                raise AssertionError(f"limit={limit} offset={offset} was accepted")
        items, total = audit_search.search(session, limit=200)
        assert total == len(items) == 8
