"""Fixtures of the strategy and compliance pages: the web book plus a strategy manager and a
compliance officer who sign in through the real form, and the default strategy's text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from huancui.access.users import add_user, set_password
from huancui.kit.database import unit_of_work
from huancui.kit.settings import Settings
from tests.arrangements.conftest import DEFAULT_STRATEGY
from tests.web.conftest import PASSWORD, WebClient, new_client

STRATEGY_MANAGER = "liu.strategy"
COMPLIANCE_OFFICER = "he.compliance"
ROLES = {STRATEGY_MANAGER: "strategy_manager", COMPLIANCE_OFFICER: "compliance_officer"}


@pytest.fixture
def web_settings(web_settings: Settings) -> Settings:
    """The web book with a strategy manager and a compliance officer (password PASSWORD)."""
    with unit_of_work(web_settings.resolved_database_url) as session:
        for username, role in ROLES.items():
            add_user(session, username=username, display_name="", role=role, actor="admin")
            set_password(
                session, username=username, password=PASSWORD, actor="t", now=datetime.now(UTC)
            )
    return web_settings


@pytest.fixture
def default_yaml() -> str:
    return DEFAULT_STRATEGY.read_text(encoding="utf-8")


def signed_in(settings: Settings, username: str) -> WebClient:
    client = new_client(settings)
    client.sign_in(username)
    return client


@pytest.fixture
def strategist(web_settings: Settings) -> Iterator[WebClient]:
    client = signed_in(web_settings, STRATEGY_MANAGER)
    yield client
    client.http.close()


@pytest.fixture
def officer(web_settings: Settings) -> Iterator[WebClient]:
    client = signed_in(web_settings, COMPLIANCE_OFFICER)
    yield client
    client.http.close()
