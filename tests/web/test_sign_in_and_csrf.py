"""Staff sign-in and sign-out on the web, sharing the API's throttling, lockout and audit; the
session cookie; CSRF on every form; HTML error pages outside /api and problem details inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient

from huancui.api.app import create_app
from huancui.kit.database import unit_of_work
from huancui.kit.settings import Settings
from huancui.web import csrf
from huancui.web.sessions import COOKIE, lookup, start_session
from tests.web.conftest import (
    ANALYST,
    COLLECTOR,
    PASSWORD,
    SUPERVISOR,
    Book,
    WebClient,
    audit_actions,
    csrf_of,
    new_client,
)

API_PREFIXES = ("/api", "/docs", "/openapi.json")


def test_sign_in_sends_the_collector_to_the_queue_and_audits_it(web: WebClient, book: Book) -> None:
    response = web.sign_in(COLLECTOR)
    assert response.headers["location"] == "/work"
    cookie = response.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; https requests get Secure
    page = web.get("/work")
    assert page.status_code == 200 and COLLECTOR in page.text
    actions = audit_actions(book)
    assert actions[-2:] == ["login.success", "web_session.start"]


def test_only_the_hash_of_the_session_token_is_stored(web: WebClient, book: Book) -> None:
    web.sign_in(COLLECTOR)
    token = web.http.cookies[COOKIE]
    stored = [str(h) for (h,) in book.rows("SELECT session_hash FROM web_sessions")]
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_a_wrong_password_is_refused_with_the_form_kept(web: WebClient, book: Book) -> None:
    response = web.post("/login", {"username": COLLECTOR, "password": "not the password"})
    assert response.status_code == 401
    assert "登录失败" in response.text and f'value="{COLLECTOR}"' in response.text
    assert COOKIE not in web.http.cookies
    assert audit_actions(book)[-1] == "login.failure"
    assert web.get("/work").status_code == 303  # still signed out


def test_sign_out_revokes_the_session_on_the_server(web: WebClient, book: Book) -> None:
    web.sign_in(COLLECTOR)
    stolen = web.http.cookies[COOKIE]
    out = web.post("/logout", {}, page="/work")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert audit_actions(book)[-1] == "web_session.end"
    # Even a copy of the old cookie opens nothing now.
    web.http.cookies.set(COOKIE, stolen)
    replay = web.get("/work")
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login?next=")


def test_sessions_end_when_idle_or_too_old(web_settings: Settings) -> None:
    start = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    with unit_of_work(web_settings.resolved_database_url) as db:
        token = start_session(db, kind="staff", principal=COLLECTOR, language="en", now=start)
    with unit_of_work(web_settings.resolved_database_url) as db:
        assert lookup(db, token, now=start + timedelta(minutes=29)) is not None
        assert lookup(db, token, now=start + timedelta(minutes=58)) is not None  # kept alive
        assert lookup(db, token, now=start + timedelta(minutes=89)) is None  # idle 31 minutes
    with unit_of_work(web_settings.resolved_database_url) as db:
        late = start_session(db, kind="customer", principal="C1", language="zh-CN", now=start)
    with unit_of_work(web_settings.resolved_database_url) as db:
        moment = start
        for _ in range(8):  # busy every 14 minutes, but a customer's session lasts 2 hours
            moment += timedelta(minutes=14)
            assert lookup(db, late, now=moment) is not None
        assert lookup(db, late, now=start + timedelta(hours=2, minutes=1)) is None


def test_a_customer_session_opens_no_staff_page(web_settings: Settings) -> None:
    with unit_of_work(web_settings.resolved_database_url) as db:
        token = start_session(db, kind="customer", principal="C1", language="zh-CN")
    with TestClient(create_app(web_settings)) as browser:
        browser.cookies.set(COOKIE, token)
        response = browser.get("/work", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_pages_need_a_sign_in_and_come_back_after_it(web: WebClient) -> None:
    response = web.get("/work?offset=0")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fwork%3Foffset%3D0"
    back = web.post(
        "/login", {"username": COLLECTOR, "password": PASSWORD, "next": "/work?offset=0"}
    )
    assert back.headers["location"] == "/work?offset=0"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/api/users"])
def test_next_never_leaves_the_site_or_enters_the_api(web: WebClient, target: str) -> None:
    response = web.post("/login", {"username": COLLECTOR, "password": PASSWORD, "next": target})
    assert response.headers["location"] == "/work"


def test_web_and_api_share_the_lockout(web: WebClient, web_settings: Settings) -> None:
    """Failures on the web count towards the same lock as failures on the API."""
    for _ in range(web_settings.login_max_failures - 1):
        web.post("/login", {"username": COLLECTOR, "password": "wrong password!"})
    api = web.http.post(
        "/api/auth/token", data={"username": COLLECTOR, "password": "wrong password!"}
    )
    assert api.status_code == 401  # the fifth failure: the account is locked now
    refused = web.post("/login", {"username": COLLECTOR, "password": PASSWORD})
    assert refused.status_code == 401 and "登录失败" in refused.text
    token = web.http.post("/api/auth/token", data={"username": COLLECTOR, "password": PASSWORD})
    assert token.status_code == 401


def test_a_supervisor_signed_in_elsewhere_is_not_affected(web_settings: Settings) -> None:
    first, second = new_client(web_settings), new_client(web_settings)
    with first.http, second.http:
        first.sign_in(COLLECTOR)
        second.sign_in(SUPERVISOR)
        first.post("/logout", {}, page="/work")
        assert second.get("/supervise").status_code == 200
        assert first.get("/work").status_code == 303


def test_a_collector_gets_a_translated_403_page_on_supervisor_pages(web: WebClient) -> None:
    web.sign_in(COLLECTOR)
    for path in ("/supervise", "/supervise/team"):
        page = web.get(path)
        assert page.status_code == 403
        assert page.headers["content-type"].startswith("text/html")
        assert "您的角色无权访问此页面" in page.text
    assert "Your role may not open this page" in web.get("/supervise?lang=en").text


def test_a_role_without_pages_sees_what_to_use_instead(web: WebClient) -> None:
    web.sign_in(ANALYST)
    home = web.get("/")
    assert home.status_code == 200 and "命令行或 API" in home.text


def test_unknown_pages_are_translated_but_the_api_keeps_problem_details(web: WebClient) -> None:
    page = web.get("/no/such/page", headers={"Accept-Language": "en"})
    assert page.status_code == 404 and "There is no such page." in page.text
    assert 'name="viewport"' in page.text  # every page is laid out for phones too
    web.sign_in(COLLECTOR)
    signed_in = web.get("/no/such/page")
    assert signed_in.status_code == 404 and COLLECTOR in signed_in.text  # header and nav kept
    assert 'href="/work"' in signed_in.text
    assert "Traceback" not in page.text
    api = web.get("/api/no/such/route")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["type"].endswith("/not-found")
    unauthenticated = web.get("/api/arrangements")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"].startswith("application/problem+json")


def test_plotly_is_served_from_the_installed_package(web: WebClient) -> None:
    script = web.get("/static/plotly.min.js")
    assert script.status_code == 200 and "plotly" in script.text[:2000].lower()
    assert "max-age" in script.headers["cache-control"]
    assert web.get("/static/web.css").status_code == 200


# --- CSRF ------------------------------------------------------------------------------------


def _web_post_routes(settings: Settings) -> list[RouteContext]:
    """Every POST page route (included routers flattened, as the API's route test does)."""
    app = create_app(settings)
    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and "POST" in (context.methods or ())
        and not str(context.path).startswith(API_PREFIXES)
    ]


