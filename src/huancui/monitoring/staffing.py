"""Staffing: the agents a run's plan needs per queue and contact day (Erlang C for calls, hours
for field visits), against the staff the strategy's rollout plan gives each queue.

The queueing arithmetic is pure; `staffing_for` reads the current run's plan and its strategy.
Model, assumptions and limits: docs/staffing.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb
from sqlalchemy.orm import Session

from huancui.kit.errors import NotFound
from huancui.kit.settings import Settings
from huancui.kit.sql import lit
from huancui.strategy.nightly import current_run, strategy_of
from huancui.strategy.spec import Milestone, QueueResources, Rollout, Strategy

SECONDS_PER_HOUR = 3600


# --- Erlang C -------------------------------------------------------------------------------


def erlang_b(agents: int, traffic: float) -> float:
    """Erlang B blocking probability by the recurrence B(n) = A·B(n-1) / (n + A·B(n-1)), B(0) = 1:
    every term is positive and below 1, so it neither overflows nor cancels for thousands of
    agents (the textbook A^N / N! form overflows a double past N ≈ 170)."""
    if agents < 0 or traffic < 0:
        raise ValueError("agents and traffic must not be negative")
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits (all `agents` busy) under `traffic` Erlangs; 1 when the
    queue is unstable (traffic ≥ agents: the queue grows without bound)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1 - b))


def service_level(
    *, agents: int, traffic: float, aht_seconds: float, within_seconds: float
) -> float:
    """Share of calls answered within `within_seconds`: 1 - C·exp(-(N - A)·t / AHT)."""
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    wait = erlang_c(agents, traffic)
    return 1 - wait * math.exp(-(agents - traffic) * within_seconds / aht_seconds)


def average_speed_of_answer(*, agents: int, traffic: float, aht_seconds: float) -> float:
    """Mean wait in seconds over all calls: C·AHT / (N - A); infinite when unstable."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return erlang_c(agents, traffic) * aht_seconds / (agents - traffic)


def agents_needed(
    *,
    traffic: float,
    aht_seconds: float,
    target: float,
    within_seconds: float,
    max_occupancy: float,
) -> int:
    """The fewest agents on the phones at once for which the service level reaches `target` and
    occupancy (traffic / agents) stays at or below `max_occupancy`."""
    if traffic <= 0:
        return 0
    # Start where the queue is stable and the occupancy cap holds; the service level rises with
    # every agent added, so the first n that meets it is the answer (a handful of steps).
    n = max(math.floor(traffic) + 1, math.ceil(traffic / max_occupancy - 1e-9))
    while (
        service_level(
            agents=n, traffic=traffic, aht_seconds=aht_seconds, within_seconds=within_seconds
        )
        < target
    ):
        n += 1
    return n


def call_traffic(*, calls: int, aht_seconds: float, shift_hours: float) -> float:
    """Offered load in Erlangs when a day's calls arrive evenly (Poisson) over one shift."""
    return calls * aht_seconds / (shift_hours * SECONDS_PER_HOUR)


def visit_agents_needed(*, visits: int, hours_per_visit: float, hours_per_agent: float) -> int:
    """Field agents for a day's visits: ceil(visits × hours per visit / hours per agent), where
    an agent's hours are those left after shrinkage."""
    if visits <= 0:
        return 0
    return math.ceil(visits * hours_per_visit / hours_per_agent - 1e-9)


def fte(on_duty: int, *, shrinkage: float) -> int:
    """Staff to employ so that `on_duty` are working after breaks, training and absence."""
    return math.ceil(on_duty / (1 - shrinkage) - 1e-9) if on_duty else 0


# --- Forecast per queue and contact day -----------------------------------------------------

WarningKind = Literal["shortfall", "not_staffed", "no_call_model", "no_visit_model"]


@dataclass(frozen=True)
class Workload:
    """Planned calls and visits of one queue on one contact day."""

    queue: str
    contact_date: date
    calls: int
    visits: int


