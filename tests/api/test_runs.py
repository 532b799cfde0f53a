"""Nightly runs over the API on the small book after a real `huancui run`: the run record, its
summary and its plan rows, filtered and paged, with filter values that look like SQL."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

from huancui.kit.settings import Settings
from tests.api.conftest import assert_problem, bearer
from tests.arrangements.conftest import ANALYST, AS_OF, COLLECTOR, Book, ok


def _run(book: Book) -> None:
    ok(book.cli("run", "--as-of", AS_OF.isoformat(), "--actor", "night-batch"))


def test_a_run_its_summary_and_its_plan_as_analysts_and_collectors_see_them(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    _run(book)
    analyst = bearer(book_settings, ANALYST)
    runs = book_client.get("/api/runs", headers=analyst).json()
    assert runs["total"] == 1
    (run,) = runs["items"]
    assert (run["as_of"], run["strategy"], run["current"], run["actor"]) == (
        AS_OF.isoformat(),
        "default v1",
        True,
        "night-batch",
    )
    shown = book_client.get(f"/api/runs/{run['run_id']}", headers=analyst).json()
    planned_cells = shown["summary"]["planned_by_cell"]
    assert sum(c["actions"] for c in planned_cells) == run["rows_planned"] > 0

    plan_url = f"/api/runs/{run['run_id']}/plan"
    everything = book_client.get(plan_url, headers=analyst).json()
    assert everything["total"] == run["rows_planned"] + run["rows_suppressed"]
    priorities = [r["priority"] for r in everything["items"]]
    assert priorities == sorted(priorities, reverse=True)
    assert "phone" not in everything["items"][0] and "name" not in everything["items"][0]
    # A collector works queues: they read the plan, not the run list (kpi:read).
    collector = bearer(book_settings, COLLECTOR)
    sms = book_client.get(
        plan_url, params={"channel": "sms", "status": "planned"}, headers=collector
    ).json()
    expected = sum(c["actions"] for c in planned_cells if c["channel"] == "sms")
    assert sms["total"] == expected
    assert {(r["channel"], r["status"]) for r in sms["items"]} == {("sms", "planned")}
    first = sms["items"][0]
    by_cell = book_client.get(
        plan_url,
        params={"segment": first["segment"], "stage": first["stage"], "queue": first["queue"]},
        headers=collector,
    ).json()
    assert by_cell["total"] >= 1
    assert {(r["segment"], r["stage"], r["queue"]) for r in by_cell["items"]} == {
        (first["segment"], first["stage"], first["queue"])
    }
    page = book_client.get(plan_url, params={"limit": 2, "offset": 1}, headers=collector).json()
    assert page["items"] == everything["items"][1:3]
    assert_problem(book_client.get("/api/runs", headers=collector), 403, "not-permitted")


def test_plan_filters_are_data_not_sql_and_unknown_runs_are_404(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    _run(book)
    headers = bearer(book_settings, ANALYST)
    (run,) = book_client.get("/api/runs", headers=headers).json()["items"]
    url = f"/api/runs/{run['run_id']}/plan"
    for attack in ("' OR 1=1 --", "sms' OR '1'='1", "sms; DROP TABLE plan_runs; --", "%"):
        response = book_client.get(url, params={"channel": attack}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 0
    assert book_client.get("/api/runs", headers=headers).json()["total"] == 1
    assert_problem(book_client.get("/api/runs/999", headers=headers), 404, "not-found")
    assert_problem(book_client.get("/api/runs/999/plan", headers=headers), 404, "not-found")
    huge = book_client.get("/api/runs/99999999999999999999", headers=headers)
    assert_problem(huge, 422, "invalid-input")
    by_date = book_client.get("/api/runs", params={"as_of": "2026-01-01"}, headers=headers)
    assert by_date.json()["total"] == 0
    shutil.rmtree(book_settings.runs_dir)
    gone = book_client.get(url, headers=headers)
    assert "re-run" in assert_problem(gone, 404, "not-found")["detail"]
