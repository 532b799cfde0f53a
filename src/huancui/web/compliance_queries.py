"""Read-only queries of the compliance officer's pages that no service offers: holds from both
sources, disputes, complaints from the snapshot's feedback, and each run's suppressions.

Nothing here writes; placing and releasing holds goes through contact/holds.py. Personal data
is not read: holds, outcomes, feedback and plans carry account ids, not names or numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from huancui.cases.tables import ContactOutcomeRow
from huancui.contact.policy import CompliancePack, load_pack
from huancui.contact.rule_text import describe
from huancui.contact.tables import CaseHoldRow
from huancui.kit.errors import HuancuiError
from huancui.kit.settings import Settings
from huancui.kit.sql import lit
from huancui.portfolio.repository import PortfolioRepository
from huancui.portfolio.snapshot_store import snapshot_dir
from huancui.strategy.tables import PlanRunRow

DISPUTE = "dispute"
COMPLAINT = "complaint"
EXAMPLES_PER_RULE = 5


@dataclass(frozen=True)
class HoldLine:
    """One hold as the compliance officer sees it, placed here (`case`) or by the bank's own
    systems (`snapshot`: read-only here, released where it was placed)."""

    source: str  # case | snapshot
    hold_id: str
    account_id: str
    hold_type: str
    channel: str | None
    start_date: date
    end_date: date | None
    reason: str | None
    active: bool
    placed_by: str | None = None
    released_by: str | None = None
    release_reason: str | None = None
    origin: str | None = None  # a case hold's source: manual, hardship or arrangement

    @property
    def releasable(self) -> bool:
        """Only holds people placed here can be released here, and only once: a 缓催 pause's or
        an arrangement's hold ends with its own record (contact.holds.release)."""
        return self.source == "case" and self.origin == "manual" and self.released_by is None


@dataclass(frozen=True)
class HoldList:
    lines: list[HoldLine]
    total: int  # matches of the filter in both sources, beyond what `lines` shows
    snapshot_as_of: date | None  # the snapshot whose holds file was read, if any


def _active(start: date, end: date | None, today: date) -> bool:
    return start <= today and (end is None or end >= today)


def optional_snapshot_file(
    session: Session, settings: Settings, name: str
) -> tuple[date, Path] | None:
    """(as-of date, path) of the newest snapshot's optional file, or None when absent."""
    snapshot = PortfolioRepository(session).latest_snapshot()
    if snapshot is None:
        return None
    path = snapshot_dir(settings.snapshots_dir, snapshot.as_of) / f"{name}.parquet"
    return (snapshot.as_of, path) if path.exists() else None


def _rows(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    con = duckdb.connect()
    try:
        cursor = con.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def holds(
    session: Session,
    settings: Settings,
    *,
    today: date,
    hold_type: str | None = None,
    account_id: str | None = None,
    limit: int = 200,
) -> HoldList:
    """Holds of both sources, active ones first (then the newest start first)."""
    query = select(CaseHoldRow)
    if hold_type:
        query = query.where(CaseHoldRow.hold_type == hold_type)
    if account_id:
        query = query.where(CaseHoldRow.account_id == account_id)
    active_case = (CaseHoldRow.start_date <= today) & or_(
        CaseHoldRow.end_date.is_(None), CaseHoldRow.end_date >= today
    )
    case_total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    case_rows = session.scalars(
        query.order_by(
            active_case.desc(), CaseHoldRow.start_date.desc(), CaseHoldRow.hold_id.desc()
        ).limit(limit)
    ).all()
    lines = [
        HoldLine(
            source="case",
            hold_id=str(r.hold_id),
            account_id=r.account_id,
            hold_type=r.hold_type,
            channel=r.channel,
            start_date=r.start_date,
            end_date=r.end_date,
            reason=r.reason,
            active=_active(r.start_date, r.end_date, today),
            placed_by=r.placed_by,
            released_by=r.released_by,
            release_reason=r.release_reason,
            origin=r.source,
        )
        for r in case_rows
    ]
    found = optional_snapshot_file(session, settings, "holds")
    snapshot_total = 0
    if found is not None:
        _, path = found
        where = " WHERE TRUE"
        params: list[Any] = []
        if hold_type:
            where += " AND hold_type = ?"
            params.append(hold_type)
        if account_id:
            where += " AND account_id = ?"
            params.append(account_id)
        source = f"read_parquet({lit(str(path))})"
        snapshot_total = int(_rows(f"SELECT count(*) AS n FROM {source}{where}", params)[0]["n"])
        active_sql = "(start_date <= ? AND (end_date IS NULL OR end_date >= ?))"
        for r in _rows(
            f"SELECT hold_id, account_id, hold_type, channel, start_date, end_date, reason,"
            f" {active_sql} AS active FROM {source}{where}"
            " ORDER BY active DESC, start_date DESC, hold_id LIMIT ?",
            [today, today, *params, limit],
        ):
            lines.append(
                HoldLine(
                    source="snapshot",
                    hold_id=str(r["hold_id"]),
                    account_id=str(r["account_id"]),
                    hold_type=str(r["hold_type"]),
                    channel=r["channel"],
                    start_date=r["start_date"],
                    end_date=r["end_date"],
                    reason=r["reason"],
                    active=bool(r["active"]),
                )
            )
    lines.sort(key=lambda h: (not h.active, -h.start_date.toordinal()))
    return HoldList(
        lines=lines[:limit],
        total=case_total + snapshot_total,
        snapshot_as_of=found[0] if found else None,
    )


@dataclass(frozen=True)
class DisputeOutcome:
    """A contact whose outcome was coded `dispute` by a collector."""

    outcome_id: int
    account_id: str
    channel: str
    note: str | None
    actor: str
    occurred_at: datetime


def dispute_outcomes(session: Session, *, limit: int = 200) -> tuple[list[DisputeOutcome], int]:
    """Contacts coded `dispute`, newest first, and how many there are in all."""
    query = select(ContactOutcomeRow).where(ContactOutcomeRow.outcome == DISPUTE)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.order_by(
            ContactOutcomeRow.occurred_at.desc(), ContactOutcomeRow.outcome_id.desc()
        ).limit(limit)
    ).all()
    return [
        DisputeOutcome(
            outcome_id=r.outcome_id,
            account_id=r.account_id,
            channel=r.channel,
            note=r.note,
            actor=r.actor,
            occurred_at=r.occurred_at,
        )
        for r in rows
    ], total


