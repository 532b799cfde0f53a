"""Exact money: integer minor units (fen) with a currency, and the one documented rounding rule.

Amounts arrive as decimal text in yuan ("1150.00"); inside they are integers in fen. Where a
computation yields fractions of a fen it is rounded half-up (0.5 fen → 1 fen), never banker's rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MINOR_UNITS_PER_MAJOR = 100


class MoneyFormatError(ValueError):
    """Text that is not an amount with at most two decimals."""


def round_half_up(value: Decimal) -> int:
    """Round a decimal number of fen to a whole fen, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_yuan(text: str) -> int:
    """'1150.5' → 115050 fen. Refuses more than two decimals rather than rounding silently."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise MoneyFormatError(f"{text!r} is not a number") from exc
    if not value.is_finite():
        raise MoneyFormatError(f"{text!r} is not a finite amount")
    fen = value * MINOR_UNITS_PER_MAJOR
    if fen != fen.to_integral_value():
        raise MoneyFormatError(f"{text!r} has more than two decimals")
    return int(fen)


def format_yuan(fen: int) -> str:
    """115050 → '1150.50' (no thousands separator: machine-readable)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), MINOR_UNITS_PER_MAJOR)
    return f"{sign}{whole}.{cents:02d}"


def display_yuan(fen: int) -> str:
    """115050000 → '1,150,500.00': for people; use format_yuan for files and JSON."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), MINOR_UNITS_PER_MAJOR)
    return f"{sign}{whole:,}.{cents:02d}"


@dataclass(frozen=True, order=True)
class Money:
    """An amount in minor units of one currency."""

    minor: int
    currency: str = "CNY"

    @classmethod
    def from_yuan(cls, text: str, currency: str = "CNY") -> Money:
        return cls(parse_yuan(text), currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __str__(self) -> str:
        return f"{format_yuan(self.minor)} {self.currency}"
