"""Experiment assignment by stable hashing: an account stays in one arm of an experiment every day.

u = the first 52 bits of sha256("{experiment}:{account_id}") divided by 2**52, a uniform number in
[0, 1) that a double holds exactly; arms take consecutive slices of [0, 1) in the order listed and
the rest is the champion. The same rule as DuckDB SQL lets the batch plane assign set-based.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

_BITS = 52
_HEX_DIGITS = _BITS // 4
_SCALE: int = 1 << _BITS


@dataclass(frozen=True)
class Arm:
    """One challenger arm of an experiment and the share of accounts it gets."""

    name: str
    share: float


def _check(arms: Sequence[Arm]) -> None:
    if any(not 0 < arm.share < 1 for arm in arms) or sum(a.share for a in arms) >= 1:
        raise ValueError("arm shares must each lie in (0, 1) and sum to less than 1")


def stable_uniform(*, experiment: str, account_id: str) -> float:
    """The account's fixed position in [0, 1) for this experiment."""
    digest = hashlib.sha256(f"{experiment}:{account_id}".encode()).hexdigest()
    return int(digest[:_HEX_DIGITS], 16) / _SCALE


def upper_bounds(arms: Sequence[Arm]) -> list[float]:
    """Cumulative shares: arm i takes u in [bound i-1, bound i). Shared by Python and SQL."""
    return list(accumulate(arm.share for arm in arms))


def assign_arm(*, experiment: str, account_id: str, arms: Sequence[Arm]) -> str | None:
    """The arm an account belongs to, or None for the champion."""
    _check(arms)
    u = stable_uniform(experiment=experiment, account_id=account_id)
    for arm, bound in zip(arms, upper_bounds(arms), strict=True):
        if u < bound:
            return arm.name
    return None


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def uniform_sql(*, experiment: str, account_column: str = "account_id") -> str:
    """DuckDB expression equal to `stable_uniform` for each row's account.

    Spark has no '0x' literal parse: strategy/spark.py rewrites `CAST(('0x' || h) AS BIGINT)` to
    `CAST(conv(h, 16, 10) AS BIGINT)`, so keep that shape (tests/strategy/test_conformance.py).
    """
    digest = f"sha256({_text(experiment + ':')} || {account_column})"
    integer = f"CAST(('0x' || substr({digest}, 1, {_HEX_DIGITS})) AS BIGINT)"
    return f"(CAST({integer} AS DOUBLE) / {_SCALE}.0)"


def assignment_sql(
    *, experiment: str, arms: Sequence[Arm], account_column: str = "account_id"
) -> str:
    """DuckDB CASE giving each row's arm name, NULL for the champion (as `assign_arm`)."""
    _check(arms)
    u = uniform_sql(experiment=experiment, account_column=account_column)
    # repr() round-trips a double exactly, so SQL compares against the very bounds Python uses.
    whens = " ".join(
        f"WHEN {u} < CAST('{bound!r}' AS DOUBLE) THEN {_text(arm.name)}"
        for arm, bound in zip(arms, upper_bounds(arms), strict=True)
    )
    return f"CASE {whens} ELSE NULL END"
