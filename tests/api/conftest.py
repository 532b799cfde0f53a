"""API fixtures: the real app over a real database (SQLite, and PostgreSQL when configured), a
staff user per role, and bearer tokens issued the way sign-in issues them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from huancui.access import permissions, throttle, tokens
from huancui.access.tables import ROLES as STAFF_ROLES
from huancui.access.tables import UserRow
from huancui.access.users import add_user, set_password, staff
from huancui.api.app import create_app
from huancui.kit.database import make_engine, migrate, unit_of_work
from huancui.kit.settings import Settings
from tests.arrangements.conftest import (  # noqa: F401  (fixtures)
    Book,
    _book_templates,
    book,
    cli_built_once,
)

SECRET = SecretStr("api-test-secret-" + "x" * 32)
PASSWORD = "correct horse battery staple"
PROBLEM = "application/problem+json"


def username_of(role: str) -> str:
    return f"{role}.user"


def with_secret(settings: Settings) -> Settings:
    return settings.model_copy(update={"jwt_secret": SECRET})


def bearer(settings: Settings, username: str, *, now: datetime | None = None) -> dict[str, str]:
    """An access token for an existing staff user, as sign-in would issue it at `now`."""
    with unit_of_work(settings.resolved_database_url) as session:
        user = staff(session, username)
        token = tokens.issue_access(settings, user, now=now or datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def customer_bearer(settings: Settings, customer_id: str = "C-NOBODY") -> dict[str, str]:
    """A genuine portal token of a customer (as the one-time code sign-in issues it)."""
    token = tokens.issue_customer_access(settings, customer_id, now=datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def forged_customer_bearer(settings: Settings) -> dict[str, str]:
    """A correctly signed staff-style token whose role claims 'customer': customers are not
    staff users, so no staff route may accept it."""
    customer = UserRow(username="customer.user", role="customer")
    token = tokens.issue_access(settings, customer, now=datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://huancui.example/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert body["instance"] == response.request.url.path
    return body


@pytest.fixture(autouse=True)
def _fresh_client_throttle() -> Iterator[None]:
    """The per-client throttle lives in the process: start every test with a clean slate."""
    throttle.CLIENTS.reset()
    yield
    throttle.CLIENTS.reset()


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """An empty migrated database with one staff user per role (no passwords: tokens are
    issued directly), and `collector.user` with a password for sign-in."""
    settings = with_secret(settings)
    url = settings.resolved_database_url
    migrate(url)
    with unit_of_work(url) as session:
        for role in STAFF_ROLES:
            add_user(session, username=username_of(role), display_name="", role=role, actor="t")
        set_password(
            session,
            username=username_of("collector"),
            password=PASSWORD,
            actor="t",
            now=datetime.now(UTC),
        )
    return settings


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client
    make_engine(api_settings.resolved_database_url).dispose()


@pytest.fixture
def book_settings(book: Book) -> Settings:  # noqa: F811
    return with_secret(book.settings)


@pytest.fixture
def book_client(book_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(book_settings)) as test_client:
        yield test_client
    make_engine(book_settings.resolved_database_url).dispose()


ALL_ROLES = permissions.ROLES
