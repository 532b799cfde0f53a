"""KPIs over the API: the same figures as `huancui kpi --json` on the small book, and windows or
slices that cannot be computed refused with the parameter named."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from huancui.kit.settings import Settings
from tests.api.conftest import assert_problem, bearer, username_of
from tests.arrangements.conftest import ANALYST, AS_OF, COLLECTOR, Book, ok


def test_the_api_gives_the_same_figures_as_the_cli(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    window = {"from": "2026-11-01", "to": AS_OF.isoformat()}
    for extra in ({}, {"by": "segment", "grain": "day"}):
        response = book_client.get(
            "/api/kpis", params={**window, **extra}, headers=bearer(book_settings, ANALYST)
        )
        assert response.status_code == 200, response.text
        args = [f"--{k}={v}" for k, v in {**window, **extra}.items()]
        cli = json.loads(ok(book.cli("kpi", *args, "--json")).stdout)
        assert response.json() == cli
    assert response.json()["by"] == "segment"
    assert "recovery_rate" in response.json()["kpis"]


def test_windows_and_slices_that_make_no_sense_are_refused_naming_the_parameter(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    headers = bearer(book_settings, ANALYST)
    cases = [
        ({"from": "2026-11-27", "to": "2026-11-01"}, "to: 2026-11-01 is before from"),
        ({"from": "2020-01-01", "to": "2026-11-27"}, "to: a window is at most"),
        ({"from": "2025-01-01", "to": "2026-11-27", "grain": "day"}, "grain: day periods"),
        ({"from": "1900-01-01", "to": "2026-11-27"}, "from: 1900-01-01 is outside"),
    ]
    for params, words in cases:
        body = assert_problem(
            book_client.get("/api/kpis", params=params, headers=headers), 422, "invalid-input"
        )
        assert body["detail"].startswith(words), body["detail"]
    for name, value in (("by", "segment' OR 1=1 --"), ("grain", "week"), ("from", "yesterday")):
        params = {"from": "2026-11-01", "to": "2026-11-27", name: value}
        body = assert_problem(
            book_client.get("/api/kpis", params=params, headers=headers), 422, "invalid-input"
        )
        assert ["query", name] in [e["loc"] for e in body["errors"]]
    missing = book_client.get("/api/kpis", params={"from": "2026-11-01"}, headers=headers)
    assert ["query", "to"] in [e["loc"] for e in missing.json()["errors"]]
    assert_problem(
        book_client.get(
            "/api/kpis",
            params={"from": "2026-11-01", "to": "2026-11-27"},
            headers=bearer(book_settings, COLLECTOR),
        ),
        403,
        "not-permitted",
    )


def test_without_any_snapshot_the_answer_is_a_404_saying_what_to_import(
    client: TestClient, api_settings: Settings
) -> None:
    response = client.get(
        "/api/kpis",
        params={"from": "2026-11-01", "to": "2026-11-27"},
        headers=bearer(api_settings, username_of("analyst")),
    )
    assert "huancui import" in assert_problem(response, 404, "not-found")["detail"]
