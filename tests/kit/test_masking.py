"""Personal data is masked before it reaches a message or a log."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from huancui.kit.masking import mask_email, mask_name, mask_national_id, mask_phone


def test_examples() -> None:
    assert mask_name("王小明") == "王**"
    assert mask_national_id("110101199003070011") == "110***********0011"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_email("wang@example.com") == "w***@example.com"


@given(st.text(alphabet="0123456789X", min_size=8, max_size=18))
def test_masked_ids_hide_the_middle(value: str) -> None:
    masked = mask_national_id(value)
    assert len(masked) == len(value)
    assert masked[3:-4] == "*" * (len(value) - 7)


@settings(deadline=None)
@given(st.text(alphabet="0123456789X", min_size=0, max_size=20))
def test_sql_masking_in_import_messages_agrees(value: str) -> None:
    """Import messages mask in SQL (portfolio.validation.shown); it must match the Python rule."""
    import duckdb

    from huancui.kit.sql import lit
    from huancui.portfolio.contract import CUSTOMERS
    from huancui.portfolio.validation import shown

    expr = shown(lit(value), CUSTOMERS.column("phone"))
    row = duckdb.connect().execute(f"SELECT {expr}").fetchone()
    assert row is not None
    assert row[0] == mask_phone(value) == mask_national_id(value)