@dataclass(frozen=True)
class CallOutlook:
    """The Erlang C view of a queue-day's calls: what is needed, and what the staff gives."""

    traffic_erlangs: float
    agents_on_phones: int  # needed at once to meet the service level and occupancy cap
    fte: int  # staff to employ for it: grossed up for shrinkage
    staffed_on_phones: int  # of the staffed agents, those left for calls after visits
    service_level: float  # at the staffed level
    average_speed_of_answer_s: float  # at the staffed level (inf: unstable)
    occupancy: float | None  # at the staffed level; None: no agent left for calls

    def as_json(self) -> dict[str, Any]:
        asa = self.average_speed_of_answer_s
        return {
            "traffic_erlangs": round(self.traffic_erlangs, 3),
            "agents_on_phones": self.agents_on_phones,
            "fte": self.fte,
            "staffed_on_phones": self.staffed_on_phones,
            "service_level_at_staffed": round(self.service_level, 4),
            "average_speed_of_answer_s_at_staffed": None if math.isinf(asa) else round(asa, 1),
            "occupancy_at_staffed": None if self.occupancy is None else round(self.occupancy, 4),
        }


@dataclass(frozen=True)
class StaffingWarning:
    queue: str
    contact_date: date
    kind: WarningKind
    message: str
    shortfall: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "contact_date": self.contact_date.isoformat(),
            "kind": self.kind,
            "shortfall": self.shortfall,
            "message": self.message,
        }


@dataclass(frozen=True)
class QueueDay:
    """The staff one queue needs on one contact day, and what it has."""

    workload: Workload
    staffed: int | None  # None: the queue has no rollout resources
    call: CallOutlook | None  # None: the queue has no calls: section
    visit_fte: int  # field agents (FTE) the visits need
    needed: int | None  # None: the need cannot be forecast (no resources or no model)

    @property
    def shortfall(self) -> int:
        if self.needed is None or self.staffed is None:
            return 0
        return max(self.needed - self.staffed, 0)

    def as_json(self) -> dict[str, Any]:
        w = self.workload
        return {
            "queue": w.queue,
            "contact_date": w.contact_date.isoformat(),
            "calls": w.calls,
            "visits": w.visits,
            "staffed": self.staffed,
            "needed": self.needed,
            "shortfall": self.shortfall,
            "erlang_c": None if self.call is None else self.call.as_json(),
            "visits_fte": self.visit_fte,
        }


@dataclass(frozen=True)
class StaffingForecast:
    rows: list[QueueDay]
    warnings: list[StaffingWarning] = field(default_factory=list)


def forecast(
    workloads: list[Workload], rollout: Rollout | None, *, days: Iterable[date] = ()
) -> StaffingForecast:
    """Needed against staffed for each queue-day with calls or visits, and for every staffed
    queue on each contact day (`days` adds days without work, so idle capacity shows too), with
    a warning where the staff falls short or the need cannot be forecast."""
    resources = rollout.resources if rollout is not None else {}
    all_days = sorted({w.contact_date for w in workloads} | set(days))
    by_key = {(w.queue, w.contact_date): w for w in workloads if w.calls or w.visits}
    for queue in resources:
        for day in all_days:
            by_key.setdefault((queue, day), Workload(queue, day, 0, 0))
    rows: list[QueueDay] = []
    warnings: list[StaffingWarning] = []
    for key in sorted(by_key):
        row, found = _queue_day(by_key[key], resources.get(key[0]))
        rows.append(row)
        warnings.extend(found)
    return StaffingForecast(rows, warnings)