def _depends_on(route: RouteContext, call: Any) -> bool:
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call is call:
            return True
        pending.extend(dependant.dependencies)
    return False


def test_every_form_route_of_the_web_app_checks_the_csrf_token(web_settings: Settings) -> None:
    """Every area's POST routes (the portal's, strategy's and compliance's included)."""
    routes = _web_post_routes(web_settings)
    assert len(routes) >= 10
    unchecked = [str(route.path) for route in routes if not _depends_on(route, csrf.csrf_checked)]
    assert not unchecked, f"POST routes without CsrfChecked: {unchecked}"


MY_FORMS = [
    "/login",
    "/logout",
    "/work/next",
    "/work/accounts/H1/outcome",
    "/work/accounts/H1/release",
    "/work/accounts/H1/promise",
    "/work/accounts/H1/plan",
    "/work/accounts/H1/hardship",
    "/supervise/arrangements/1/approve",
    "/supervise/arrangements/1/reject",
    "/supervise/hardship/1/approve",
    "/supervise/hardship/1/reject",
]


def test_my_form_routes_are_the_ones_tested(web_settings: Settings) -> None:
    mine = {
        str(r.path)
        for r in _web_post_routes(web_settings)
        if str(r.path) in ("/login", "/logout") or str(r.path).startswith(("/work", "/supervise"))
    }
    tested = {p.replace("H1", "{account_id}") for p in MY_FORMS}
    tested = {
        p.replace("arrangements/1", "arrangements/{arrangement_id}").replace(
            "hardship/1", "hardship/{hardship_id}"
        )
        for p in tested
    }
    assert mine == tested


@pytest.mark.parametrize("token", [None, "forged-" + "x" * 40])
def test_forms_without_the_right_token_are_refused_and_change_nothing(
    web: WebClient, book: Book, token: str | None
) -> None:
    web.sign_in(SUPERVISOR)  # a role with every permission these forms need
    before = audit_actions(book)
    for path in MY_FORMS:
        data: dict[str, str] = {"reason": "r", "outcome": "no_answer", "username": SUPERVISOR}
        if token is not None:
            data["csrf_token"] = token
        response = web.http.post(path, data=data, follow_redirects=False)
        assert response.status_code == 403, path
        assert "表单已过期或并非来自本站" in response.text, path
    assert audit_actions(book) == before
    assert web.get("/supervise").status_code == 200  # still signed in: logout was refused


def test_the_sign_in_form_needs_its_pre_session_token(web_settings: Settings) -> None:
    with TestClient(create_app(web_settings)) as browser:
        form = browser.get("/login")
        token = csrf_of(form.text)
        assert browser.cookies[csrf.PRE_SESSION_COOKIE] == token
        # Another site's form: the browser sends our cookie (or not) but cannot know its value.
        forged = browser.post(
            "/login",
            data={"username": COLLECTOR, "password": PASSWORD, "csrf_token": "x" * 43},
            follow_redirects=False,
        )
        assert forged.status_code == 403
        real = browser.post(
            "/login",
            data={"username": COLLECTOR, "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert real.status_code == 303


def test_the_session_token_replaces_the_pre_session_one_after_sign_in(web: WebClient) -> None:
    before = web.token("/login")
    web.sign_in(COLLECTOR)
    after = csrf_of(web.get("/work").text)
    assert after != before
    refused = web.http.post("/logout", data={"csrf_token": before}, follow_redirects=False)
    assert refused.status_code == 403
