"""The contract is self-consistent and its published page is current."""

from __future__ import annotations

import re

from huancui.portfolio.contract import FILES, FILES_BY_NAME, ColumnType
from huancui.portfolio.contract_docs import render_contract
from tests.conftest import ROOT


def test_docs_page_is_generated_from_the_code() -> None:
    page = (ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    assert page == render_contract(), "run: huancui contract docs --out docs/data-contract.md"


def test_keys_and_references_name_real_columns() -> None:
    for spec in FILES:
        for key in spec.key:
            assert spec.column(key).required, f"{spec.name}.{key} is a key but optional"
        for fk in spec.foreign_keys:
            spec.column(fk.column)
            assert fk.target_column in FILES_BY_NAME[fk.target_file].key


def test_every_column_is_documented_in_both_languages() -> None:
    for spec in FILES:
        for col in spec.columns:
            assert col.meaning and col.label_zh and col.example, f"{spec.name}.{col.name}"
            if col.type is ColumnType.MONEY:
                assert col.unit == "CNY yuan"


def test_examples_obey_their_own_patterns() -> None:
    for spec in FILES:
        for col in spec.columns:
            if col.pattern:
                assert re.fullmatch(col.pattern, col.example), f"{spec.name}.{col.name}"
            if col.type is ColumnType.ENUM:
                assert col.example.lower() in {v.lower() for v in col.values}
