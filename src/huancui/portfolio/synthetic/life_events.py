"""Life events (job loss, illness, family emergency, natural disaster) that cut ability to pay.

Each customer-month has a small hazard per event type; a natural disaster first strikes a province,
then a share of the customers living there. Events may start before the history window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from huancui.portfolio.contract import PROVINCE_CODES
from huancui.portfolio.synthetic.parameters import WorldParameters

NATURAL_DISASTER = "natural_disaster"


@dataclass(frozen=True)
class LifeEvents:
    """Events of one block of customers and their effect on ability per history month."""

    shock: np.ndarray  # (customers, months) float32: ability lost in each history month
    customer: np.ndarray  # per event: block-local customer index
    kind: np.ndarray  # per event: index into WorldParameters.life_events
    start_month: np.ndarray  # per event: history month it starts (negative: before the window)
    duration: np.ndarray  # per event: months
    last_kind: np.ndarray  # per customer: kind of the latest event active in the last month, -1
    last_start: np.ndarray  # per customer: its start month


def draw_disasters(rng: np.random.Generator, *, months: int, params: WorldParameters) -> np.ndarray:
    """(provinces, prehistory + months) booleans: a disaster strikes the province that month."""
    total = params.event_prehistory_months + months
    draws = rng.random((len(PROVINCE_CODES), total))
    return np.asarray(draws < params.disaster_province_monthly_probability)


def simulate_life_events(
    rng: np.random.Generator,
    *,
    province: np.ndarray,
    months: int,
    disasters: np.ndarray,
    params: WorldParameters,
) -> LifeEvents:
    n = int(province.shape[0])
    kinds = params.life_events
    remaining = np.zeros((len(kinds), n), dtype=np.int32)
    started = np.full((len(kinds), n), -10_000, dtype=np.int32)
    shock = np.zeros((n, months), dtype=np.float32)
    records: list[tuple[np.ndarray, int, int, np.ndarray]] = []
    for step in range(params.event_prehistory_months + months):
        month = step - params.event_prehistory_months
        for k, kind in enumerate(kinds):
            if kind.name == NATURAL_DISASTER:
                exposed = disasters[province, step]
                hazard = np.where(exposed, params.disaster_affected_share, 0.0)
            else:
                hazard = np.full(n, kind.monthly_hazard)
            starts = (rng.random(n) < hazard) & (remaining[k] == 0)
            who = np.flatnonzero(starts)
            if who.size:
                duration = rng.geometric(1.0 / kind.mean_duration_months, size=who.size)
                remaining[k, who] = duration
                started[k, who] = month
                records.append((who, k, month, duration.astype(np.int32)))
        if month >= 0:
            active = remaining > 0
            shock[:, month] = (active * _shocks(params)[:, None]).sum(axis=0)
        np.subtract(remaining, 1, out=remaining, where=remaining > 0)
    return _collect(records, shock=shock, started=started, months=months, params=params)


def _shocks(params: WorldParameters) -> np.ndarray:
    return np.array([k.ability_shock for k in params.life_events], dtype=np.float32)


def _collect(
    records: list[tuple[np.ndarray, int, int, np.ndarray]],
    *,
    shock: np.ndarray,
    started: np.ndarray,
    months: int,
    params: WorldParameters,
) -> LifeEvents:
    customer = _concat([r[0] for r in records], dtype=np.int64)
    kind = _concat([np.full(r[0].size, r[1]) for r in records], dtype=np.int8)
    start = _concat([np.full(r[0].size, r[2]) for r in records], dtype=np.int32)
    duration = _concat([r[3] for r in records], dtype=np.int32)
    # An event of a kind starts only after the previous one of that kind ended, so the latest
    # end per kind belongs to the latest start.
    ends = np.full_like(started, -10_000)
    for k in range(len(params.life_events)):
        mine = kind == k
        np.maximum.at(ends[k], customer[mine], start[mine] + duration[mine] - 1)
    last = months - 1
    running = (started <= last) & (ends >= last)
    latest = np.where(running, started, -10_000)
    last_kind = np.where(running.any(axis=0), latest.argmax(axis=0), -1).astype(np.int8)
    return LifeEvents(
        shock=shock,
        customer=customer,
        kind=kind,
        start_month=start,
        duration=duration,
        last_kind=last_kind,
        last_start=latest.max(axis=0).astype(np.int32),
    )


def _concat(parts: list[np.ndarray], *, dtype: type) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype=dtype)
    return np.concatenate(parts).astype(dtype)
