"""Access fixtures: a migrated database (SQLite, and PostgreSQL when configured) with staff."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from huancui.access.tables import UserRow
from huancui.access.throttle import ClientThrottle
from huancui.access.users import add_user, set_password
from huancui.kit.database import migrate, unit_of_work
from huancui.kit.settings import Settings

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def access_settings(settings: Settings) -> Settings:
    migrate(settings.resolved_database_url)
    return settings.model_copy(update={"jwt_secret": SecretStr("s" * 40)})


@pytest.fixture
def session(access_settings: Settings) -> Iterator[Session]:
    with unit_of_work(access_settings.resolved_database_url) as s:
        yield s


@pytest.fixture
def zhou(session: Session) -> UserRow:
    """A collector with a password."""
    add_user(session, username="zhou", display_name="周", role="collector", actor="admin")
    return set_password(session, username="zhou", password=PASSWORD, actor="admin", now=NOW)


@pytest.fixture
def clients() -> ClientThrottle:
    return ClientThrottle()
