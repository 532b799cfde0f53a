"""Every operation of the published OpenAPI schema, fuzzed with schemathesis in-process (ASGI, no
server) over the small book after a real nightly run: its coverage phase (boundary values,
missing and wrong-typed parameters) and generated valid and invalid requests. Each operation is
called by a staff user whose role holds its permission (read from the route, as the permission
matrix test does), so requests get past the sign-in check to the code behind it.

No answer may be a server error, and each must match the response the schema documents. Bounded
and reproducible: a fixed number of examples per operation, derandomised, no example database,
no shrinking. It walks whatever routes the app has, so a new route is fuzzed the day it lands.
SQLite only: one database for the whole walk (the PostgreSQL run of the other API tests covers
the database differences).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from huancui.access import permissions
from huancui.access.users import add_user
from huancui.api.app import create_app
from huancui.kit.database import make_engine, unit_of_work
from huancui.kit.settings import Settings
from tests.api.conftest import bearer, username_of, with_secret
from tests.api.test_permission_matrix import _requirements
from tests.arrangements.conftest import AS_OF, _Templates, built_once, ok
from tests.conftest import Cli

pytestmark = pytest.mark.slow

EXAMPLES = 3
CHECKS = [not_a_server_error, response_schema_conformance]
# Who calls each operation: the first of these whose role holds one of its permissions.
CALLERS = ("supervisor", "strategy_manager", "admin", "compliance_officer")


@pytest.fixture(scope="module")
def fuzz_settings(
    _book_templates: _Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """The book with a nightly run and a user per staff role, in a database of its own."""
    root = tmp_path_factory.mktemp("fuzz")
    copied = _book_templates.copy(
        "sqlite", database_url=f"sqlite:///{root / 'case.db'}", home=root / "home"
    )
    with built_once():
        ok(Cli(copied)("run", "--as-of", AS_OF.isoformat(), "--actor", "night-batch"))
    with unit_of_work(copied.resolved_database_url) as session:
        for role in CALLERS:
            add_user(session, username=username_of(role), display_name="", role=role, actor="t")
    yield with_secret(copied)
    make_engine(copied.resolved_database_url).dispose()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_settings: Settings) -> FastAPI:
    return create_app(fuzz_settings)


@pytest.fixture(scope="module")
def callers(fuzz_app: FastAPI, fuzz_settings: Settings) -> dict[tuple[str, str], dict[str, str]]:
    """(method, path) → the Authorization header of a user allowed to call it (none for the
    public routes, and for routes no staff role may call: the customer portal's)."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for context in iter_route_contexts(fuzz_app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        needs = _requirements(context)
        allowed = needs[0].permissions if needs else ()
        role = next((r for r in CALLERS if any(permissions.allowed(r, p) for p in allowed)), None)
        for method in context.methods or ():
            found[(method, str(context.path))] = (
                bearer(fuzz_settings, username_of(role)) if role else {}
            )
    return found


def _published_schema() -> Any:
    """The schema as the app publishes it, read at collection time (pytest parametrizes one
    test per operation then) from an app over a throwaway database; each case is then sent to
    the app over the fuzzed book (`app=` of the ASGI transport)."""
    scratch = Path(tempfile.mkdtemp(prefix="huancui-openapi-"))
    app = create_app(with_secret(Settings(home=scratch, database_url="sqlite://")))
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    # The coverage phase would also try TRACE, PUT, ... on every path: Starlette answers those
    # itself (405), so they cost time and test nothing of ours.
    loaded.config.phases.coverage.unexpected_methods = set()
    return loaded


schema = _published_schema()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error_or_breaks_its_documented_response(
    case: Any, fuzz_app: FastAPI, callers: dict[tuple[str, str], dict[str, str]]
) -> None:
    operation = case.operation
    headers = callers[(operation.method.upper(), operation.path)]
    response = case.call_and_validate(app=fuzz_app, headers=headers, checks=CHECKS)
    assert response.status_code < 500  # what not_a_server_error checked, stated here
