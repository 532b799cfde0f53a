"""Shared fixtures: real databases (SQLite file, and PostgreSQL when CI provides one) and the CLI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from huancui.cli import app
from huancui.kit.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "small"
# The tests' fake customers are encrypted with a demo key under each test's HUANCUI_HOME
# (docs/security.md); commands run as child processes inherit this.
os.environ.setdefault("HUANCUI_PII_DEV_KEY", "1")

POSTGRES_ENV = "HUANCUI_TEST_POSTGRES_URL"


def _postgres_database(worker: str) -> str:
    """A database of this test worker's own on the CI server, created on first use.
    HUANCUI_TEST_DB_PREFIX keeps two test sessions on one server apart."""
    admin = os.environ[POSTGRES_ENV]
    prefix = "".join(c for c in os.environ.get("HUANCUI_TEST_DB_PREFIX", "") if c.isalnum())
    name = f"huancui_test_{prefix}{worker}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> str:
    """Each test gets an empty database: a fresh SQLite file, or a reset PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'case.db'}"
    if POSTGRES_ENV not in os.environ:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} must be set in CI (.ci/run starts PostgreSQL)")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    url = _postgres_database(worker_id)
    _reset_postgres(url)
    return url


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def settings(home: Path, database_url: str) -> Settings:
    return Settings(home=home, database_url=database_url)


@pytest.fixture
def sqlite_settings(home: Path) -> Settings:
    return Settings(home=home, database_url=f"sqlite:///{home / 'case.db'}")


@pytest.fixture
def delivery(tmp_path: Path) -> Path:
    """A private copy of the small example delivery, to be broken by the test."""
    target = tmp_path / "delivery"
    shutil.copytree(EXAMPLES, target)
    return target


class Cli:
    """Runs the real Typer app in-process with the test's environment."""

    def __init__(self, settings: Settings) -> None:
        self.env = {
            "HUANCUI_HOME": str(settings.home),
            "HUANCUI_DATABASE_URL": settings.resolved_database_url,
        }

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=self.env, catch_exceptions=False)


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return Cli(settings)


@pytest.fixture
def sqlite_cli(sqlite_settings: Settings) -> Cli:
    return Cli(sqlite_settings)


@pytest.fixture(scope="session", autouse=True)
def _quiet_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test may write into the repository's var/: point the default home elsewhere."""
    old = os.environ.get("HUANCUI_HOME")
    os.environ["HUANCUI_HOME"] = str(tmp_path_factory.mktemp("default-home"))
    yield
    if old is None:
        os.environ.pop("HUANCUI_HOME", None)
    else:
        os.environ["HUANCUI_HOME"] = old
