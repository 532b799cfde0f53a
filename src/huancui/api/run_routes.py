"""Nightly runs over the API, read-only: the runs (plan_runs), one run with its summary, and the
rows of its plan (the Parquet file the run wrote, queried with DuckDB, filters as bound
parameters, one page at a time). Starting a run stays with `huancui run` (docs/api.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
from fastapi import APIRouter, Query
from sqlalchemy import select

from huancui.api.deps import (
    NO_NUL,
    Limit,
    Offset,
    Page,
    Principal,
    RecordId,
    SessionDep,
    SettingsDep,
    page_of,
    require,
)
from huancui.contact.guard import PLAN_COLUMNS as GUARD_PLAN_COLUMNS
from huancui.kit.errors import NotFound
from huancui.kit.settings import Settings
from huancui.strategy.tables import PlanRunRow

router = APIRouter(prefix="/runs", tags=["runs"])
Reader = Annotated[Principal, require("kpi:read")]
PlanReader = Annotated[Principal, require("kpi:read", "queue:read")]
Filter = Annotated[str | None, Query(min_length=1, max_length=64, pattern=NO_NUL)]

# The plan's columns as the API shows them (docs/nightly-run.md): the guard's, less two internal
# ones. No personal data is in a plan.
PLAN_COLUMNS = tuple(c for c in GUARD_PLAN_COLUMNS if c not in ("party", "segment_rule_index"))


def _aware(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def run_json(row: PlanRunRow) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "as_of": row.as_of.isoformat(),
        "planned_date": row.planned_date.isoformat(),
        "strategy": row.strategy_label,
        "policy": f"{row.policy_name} v{row.policy_version}",
        "policy_sha256": row.policy_sha256,
        "model_versions": row.model_versions,
        "snapshot_sha256": row.snapshot_sha256,
        "engine": row.engine,
        "plan_sha256": row.plan_sha256,
        "rows_planned": row.rows_planned,
        "rows_suppressed": row.rows_suppressed,
        "current": row.is_current,
        "started_at": _aware(row.started_at),
        "finished_at": _aware(row.finished_at),
        "actor": row.actor,
    }


def _run(session: SessionDep, run_id: int) -> PlanRunRow:
    row = session.get(PlanRunRow, run_id)
    if row is None:
        raise NotFound(f"run {run_id} does not exist")
    return row


def plan_file(settings: Settings, row: PlanRunRow) -> Path:
    """The run's plan file, which must lie under the runs folder of HUANCUI_HOME."""
    path = (settings.home / row.plan_path).resolve()
    if not path.is_relative_to(settings.runs_dir.resolve()) or not path.is_file():
        raise NotFound(f"the plan file of run {row.run_id} is missing; re-run {row.as_of}")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@router.get("", response_model=Page)
def list_runs(
    session: SessionDep,
    _: Reader,
    as_of: date | None = None,
    current: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """Runs newest first; `current` keeps only the current run of each date (or the others)."""
    query = select(PlanRunRow).order_by(PlanRunRow.run_id.desc())
    if as_of is not None:
        query = query.where(PlanRunRow.as_of == as_of)
    if current is not None:
        query = query.where(PlanRunRow.is_current.is_(current))
    rows, total = page_of(session, query, limit=limit, offset=offset)
    return Page(items=[run_json(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{run_id}")
def show_run(run_id: RecordId, session: SessionDep, _: Reader) -> dict[str, Any]:
    """One run with its summary (planned actions by cell, suppressions by rule)."""
    row = _run(session, run_id)
    return {**run_json(row), "summary": row.summary}


@router.get("/{run_id}/plan", response_model=Page)
def plan_rows(
    run_id: RecordId,
    session: SessionDep,
    settings: SettingsDep,
    _: PlanReader,
    channel: Filter = None,
    segment: Filter = None,
    stage: Filter = None,
    queue: Filter = None,
    status: Literal["planned", "suppressed"] | None = None,
    account_id: Filter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """The run's plan rows, highest priority first, filtered by channel, segment, stage,
    queue, status and account."""
    path = plan_file(settings, _run(session, run_id))
    filters = {
        "channel": channel,
        "segment": segment,
        "stage": stage,
        "queue": queue,
        "status": status,
        "account_id": account_id,
    }
    where = " AND ".join(f"(${name} IS NULL OR {name} = ${name})" for name in filters)
    source = f"read_parquet($path) WHERE {where}"
    params: dict[str, Any] = {"path": str(path), **filters}
    con = duckdb.connect()
    try:
        counted = con.execute(f"SELECT count(*) FROM {source}", params).fetchone()
        cursor = con.execute(
            f"SELECT {', '.join(PLAN_COLUMNS)} FROM {source}"
            " ORDER BY priority DESC NULLS LAST, account_id, channel LIMIT $limit OFFSET $offset",
            {**params, "limit": limit, "offset": offset},
        )
        items = [
            {name: _plain(value) for name, value in zip(PLAN_COLUMNS, row, strict=True)}
            for row in cursor.fetchall()
        ]
    finally:
        con.close()
    total = int(counted[0]) if counted else 0
    return Page(items=items, total=total, limit=limit, offset=offset)
