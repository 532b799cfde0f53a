"""A small generated portfolio imported as a snapshot, shared by the analytics tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from huancui.kit.settings import Settings
from huancui.portfolio.importer import build_snapshot_files
from huancui.portfolio.policy import load_policy
from huancui.portfolio.synthetic import generate_portfolio

AS_OF = date(2026, 11, 27)


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
