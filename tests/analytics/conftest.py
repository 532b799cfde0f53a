"""A small generated portfolio imported as a snapshot, shared by the analytics tests; and the same
kind of portfolio imported into a home and planned by the nightly run (`planned`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from huancui.kit.settings import Settings
from huancui.portfolio.importer import build_snapshot_files
from huancui.portfolio.policy import load_policy
from huancui.portfolio.synthetic import generate_portfolio

from ..conftest import Cli

AS_OF = date(2026, 11, 27)
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class World:
    """The imported snapshot folder and the generator's truth folder (latent traits)."""

    snapshot: Path
    truth: Path
    as_of: date


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("analytics-world")
    delivery = root / "delivery"
    generate_portfolio(accounts=3_000, months=13, seed=1, as_of=AS_OF, out=delivery)
    snapshot = build_snapshot_files(
        directory=delivery,
        as_of=AS_OF,
        settings=Settings(home=root / "home"),
        policy=load_policy(None),
        root=root / "snapshots",
    )
    return World(snapshot=snapshot, truth=delivery / "truth", as_of=AS_OF)


@pytest.fixture(scope="session")
def snapshot(world: World) -> Path:
    return world.snapshot


@pytest.fixture(scope="session")
def truth(world: World) -> Path:
    return world.truth


@dataclass(frozen=True)
class Planned:
    """A generated portfolio imported into a SQLite home and planned by the nightly run."""

    cli: Cli
    home: Path
    database_url: str
    as_of: date


@pytest.fixture
def planned(sqlite_cli: Cli, sqlite_settings: Settings, tmp_path: Path) -> Planned:
    """`generate`, `import`, `strategy activate` (the shipped default) and `run` for AS_OF."""
    delivery = tmp_path / "delivery"
    day = AS_OF.isoformat()
    for args in (
        ("generate", "--accounts", "3000", "--months", "13", "--seed", "3", "--as-of", day,
         "--out", str(delivery)),
        ("import", str(delivery), "--as-of", day),
        ("strategy", "activate", str(ROOT / "strategies" / "default.yaml"), "--actor", "test"),
        ("run", "--as-of", day, "--actor", "night-batch", "--json"),
    ):  # fmt: skip
        done = sqlite_cli(*args)
        assert done.exit_code == 0, done.output
    return Planned(
        cli=sqlite_cli,
        home=sqlite_settings.home,
        database_url=sqlite_settings.resolved_database_url,
        as_of=AS_OF,
    )
