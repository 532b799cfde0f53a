"""Fixtures for strategy tests: the shipped default strategy, variants of it, and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from huancui.cli import app
from huancui.kit.settings import Settings
from huancui.portfolio.importer import import_delivery
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.portfolio.synthetic.generate import generate_portfolio
from huancui.strategy.cli import strategy_app
from tests.conftest import ROOT, Cli

DEFAULT_STRATEGY = ROOT / "strategies" / "default.yaml"
GENERATED_AS_OF = date(2026, 11, 27)


def default_text() -> str:
    return DEFAULT_STRATEGY.read_text(encoding="utf-8")


def variant(old: str, new: str, *, text: str | None = None) -> str:
    """The default strategy with one exact piece of text replaced (which must occur once)."""
    source = default_text() if text is None else text
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times"
    return source.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first occurrence of `needle`."""
    return text[: text.index(needle)].count("\n") + 1


@pytest.fixture
def write_strategy(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "strategy.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _mounted() -> bool:
    return any(group.name == "strategy" for group in app.registered_groups)


@pytest.fixture
def strategy_cli(cli: Cli) -> Callable[..., Result]:
    """`huancui strategy …` through the main app once it mounts the sub-app, directly until then."""

    def run(*args: str) -> Result:
        if _mounted():
            return cli("strategy", *args)
        return CliRunner().invoke(strategy_app, list(args), env=cli.env, catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def generated_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,500-account synthetic portfolio imported as of 2026-11-27 (built once)."""
    root = tmp_path_factory.mktemp("generated")
    home = root / "home"
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'huancui.db'}")
    generate_portfolio(
        accounts=1500, months=13, seed=5, as_of=GENERATED_AS_OF, out=root / "delivery"
    )
    import_delivery(
        directory=root / "delivery",
        as_of=GENERATED_AS_OF,
        settings=settings,
        policy=DelinquencyPolicy(),
    )
    return settings.snapshots_dir / GENERATED_AS_OF.isoformat()
