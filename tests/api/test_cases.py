"""Casework routes on the worked book (tests/cases/conftest.py): a collector's own queue, taking
and releasing cases, and who may look at whose queue."""

from __future__ import annotations

from fastapi.testclient import TestClient

from huancui.kit.settings import Settings
from tests.api.conftest import assert_problem, bearer
from tests.cases.conftest import (  # noqa: F401  (fixtures)
    BY_PRIORITY,
    COLLECTOR,
    COLLECTOR_2,
    DAY,
    SUPERVISOR,
    Book,
    worked,
)


def test_a_collector_takes_the_top_case_and_the_queues_show_who_holds_what(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    me = bearer(book_settings, COLLECTOR)
    queue = book_client.get("/api/cases/queue", params={"as_of": DAY.isoformat()}, headers=me)
    assert queue.status_code == 200, queue.text
    body = queue.json()
    assert [c["account_id"] for c in body["items"]] == BY_PRIORITY
    assert (body["total"], body["limit"], body["offset"]) == (4, 50, 0)
    taken = book_client.post("/api/cases/next", json={"as_of": DAY.isoformat()}, headers=me)
    assert taken.status_code == 200, taken.text
    assert (taken.json()["account_id"], taken.json()["claimed_by"]) == ("H1", COLLECTOR)
    other = book_client.post(
        "/api/cases/next",
        json={"as_of": DAY.isoformat()},
        headers=bearer(book_settings, COLLECTOR_2),
    )
    assert other.json()["account_id"] == "P2"
    # A supervisor sees the overview of every case and any collector's queue.
    boss = bearer(book_settings, SUPERVISOR)
    overview = book_client.get(
        "/api/cases/queue", params={"as_of": DAY.isoformat(), "all": "true"}, headers=boss
    ).json()
    assert [(c["account_id"], c["claimed_by"]) for c in overview["items"][:2]] == [
        ("H1", COLLECTOR),
        ("P2", COLLECTOR_2),
    ]
    theirs = book_client.get(
        "/api/cases/queue",
        params={"as_of": DAY.isoformat(), "collector": COLLECTOR_2, "limit": 1, "offset": 1},
        headers=boss,
    ).json()
    assert ([c["account_id"] for c in theirs["items"]], theirs["total"]) == (["P1"], 3)


def test_a_collector_may_not_look_at_another_collectors_queue(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    response = book_client.get(
        "/api/cases/queue",
        params={"collector": COLLECTOR_2},
        headers=bearer(book_settings, COLLECTOR),
    )
    assert_problem(response, 403, "not-permitted")
    bad = book_client.get(
        "/api/cases/queue", params={"limit": 500}, headers=bearer(book_settings, COLLECTOR)
    )
    assert_problem(bad, 422, "invalid-input")


def test_an_analyst_is_refused_the_queue_and_the_cases(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    analyst = bearer(book_settings, "sun.analyst")
    assert_problem(book_client.get("/api/cases/queue", headers=analyst), 403, "not-permitted")
    assert_problem(
        book_client.post("/api/cases/next", json={}, headers=analyst), 403, "not-permitted"
    )


def test_release_gives_the_case_back_only_from_its_holder(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    me = bearer(book_settings, COLLECTOR)
    assert (
        book_client.post("/api/cases/next", json={"as_of": DAY.isoformat()}, headers=me).json()[
            "account_id"
        ]
        == "H1"
    )
    not_mine = book_client.post(
        "/api/cases/H1/release", json={"reason": "x"}, headers=bearer(book_settings, COLLECTOR_2)
    )
    assert COLLECTOR in assert_problem(not_mine, 409, "conflict")["detail"]
    released = book_client.post(
        "/api/cases/H1/release", json={"reason": "customer at a funeral today"}, headers=me
    )
    assert released.status_code == 204, released.text
    assert worked.count("case_claims") == 0
    assert_problem(
        book_client.post("/api/cases/H1/release", json={"reason": "again"}, headers=me),
        404,
        "not-found",
    )


def test_next_answers_204_when_no_case_is_left(
    worked: Book,  # noqa: F811
    book_client: TestClient,
    book_settings: Settings,
) -> None:
    for who in (COLLECTOR, COLLECTOR_2, SUPERVISOR, "zhao.manager"):
        taken = book_client.post(
            "/api/cases/next", json={"as_of": DAY.isoformat()}, headers=bearer(book_settings, who)
        )
        assert taken.status_code == 200
    # Everyone holds a case: the first collector gets theirs back, with a renewed lease.
    again = book_client.post(
        "/api/cases/next", json={"as_of": DAY.isoformat()}, headers=bearer(book_settings, COLLECTOR)
    )
    assert again.json()["account_id"] == "H1"
    with worked.session() as session:
        from huancui.access.users import add_user

        add_user(session, username="new.collector", display_name="", role="collector", actor="t")
    empty = book_client.post(
        "/api/cases/next",
        json={"as_of": DAY.isoformat()},
        headers=bearer(book_settings, "new.collector"),
    )
    assert empty.status_code == 204
