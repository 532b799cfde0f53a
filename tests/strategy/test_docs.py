"""docs/strategy.md shows the columns and syntax the code allows, and its example is the real one."""

from __future__ import annotations

import re

from huancui.strategy.columns import render_columns_table
from huancui.strategy.expressions import render_syntax_table
from huancui.strategy.loader import parse_strategy
from tests.conftest import ROOT
from tests.strategy.conftest import variant

DOC = ROOT / "docs" / "strategy.md"


def _section(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {name}:start[^>]*-->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"docs/strategy.md has no {name} section"
    return match.group(1)


def test_the_column_table_is_current() -> None:
    assert _section("columns") == render_columns_table()


def test_the_syntax_table_is_current() -> None:
    assert _section("syntax") == render_syntax_table()


def test_the_documented_error_example_is_what_validation_says() -> None:
    text = variant("AND days_past_due <= 90", "AND dpd <= 90")
    error = str(parse_strategy(text, source="strategies/x.yaml").errors[0])
    assert f"```\n{error}\n```" in DOC.read_text(encoding="utf-8")