@dataclass(frozen=True)
class Complaints:
    """Complaints in the newest snapshot's feedback file (None: no file was delivered)."""

    snapshot_as_of: date | None
    delivered: bool
    total: int = 0
    by_category: list[tuple[str, int]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def complaints(session: Session, settings: Settings, *, limit: int = 200) -> Complaints:
    """The complaints of the newest snapshot's feedback file, newest first, and their counts
    by category."""
    snapshot = PortfolioRepository(session).latest_snapshot()
    found = optional_snapshot_file(session, settings, "feedback")
    if found is None:
        return Complaints(snapshot.as_of if snapshot else None, delivered=False)
    as_of, path = found
    source = f"read_parquet({lit(str(path))}) WHERE kind = {lit(COMPLAINT)}"
    by_category = [
        (str(r["category"]), int(r["n"]))
        for r in _rows(
            f"SELECT coalesce(category, 'other') AS category, count(*) AS n FROM {source}"
            " GROUP BY ALL ORDER BY n DESC, category",
            [],
        )
    ]
    rows = _rows(
        "SELECT feedback_id, account_id, received_date, channel, category, contact_id"
        f" FROM {source} ORDER BY received_date DESC, feedback_id LIMIT ?",
        [limit],
    )
    return Complaints(as_of, True, sum(n for _, n in by_category), by_category, rows)


@dataclass(frozen=True)
class RuleSuppressions:
    rule: str
    meaning: str
    actions: int
    examples: list[tuple[str, str]]  # (account id, channel)


@dataclass(frozen=True)
class RunSuppressions:
    run: PlanRunRow
    rules: list[RuleSuppressions]
    plan_missing: bool  # the plan file is gone: counts from the run record, no examples


def recent_runs(session: Session, *, limit: int = 30) -> list[PlanRunRow]:
    """The newest runs, current ones and re-runs alike, newest first."""
    return list(
        session.scalars(
            select(PlanRunRow)
            .order_by(PlanRunRow.as_of.desc(), PlanRunRow.run_id.desc())
            .limit(limit)
        )
    )


def run_suppressions(
    session: Session, settings: Settings, run_id: int, *, language: str
) -> RunSuppressions | None:
    """What the compliance guard removed from one run's plan, per rule (the run's summary),
    with a few example accounts per rule read from the plan file."""
    run = session.get(PlanRunRow, run_id)
    if run is None:
        return None
    counts = [
        (str(r["rule"]), int(r["actions"])) for r in run.summary.get("suppressed_by_rule", [])
    ]
    plan = settings.home / run.plan_path
    examples: dict[str, list[tuple[str, str]]] = {}
    if plan.exists():
        for r in _rows(
            "SELECT suppressed_by, account_id, channel FROM ("
            " SELECT suppressed_by, account_id, channel, row_number() OVER"
            " (PARTITION BY suppressed_by ORDER BY account_id, channel) AS n"
            f" FROM read_parquet({lit(str(plan))}) WHERE status = 'suppressed'"
            ") WHERE n <= ? ORDER BY suppressed_by, account_id, channel",
            [EXAMPLES_PER_RULE],
        ):
            examples.setdefault(str(r["suppressed_by"]), []).append(
                (str(r["account_id"]), str(r["channel"]))
            )
    try:
        pack: CompliancePack | None = load_pack(run.policy_name).pack
    except HuancuiError:  # a pack no longer installed: the rule ids without their meaning
        pack = None
    rules = [
        RuleSuppressions(
            rule=rule,
            meaning=describe(rule, pack, language) if pack is not None else rule,
            actions=actions,
            examples=examples.get(rule, []),
        )
        for rule, actions in counts
    ]
    return RunSuppressions(run=run, rules=rules, plan_missing=not plan.exists())
