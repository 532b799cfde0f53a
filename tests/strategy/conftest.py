"""Fixtures for strategy tests: the shipped default strategy, variants of it, and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from huancui.cli import app
from huancui.strategy.cli import strategy_app
from tests.conftest import ROOT, Cli

DEFAULT_STRATEGY = ROOT / "strategies" / "default.yaml"


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
