"""Strategies over the API: validating a file (every error with its rule; SQL in a rule refused by
the allow-list), activating versions with their date and note, showing and listing them, and
what a version changes (strategy/compare.py, also tested as the pure function it is)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from huancui.access.tables import AuditEventRow
from huancui.kit.database import unit_of_work
from huancui.kit.settings import Settings
from huancui.strategy.compare import compare
from huancui.strategy.loader import parse_strategy
from huancui.strategy.spec import Strategy
from tests.api.conftest import assert_problem, bearer, username_of
from tests.conftest import ROOT

DEFAULT = (ROOT / "strategies" / "default.yaml").read_text(encoding="utf-8")
STRATEGIST = username_of("strategy_manager")
YAML = {"Content-Type": "application/yaml"}


def _v2(text: str = DEFAULT) -> str:
    """Version 2 of the default strategy: prime widened to 45 days past due, a gentler
    high-risk early stage and a new change note."""
    changed = (
        text.replace("version: 1\n", "version: 2\n")
        .replace("effective_date: 2026-11-01", "effective_date: 2026-11-15")
        .replace(
            "days_past_due <= 30 AND cycles_delinquent <= 2",
            "days_past_due <= 45 AND cycles_delinquent <= 2",
        )
        .replace(
            "template: call.reminder,\n     tone: neutral",
            "template: call.reminder,\n     tone: gentle",
        )
    )
    head, _, rest = changed.partition("change_note: >-\n")
    note_end = rest.index("\n\n")
    return head + "change_note: Prime up to 45 days; gentler high-risk reminders." + rest[note_end:]


def _strategy(text: str) -> Strategy:
    parsed = parse_strategy(text, source="test")
    assert parsed.strategy is not None, parsed.findings
    return parsed.strategy


def _activate(
    client: TestClient, settings: Settings, text: str, effective: str, note: str
) -> Response:
    response: Response = client.post(
        "/api/strategies",
        files={"file": ("strategy.yaml", text.encode(), "application/yaml")},
        data={"effective_from": effective, "change_note": note},
        headers=bearer(settings, STRATEGIST),
    )
    return response


def _note(text: str) -> str:
    return _strategy(text).change_note


def test_a_valid_file_validates_as_a_body_or_an_upload(
    client: TestClient, api_settings: Settings
) -> None:
    headers = bearer(api_settings, STRATEGIST)
    as_body = client.post(
        "/api/strategies/validate", content=DEFAULT.encode(), headers={**headers, **YAML}
    )
    assert as_body.status_code == 200, as_body.text
    assert as_body.json()["valid"] is True
    assert (as_body.json()["name"], as_body.json()["version"]) == ("default", 1)
    as_upload = client.post(
        "/api/strategies/validate",
        files={"file": ("default.yaml", DEFAULT.encode(), "application/yaml")},
        headers=headers,
    )
    assert as_upload.json() == as_body.json()
    nothing = client.get("/api/strategies", headers=headers).json()
    assert nothing["total"] == 0  # validating stores nothing


def test_sql_in_a_rule_and_unknown_functions_are_refused_naming_each_rule(
    client: TestClient, api_settings: Settings
) -> None:
    attacked = DEFAULT.replace(
        "condition: credit_grade IN ('A', 'B') AND days_past_due <= 30 AND cycles_delinquent <= 2",
        'condition: "1=1; DROP TABLE users"',
    ).replace(
        "condition: credit_grade IN ('A', 'B', 'C') AND days_past_due <= 90",
        "condition: pg_sleep(10) > 0 OR days_past_due <= 90",
    )
    response = client.post(
        "/api/strategies/validate",
        content=attacked.encode(),
        headers={**bearer(api_settings, STRATEGIST), **YAML},
    )
    body = assert_problem(response, 422, "invalid-input")
    rules = {e["rule"]: e for e in body["errors"]}
    assert set(rules) == {"segments[0] 'prime' condition", "segments[1] 'standard' condition"}
    assert all(e["line"] > 1 and e["message"] for e in body["errors"])
    assert "pg_sleep" in rules["segments[1] 'standard' condition"]["message"].lower()
    assert "upload" in body["detail"] and "/tmp" not in body["detail"]
    # And the users table is still there: the sign-in of a real user works.
    assert client.get("/api/strategies", headers=bearer(api_settings, STRATEGIST)).is_success


def test_not_yaml_or_not_a_strategy_is_a_422_that_says_so(
    client: TestClient, api_settings: Settings
) -> None:
    headers = bearer(api_settings, STRATEGIST)
    broken = client.post(
        "/api/strategies/validate", content=b"name: [unclosed", headers={**headers, **YAML}
    )
    assert "not valid YAML" in assert_problem(broken, 422, "invalid-input")["errors"][0]["message"]
    binary = client.post(
        "/api/strategies/validate", content=b"\xff\xfe\x00", headers={**headers, **YAML}
    )
    assert "UTF-8" in assert_problem(binary, 422, "invalid-input")["detail"]
    json_body = client.post("/api/strategies/validate", json={"name": "x"}, headers=headers)
    assert "application/yaml" in assert_problem(json_body, 422, "invalid-input")["detail"]


def test_activation_stores_a_version_audits_it_and_keeps_the_previous_one(
    client: TestClient, api_settings: Settings
) -> None:
    first = _activate(client, api_settings, DEFAULT, "2026-11-01", _note(DEFAULT))
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == "/api/strategies/default/1"
    v2 = _v2()
    second = _activate(client, api_settings, v2, "2026-11-15", _note(v2))
    assert second.status_code == 201, second.text
    assert (second.json()["active"], second.json()["previous"]) == ("default v2", "default v1")
    listed = client.get("/api/strategies", headers=bearer(api_settings, username_of("analyst")))
    assert [(i["label"], i["active"]) for i in listed.json()["items"]] == [
        ("default v1", False),
        ("default v2", True),
    ]
    shown = client.get("/api/strategies/default/2", headers=bearer(api_settings, STRATEGIST)).json()
    assert shown["yaml"] == v2
    assert (shown["effective_date"], shown["activated_by"]) == ("2026-11-15", STRATEGIST)
    with unit_of_work(api_settings.resolved_database_url) as session:
        events = session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "strategy.activate")
        ).all()
        assert [(e.actor, e.entity_id) for e in events] == [
            (STRATEGIST, "default:v1"),
            (STRATEGIST, "default:v2"),
        ]


def test_the_form_must_agree_with_the_file_and_a_changed_version_is_refused(
    client: TestClient, api_settings: Settings
) -> None:
    wrong_date = _activate(client, api_settings, DEFAULT, "2026-12-01", _note(DEFAULT))
    body = assert_problem(wrong_date, 422, "invalid-input")
    assert body["detail"].startswith("effective_from: 2026-12-01 differs")
    wrong_note = _activate(client, api_settings, DEFAULT, "2026-11-01", "something else")
    assert assert_problem(wrong_note, 422, "invalid-input")["detail"].startswith("change_note")
    no_note = client.post(
        "/api/strategies",
        files={"file": ("s.yaml", DEFAULT.encode(), "application/yaml")},
        data={"effective_from": "2026-11-01"},
        headers=bearer(api_settings, STRATEGIST),
    )
    assert ["body", "change_note"] in [e["loc"] for e in no_note.json()["errors"]]
    assert (
        client.get("/api/strategies", headers=bearer(api_settings, STRATEGIST)).json()["total"] == 0
    )
    assert _activate(client, api_settings, DEFAULT, "2026-11-01", _note(DEFAULT)).is_success
    tampered = DEFAULT.replace("cadence_days: 5", "cadence_days: 6")
    conflict = _activate(client, api_settings, tampered, "2026-11-01", _note(DEFAULT))
    detail = assert_problem(conflict, 409, "conflict")["detail"]
    assert "the uploaded file" in detail and "version: 2" in detail


def test_compare_lists_what_a_version_changes_against_the_active_one(
    client: TestClient, api_settings: Settings
) -> None:
    headers = bearer(api_settings, STRATEGIST)
    no_active = client.get("/api/strategies/compare?name=default&version=1", headers=headers)
    assert_problem(no_active, 404, "not-found")
    _activate(client, api_settings, DEFAULT, "2026-11-01", _note(DEFAULT))
    v2 = _v2()
    _activate(client, api_settings, v2, "2026-11-15", _note(v2))
    diff = client.get("/api/strategies/compare?name=default&version=1", headers=headers).json()
    assert (diff["old"], diff["new"]) == ("default v2", "default v1")
    assert [(c["key"], c["kind"]) for c in diff["segments"]] == [("prime", "changed")]
    assert [f["field"] for f in diff["segments"][0]["fields"]] == ["condition"]
    assert [(c["key"], c["kind"]) for c in diff["treatments"]] == [("high_risk × early", "changed")]
    assert diff["treatments"][0]["fields"] == [{"field": "tone", "old": "gentle", "new": "neutral"}]
    assert diff["stages"] == diff["challengers"] == diff["rules"] == []
    unknown = client.get("/api/strategies/compare?name=default&version=9", headers=headers)
    assert_problem(unknown, 404, "not-found")
    analyst = client.get(
        "/api/strategies/compare?name=default&version=1",
        headers=bearer(api_settings, username_of("analyst")),
    )
    assert_problem(analyst, 403, "not-permitted")


def test_compare_finds_added_removed_reordered_and_changed_rules() -> None:
    old = _strategy(DEFAULT)
    prime, standard, high_risk = old.segments
    stages = old.stages
    new_stage = stages[2].model_copy(update={"id": "legal", "min_dpd": 91})
    new = old.model_copy(
        update={
            "version": 3,
            "segments": (standard, prime, high_risk),
            "stages": (stages[0], stages[1], new_stage),
            "challengers": (),
            "priority": "days_past_due",
        }
    )
    diff = compare(old, new)
    assert diff.segment_order_changed and not diff.unchanged
    assert diff.section("segments") == []  # same segments, only their order moved
    assert [(c.key, c.kind) for c in diff.section("stages")] == [
        ("legal", "added"),
        ("late", "removed"),
    ]
    assert {c.kind for c in diff.section("challengers")} == {"removed"}
    (priority,) = diff.section("rules")
    assert (priority.key, priority.fields[0].new) == ("priority", "days_past_due")
    assert compare(old, old).unchanged
    as_json: dict[str, Any] = diff.as_json()
    assert as_json["segment_order_changed"] is True and as_json["stages"][0]["kind"] == "added"
