"""Every error is an RFC 9457 problem: unknown routes, invalid input, unexpected failures
(which say nothing of the internals)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from huancui.api.app import create_app
from huancui.arrangements import service
from huancui.kit.settings import Settings
from tests.api.conftest import assert_problem, bearer, username_of


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/api/no-such-thing"), 404, "not-found")
    assert "/docs" in body["detail"]


def test_invalid_input_is_a_422_problem_that_names_the_field_but_not_the_value(
    client: TestClient, api_settings: Settings
) -> None:
    response = client.get(
        "/api/arrangements",
        params={"limit": "lots"},
        headers=bearer(api_settings, username_of("supervisor")),
    )
    body = assert_problem(response, 422, "invalid-input")
    assert body["errors"][0]["loc"] == ["query", "limit"]
    assert "lots" not in response.text


def test_a_password_sent_to_the_wrong_place_is_not_echoed(client: TestClient) -> None:
    response = client.post("/api/auth/token", data={"password": "hunter2-hunter2-hunter2"})
    assert_problem(response, 422, "invalid-input")
    assert "hunter2" not in response.text


def test_an_unexpected_failure_is_a_500_problem_that_leaks_nothing(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> list[object]:
        raise RuntimeError("connection string postgresql://secret@db")

    monkeypatch.setattr(service, "list_arrangements", broken)
    with TestClient(create_app(api_settings), raise_server_exceptions=False) as client:
        response = client.get(
            "/api/arrangements", headers=bearer(api_settings, username_of("supervisor"))
        )
    body = assert_problem(response, 500, "internal-error")
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert body["title"] == "Internal error"
