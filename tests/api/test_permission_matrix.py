"""Every route of the app for every role: allowed exactly when access.permissions says so.

The permissions a route enforces are read from the route itself (its `Requirement`), and every
route must either carry one or be in the short public list below: none is left unchecked."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Route

from huancui.access import permissions
from huancui.access.tables import ROLES as STAFF_ROLES
from huancui.api.deps import Requirement
from huancui.kit.settings import Settings
from tests.api.conftest import (
    ALL_ROLES,
    assert_problem,
    bearer,
    customer_bearer,
    forged_customer_bearer,
    username_of,
)

# Signing in and out needs no token (the credentials are in the body); nor does asking for a
# portal sign-in code, or trading it for a customer token.
PUBLIC = {
    ("POST", "/api/auth/token"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/portal/code"),
    ("POST", "/api/portal/token"),
}
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect"}


def _requirements(context: RouteContext) -> list[Requirement]:
    found: list[Requirement] = []
    pending = list(context.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, Requirement):
            found.append(dependant.call)
        pending.extend(dependant.dependencies)
    return found


def _protected(client: TestClient) -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, permissions) of every guarded route; fails on an unguarded one."""
    guarded: list[tuple[str, str, tuple[str, ...]]] = []
    seen = set()
    # app.routes holds included routers; iter_route_contexts flattens them with their prefixes.
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if not str(context.path).startswith("/api") and context.path not in DOCS:
            continue  # the web app's pages: tests/web checks their roles and CSRF
        if not isinstance(route, APIRoute):
            assert isinstance(route, Route) and context.path in DOCS, f"unexpected {route}"
            continue
        needs = _requirements(context)
        path = str(context.path)
        for method in context.methods or ():
            seen.add((method, path))
            if not needs:
                assert (method, path) in PUBLIC, f"{method} {path} is unguarded"
                continue
            assert len(needs) == 1, f"{method} {path}: one requirement per route"
            guarded.append((method, path, needs[0].permissions))
    # Cross-check with the published contract: every documented operation was enumerated.
    documented = {
        (method.upper(), path)
        for path, operations in client.get("/openapi.json").json()["paths"].items()
        for method in operations
    }
    assert documented == seen
    return guarded


def test_every_route_answers_every_role_as_the_permission_matrix_says(
    client: TestClient, api_settings: Settings
) -> None:
    guarded = _protected(client)
    assert len(guarded) >= 9
    headers = {
        role: bearer(api_settings, username_of(role)) if role in STAFF_ROLES else None
        for role in ALL_ROLES
    }
    headers["customer"] = customer_bearer(api_settings)
    forged = forged_customer_bearer(api_settings)
    for method, path, needed in guarded:
        url = re.sub(r"\{[^}]+\}", "1", path)
        anonymous = client.request(method, url, json={})
        assert_problem(anonymous, 401, "sign-in-required")
        for role in ALL_ROLES:
            response = client.request(method, url, json={}, headers=headers[role])
            allowed = any(permissions.allowed(role, p) for p in needed)
            where = f"{role} {method} {path}: {response.status_code} {response.text[:200]}"
            if allowed:
                assert response.status_code not in (401, 403), where
            elif role in STAFF_ROLES:
                assert_problem(response, 403, "not-permitted")
            else:  # a customer is not staff: no staff route knows them
                assert response.status_code == 401, where
        if "portal:self" not in needed:
            forged_response = client.request(method, url, json={}, headers=forged)
            assert forged_response.status_code == 401, f"forged customer {method} {path}"


def test_public_routes_and_docs_need_no_token(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["info"]["title"] == "huancui API"
    assert client.get("/docs").status_code == 200
    for method, path in PUBLIC:
        assert client.request(method, path, json={}).status_code == 422  # no credentials given