def _queue_day(w: Workload, r: QueueResources | None) -> tuple[QueueDay, list[StaffingWarning]]:
    if r is None:
        work = _work_text(w)
        message = (
            f"{w.queue} on {w.contact_date}: {work} planned but the queue is not staffed in the"
            f" rollout plan; add rollout.resources.{w.queue} to the strategy"
        )
        return QueueDay(w, None, None, 0, None), [
            StaffingWarning(w.queue, w.contact_date, "not_staffed", message)
        ]
    missing = [
        channel
        for channel, planned, handling in (
            ("visit", w.visits, r.visits),
            ("call", w.calls, r.calls),
        )
        if planned and handling is None
    ]
    warnings = [_no_model(w, channel) for channel in missing]
    visit_fte = 0
    if r.visits is not None:
        visit_fte = visit_agents_needed(
            visits=w.visits,
            hours_per_visit=r.visits.hours_per_visit,
            hours_per_agent=r.shift_hours * (1 - r.shrinkage),
        )
    call = None
    if r.calls is not None:
        left = max(r.agents - visit_fte, 0)
        call = call_outlook(calls=w.calls, resources=r, staffed_for_calls=left)
    needed = None if missing else visit_fte + (call.fte if call else 0)
    row = QueueDay(w, r.agents, call, visit_fte, needed)
    if row.shortfall:
        warnings.append(_shortfall(row, r))
    return row, warnings


def call_outlook(*, calls: int, resources: QueueResources, staffed_for_calls: int) -> CallOutlook:
    """Agents a queue-day's calls need, and the service the staffed agents would give."""
    r, c = resources, resources.calls
    if c is None:
        raise ValueError("the queue's resources give no calls: section")
    traffic = call_traffic(calls=calls, aht_seconds=c.aht_seconds, shift_hours=r.shift_hours)
    on_phones = agents_needed(
        traffic=traffic,
        aht_seconds=c.aht_seconds,
        target=c.service_level,
        within_seconds=c.answer_within_seconds,
        max_occupancy=c.max_occupancy,
    )
    staffed = math.floor(staffed_for_calls * (1 - r.shrinkage) + 1e-9)
    return CallOutlook(
        traffic_erlangs=traffic,
        agents_on_phones=on_phones,
        fte=fte(on_phones, shrinkage=r.shrinkage),
        staffed_on_phones=staffed,
        service_level=service_level(
            agents=staffed,
            traffic=traffic,
            aht_seconds=c.aht_seconds,
            within_seconds=c.answer_within_seconds,
        ),
        average_speed_of_answer_s=average_speed_of_answer(
            agents=staffed, traffic=traffic, aht_seconds=c.aht_seconds
        ),
        occupancy=traffic / staffed if staffed else None,
    )


def _agents(n: int | None) -> str:
    return f"{n} agent" if n == 1 else f"{n} agents"


def _work_text(w: Workload) -> str:
    parts = [f"{n:,} {name}" for n, name in ((w.calls, "calls"), (w.visits, "visits")) if n]
    return " and ".join(parts)


def _no_model(w: Workload, channel: str) -> StaffingWarning:
    n = w.calls if channel == "call" else w.visits
    hint = "calls: {aht_seconds: …}" if channel == "call" else "visits: {hours_per_visit: …}"
    return StaffingWarning(
        w.queue,
        w.contact_date,
        "no_call_model" if channel == "call" else "no_visit_model",
        f"{w.queue} on {w.contact_date}: {n:,} {channel}s planned but rollout.resources."
        f"{w.queue} says nothing about {channel}s; add {hint}",
    )


def _shortfall(row: QueueDay, r: QueueResources) -> StaffingWarning:
    w = row.workload
    why: list[str] = []
    if row.call is not None and w.calls:
        c = r.calls
        assert c is not None
        why.append(
            f"{w.calls:,} calls need {row.call.fte} (Erlang C: {row.call.agents_on_phones} on the"
            f" phones for {c.service_level:.0%} within {c.answer_within_seconds:g} s and occupancy"
            f" ≤ {c.max_occupancy:.0%})"
        )
    if row.visit_fte:
        why.append(f"{w.visits:,} visits need {row.visit_fte}")
    return StaffingWarning(
        w.queue,
        w.contact_date,
        "shortfall",
        f"{w.queue} on {w.contact_date}: needs {_agents(row.needed)}, {r.agents} staffed —"
        f" short by {row.shortfall} ({'; '.join(why)}; shrinkage {r.shrinkage:.0%})",
        row.shortfall,
    )


