"""Money is exact: integer fen, explicit half-up rounding, no silent loss of decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huancui.kit.money import Money, MoneyFormatError, format_yuan, parse_yuan, round_half_up


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_then_parse_is_identity(fen: int) -> None:
    assert parse_yuan(format_yuan(fen)) == fen


@pytest.mark.parametrize(
    ("text", "fen"), [("1150.5", 115050), ("0.01", 1), ("-3", -300), (" 12 ", 1200)]
)
def test_parse_yuan(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["1.005", "abc", "NaN", "Infinity", ""])
def test_parse_refuses_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(MoneyFormatError):
        parse_yuan(text)


def test_half_up_not_bankers() -> None:
    assert round_half_up(Decimal("0.5")) == 1
    assert round_half_up(Decimal("2.5")) == 3  # banker's rounding would give 2
    assert round_half_up(Decimal("-2.5")) == -3


def test_money_arithmetic_keeps_currency() -> None:
    assert Money(100) + Money(250) == Money(350)
    assert str(Money(123450)) == "1234.50 CNY"
    with pytest.raises(ValueError, match="cannot combine"):
        _ = Money(1, "CNY") + Money(1, "USD")


def test_display_groups_thousands() -> None:
    from huancui.kit.money import display_yuan

    assert display_yuan(21047371600) == "210,473,716.00"
    assert display_yuan(-5) == "-0.05"
