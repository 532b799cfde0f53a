"""The case-plane database: engine, unit of work, migrations and the bulk-load path.

SQLite by default (a file under HUANCUI_HOME), PostgreSQL when HUANCUI_DATABASE_URL says so. Services
never commit; the unit of work at the entry point does. Large loads go through `bulk_load`, which
uses COPY on PostgreSQL and executemany on SQLite.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@cache
def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # Alembic is slow to import; only migrations need it

    config = Config()
    config.set_main_option("script_location", str(files("huancui") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        from alembic import command

        command.upgrade(config, "head")


@contextmanager
def unit_of_work(url: str) -> Iterator[Session]:
    """One transaction: commits if the block succeeds, rolls everything back if it raises."""
    factory = sessionmaker(bind=make_engine(url), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def bulk_load(connection: Connection, table: Table | str, batches: Iterable[pa.RecordBatch]) -> int:
    """Append Arrow batches to `table` inside the caller's transaction; returns rows written."""
    name = table if isinstance(table, str) else table.name
    written = 0
    postgres = connection.dialect.name == "postgresql"
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if postgres:
            _copy_postgres(connection, name, batch)
        else:
            _insert_many(connection, name, batch)
        written += batch.num_rows
    return written


def _copy_postgres(connection: Connection, name: str, batch: pa.RecordBatch) -> None:
    buffer = io.BytesIO()
    pacsv.write_csv(batch, buffer, write_options=pacsv.WriteOptions(include_header=False))
    columns = ", ".join(f'"{c}"' for c in batch.schema.names)
    raw = connection.connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{name}" ({columns}) FROM STDIN (FORMAT csv)') as copy,
    ):
        copy.write(buffer.getvalue())


def _insert_many(connection: Connection, name: str, batch: pa.RecordBatch) -> None:
    columns = batch.schema.names
    sql = (
        f'INSERT INTO "{name}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)}) '
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    rows = list(zip(*(_sqlite_values(batch.column(i)) for i in range(len(columns))), strict=True))
    raw = connection.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _sqlite_values(values: pa.Array) -> list[Any]:
    """Python values as SQLAlchemy stores them in SQLite: dates as ISO text, converted in Arrow
    (building a date object per value and adapting it again is the slow part of a big load)."""
    if pa.types.is_date(values.type):
        values = values.cast(pa.string())
    elif pa.types.is_timestamp(values.type):
        # SQLAlchemy's SQLite DateTime format (UTC wall clock), e.g. 2026-11-28 20:31:47.915507
        values = pc.strftime(values, format="%Y-%m-%d %H:%M:%S")
    result: list[Any] = values.to_pylist()
    return result