# --- Reading the run ------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffingReport:
    as_of: date
    run_id: int
    strategy: str
    planned_date: date
    plan_path: Path
    has_rollout: bool
    forecast: StaffingForecast

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "run_id": self.run_id,
            "strategy": self.strategy,
            "planned_date": self.planned_date.isoformat(),
            "plan_path": str(self.plan_path),
            "has_rollout": self.has_rollout,
            "queues": [row.as_json() for row in self.forecast.rows],
            "warnings": [w.as_json() for w in self.forecast.warnings],
        }


def plan_workload(plan: Path) -> list[Workload]:
    """Planned calls and visits by queue and contact day (suppressed rows are no work)."""
    con = duckdb.connect()
    try:
        found = con.execute(
            "SELECT queue, contact_date, count(*) FILTER (WHERE channel = 'call'),"
            " count(*) FILTER (WHERE channel = 'visit')"
            f" FROM read_parquet({lit(str(plan))})"
            " WHERE status = 'planned' AND channel IN ('call', 'visit')"
            " GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    return [Workload(str(q), d, int(calls), int(visits)) for q, d, calls, visits in found]


def staffing_for(session: Session, settings: Settings, *, as_of: date) -> StaffingReport:
    """The forecast for the current run of `as_of`, against its strategy version's rollout."""
    run = current_run(session, as_of)
    if run is None:
        raise NotFound(f"no run for {as_of}; run it first: huancui run --as-of {as_of}")
    plan = settings.home / run.plan_path
    if not plan.exists():
        raise NotFound(f"the plan of run {run.run_id} ({plan}) is missing; re-run {as_of}")
    strategy = strategy_of(session, run)
    result = forecast(plan_workload(plan), strategy.rollout, days=[run.planned_date])
    return StaffingReport(
        as_of=as_of,
        run_id=run.run_id,
        strategy=run.strategy_label,
        planned_date=run.planned_date,
        plan_path=plan,
        has_rollout=strategy.rollout is not None,
        forecast=result,
    )


# --- The rollout plan of the active version -------------------------------------------------

MilestoneStatus = Literal["done", "due", "overdue"]


def milestone_status(milestone: Milestone, *, today: date) -> MilestoneStatus:
    if milestone.done:
        return "done"
    return "overdue" if milestone.date < today else "due"


def rollout_json(name: str, strategy: Strategy, *, today: date) -> dict[str, Any]:
    rollout = strategy.rollout
    return {
        "strategy": name,
        "owner": strategy.owner,
        "effective_date": strategy.effective_date.isoformat(),
        "in_force": strategy.effective_date <= today,
        "has_rollout": rollout is not None,
        "resources": {
            queue: {**r.model_dump(mode="json"), **_capacity(r)}
            for queue, r in (rollout.resources.items() if rollout else ())
        },
        "milestones": [
            {**m.model_dump(mode="json"), "status": milestone_status(m, today=today)}
            for m in (rollout.milestones if rollout else ())
        ],
    }


def _capacity(r: QueueResources) -> dict[str, Any]:
    """What the staff can do a day: visits per agent, and calls at the occupancy cap."""
    productive_hours = r.shift_hours * (1 - r.shrinkage)
    found: dict[str, Any] = {"productive_hours_per_agent": round(productive_hours, 2)}
    if r.visits is not None:
        found["visits_per_agent_day"] = round(productive_hours / r.visits.hours_per_visit, 2)
    if r.calls is not None:
        per_agent = productive_hours * SECONDS_PER_HOUR / r.calls.aht_seconds
        found["calls_per_agent_day_at_max_occupancy"] = round(per_agent * r.calls.max_occupancy, 1)
    return found
