"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from huancui.kit.database import Base, migrate
from huancui.models import import_all_tables


def test_migrations_match_models(database_url: str) -> None:
    import_all_tables()
    migrate(database_url)
    migrate(database_url)  # idempotent
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
