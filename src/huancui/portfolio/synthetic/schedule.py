"""等额本息 (equal instalment) loan schedules in integer fen, vectorised over many loans.

Interest each month is the outstanding balance times the monthly rate, rounded half up to the fen;
the level instalment is rounded half up once, and the last instalment absorbs what rounding left.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# A monthly rate in basis points a year is bp / 10_000 / 12; doubling numerator and denominator
# lets integer floor division round half up exactly.
_MONTHLY_DENOMINATOR = 2 * 10_000 * 12


def monthly_interest(*, balance_fen: np.ndarray, annual_rate_bp: np.ndarray) -> np.ndarray:
    """One month's interest on a balance, rounded half up to the fen, in exact integer arithmetic."""
    numerator = 2 * balance_fen.astype(np.int64) * annual_rate_bp.astype(np.int64)
    return (numerator + _MONTHLY_DENOMINATOR // 2) // _MONTHLY_DENOMINATOR


def level_instalment(
    *, principal_fen: np.ndarray, annual_rate_bp: np.ndarray, term_months: np.ndarray
) -> np.ndarray:
    """The contractual monthly instalment P·r·(1+r)^n / ((1+r)^n − 1), rounded half up."""
    rate = annual_rate_bp.astype(np.float64) / 120_000.0
    growth = np.power(1.0 + rate, term_months.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        amortising = principal_fen * rate * growth / (growth - 1.0)
    interest_free = principal_fen / np.maximum(term_months, 1)
    exact = np.where(rate > 0, amortising, interest_free)
    return np.floor(exact + 0.5).astype(np.int64)


def iterate_schedule(
    *, principal_fen: np.ndarray, annual_rate_bp: np.ndarray, term_months: np.ndarray
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (period, principal part, interest part, balance before) for periods 1..max term.

    Parts are zero for loans whose term has already ended.
    """
    balance = principal_fen.astype(np.int64).copy()
    instalment = level_instalment(
        principal_fen=principal_fen, annual_rate_bp=annual_rate_bp, term_months=term_months
    )
    for period in range(1, int(term_months.max(initial=0)) + 1):
        live = period <= term_months
        interest = np.where(
            live, monthly_interest(balance_fen=balance, annual_rate_bp=annual_rate_bp), 0
        )
        level_part = np.clip(instalment - interest, 0, balance)
        principal = np.where(period == term_months, balance, np.where(live, level_part, 0))
        yield period, principal, interest, balance.copy()
        balance -= principal


def equal_instalment_schedule(
    *, principal_fen: np.ndarray, annual_rate_bp: np.ndarray, term_months: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Full schedules as two (loans, max term) matrices: principal and interest per period."""
    width = int(term_months.max(initial=0))
    principal = np.zeros((principal_fen.shape[0], width), dtype=np.int64)
    interest = np.zeros_like(principal)
    for period, principal_part, interest_part, _ in iterate_schedule(
        principal_fen=principal_fen, annual_rate_bp=annual_rate_bp, term_months=term_months
    ):
        principal[:, period - 1] = principal_part
        interest[:, period - 1] = interest_part
    return principal, interest
