"""The nightly run: snapshot + active strategy + compliance pack → contact plan → the day's work.

    huancui run --as-of D [--engine duckdb|spark]

0. Monitors arrangements and 缓催 pauses against the snapshot's payments (arrangements/monitor.py,
   its own transaction): promises kept or broken, plans completed, pauses started or ended.
1. Reads the snapshot of D (Parquet), the active strategy version, the configured compliance
   pack, the holds placed in the case plane and the date's model score files
   (strategy/scores.py), and has the engine write the plan (one row per account and channel,
   planned or suppressed, with the rules that changed it) into a fresh folder.
2. In ONE case-plane transaction: records the run (strategy version, pack and its hash, the
   snapshot's hash, the model versions and score files used, engine, plan hash) as the current
   run of D, turns planned calls, visits, letters and legal referrals into work items and
   planned SMS and e-mail (plus the reminders of pauses about to end) into outbox messages, and
   writes an audit event. The plan folder is moved into place inside that transaction and
   removed again if it fails, so a run killed half-way leaves no partial plan.

Idempotency: work items and messages are keyed by the plan's idempotency key (contact day,
account, channel). Re-running D writes the same plan; keys already in the case plane are not
inserted again, so nothing is sent twice. Pending messages and open items of the same contact
days that the new plan no longer wants (say the account was paid up) are cancelled, naming the
run that cancelled them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.arrangements.monitor import monitor, reminder_rows
from huancui.arrangements.policy import load_arrangement_policy
from huancui.contact import holds
from huancui.contact.policy import LoadedPack, load_pack
from huancui.contact.tables import OUTBOX_CHANNELS, WORK_CHANNELS, OutboxRow, WorkItemRow
from huancui.kit.database import bulk_load, migrate, unit_of_work
from huancui.kit.digest import sha256_of
from huancui.kit.errors import InvalidInput, NotFound
from huancui.kit.settings import Settings
from huancui.kit.sql import lit
from huancui.portfolio.repository import PortfolioRepository
from huancui.portfolio.snapshot_store import snapshot_dir
from huancui.strategy.engines import make_engine
from huancui.strategy.loader import parse_strategy
from huancui.strategy.pipeline import build_query, planned_date_for
from huancui.strategy.repository import StrategyRepository
from huancui.strategy.scores import model_versions, scores_dir
from huancui.strategy.service import label
from huancui.strategy.spec import Strategy
from huancui.strategy.tables import ExperimentAssignmentRow, PlanRunRow, StrategyVersionRow

Progress = Callable[[str], None]
PLAN_FILE = "plan.parquet"
_KEY_CHUNK = 500


@dataclass(frozen=True)
class RunReport:
    run_id: int
    as_of: date
    planned_date: date
    strategy: str
    policy: str
    engine: str
    plan_path: Path
    plan_sha256: str
    same_as_previous: bool | None  # None: no earlier run of this date
    rows_planned: int
    rows_suppressed: int
    summary: dict[str, Any]
    work_items_added: int
    messages_added: int
    already_present: int
    cancelled: int
    monitoring: dict[str, object] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # model versions and score files used

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "planned_date": self.planned_date.isoformat(),
            "strategy": self.strategy,
            "policy": self.policy,
            "engine": self.engine,
            "plan_path": str(self.plan_path),
            "plan_sha256": self.plan_sha256,
            "same_as_previous": self.same_as_previous,
            "rows_planned": self.rows_planned,
            "rows_suppressed": self.rows_suppressed,
            "work_items_added": self.work_items_added,
            "messages_added": self.messages_added,
            "already_present": self.already_present,
            "cancelled": self.cancelled,
            "monitoring": self.monitoring,
            "models": self.models,
            **self.summary,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


@dataclass(frozen=True)
class RunInputs:
    """What decides a run, read from the case plane before any work."""

    snapshot: Path
    snapshot_sha256: str
    strategy_row_id: int
    strategy_label: str
    strategy: Strategy
    pack: LoadedPack
    case_holds: pa.Table


def load_inputs(session: Session, settings: Settings, as_of: date) -> RunInputs:
    if PortfolioRepository(session).snapshot_for(as_of) is None:
        raise NotFound(
            f"no snapshot for {as_of}; import one first: huancui import DIR --as-of {as_of}"
        )
    folder = snapshot_dir(settings.snapshots_dir, as_of)
    if not (folder / "accounts.parquet").exists():
        raise NotFound(f"the snapshot folder {folder} is missing; re-import {as_of}")
    planned = planned_date_for(as_of)
    repo = StrategyRepository(session)
    row = repo.in_force(planned)
    if row is None:
        latest = repo.active()
        if latest is None:
            raise NotFound(
                "no active strategy; activate one first:"
                " huancui strategy activate strategies/default.yaml"
            )
        raise InvalidInput(
            f"strategy {label(latest.name, latest.version)} takes effect on"
            f" {latest.effective_date} and no earlier version is in force; the run for {as_of}"
            f" plans contacts for {planned}"
        )
    parsed = parse_strategy(row.yaml_text, source=f"strategy {label(row.name, row.version)}")
    if parsed.strategy is None or parsed.errors:
        raise InvalidInput(
            f"the stored strategy {label(row.name, row.version)} no longer validates:\n"
            + "\n".join(str(f) for f in parsed.errors)
        )
    return RunInputs(
        snapshot=folder,
        snapshot_sha256=sha256_of(folder / "manifest.json"),
        strategy_row_id=row.strategy_version_id,
        strategy_label=label(row.name, row.version),
        strategy=parsed.strategy,
        pack=load_pack(settings.compliance_pack),
        case_holds=holds.for_run(session, planned),
    )


def run_key(inputs: RunInputs, as_of: date, models: dict[str, Any]) -> str:
    """The identity of a run: same key, same plan."""
    identity = {
        "as_of": as_of.isoformat(),
        "strategy": inputs.strategy_label,
        "strategy_version_id": inputs.strategy_row_id,
        "policy_sha256": inputs.pack.sha256,
        "snapshot_sha256": inputs.snapshot_sha256,
        "case_holds_sha256": hashlib.sha256(
            json.dumps(inputs.case_holds.to_pylist(), sort_keys=True, default=str).encode()
        ).hexdigest(),
        "models": models,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def run_nightly(
    settings: Settings,
    *,
    as_of: date,
    engine: str = "duckdb",
    actor: str,
    on_progress: Progress | None = None,
) -> RunReport:
    """Plan `as_of`'s night and hand the work to the case plane (see the module doc)."""
    notify = on_progress or (lambda _stage: None)
    started_at = datetime.now(UTC)
    timings: dict[str, float] = {}
    url = settings.resolved_database_url
    migrate(url)
    notify("monitoring arrangements")
    mark = time.perf_counter()
    with unit_of_work(url) as session:
        load_inputs(session, settings, as_of)  # refuse early: nothing to monitor against
        monitored = monitor(
            session,
            load_arrangement_policy(settings.arrangement_policy).policy,
            as_of=as_of,
            payments_file=snapshot_dir(settings.snapshots_dir, as_of) / "payments.parquet",
            actor=actor,
        )
    timings["monitoring"] = time.perf_counter() - mark
    with unit_of_work(url) as session:
        inputs = load_inputs(session, settings, as_of)
    notify("planning")
    mark = time.perf_counter()
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    _sweep_leftovers(settings.runs_dir)
    work = settings.runs_dir / f".run-{uuid.uuid4().hex}.tmp"
    work.mkdir()
    try:
        query = build_query(
            strategy=inputs.strategy,
            pack=inputs.pack.pack,
            snapshot=inputs.snapshot,
            as_of=as_of,
            case_holds=inputs.case_holds,
            scores=scores_dir(settings.home, as_of),
        )
        models = model_versions(query.scores, settings.home)
        key = run_key(inputs, as_of, models)
        make_engine(engine, settings).write_plan(query, work / PLAN_FILE)
        timings["plan"] = time.perf_counter() - mark

        notify("summarising")
        mark = time.perf_counter()
        plan_sha = plan_digest(work / PLAN_FILE)
        summary, planned, suppressed = summarise(work / PLAN_FILE)
        outbox_rows, work_rows = actionable(work / PLAN_FILE)
        assignments = experiment_cells(work / PLAN_FILE)
        timings["summary"] = time.perf_counter() - mark

        notify("writing the day's work")
        mark = time.perf_counter()
        moved = False
        try:
            with unit_of_work(url) as session:
                previous = current_run(session, as_of)
                session.execute(
                    update(PlanRunRow)
                    .where(PlanRunRow.as_of == as_of, PlanRunRow.is_current)
                    .values(is_current=False)
                )
                row = PlanRunRow(
                    run_key=key,
                    as_of=as_of,
                    planned_date=planned_date_for(as_of),
                    strategy_version_id=inputs.strategy_row_id,
                    strategy_label=inputs.strategy_label,
                    policy_name=inputs.pack.pack.name,
                    policy_version=inputs.pack.pack.version,
                    policy_sha256=inputs.pack.sha256,
                    model_versions=models,
                    snapshot_sha256=inputs.snapshot_sha256,
                    engine=engine,
                    plan_path="",
                    plan_sha256=plan_sha,
                    rows_planned=planned,
                    rows_suppressed=suppressed,
                    summary=summary,
                    is_current=True,
                    started_at=started_at,
                    finished_at=datetime.now(UTC),
                    actor=actor,
                )
                session.add(row)
                session.flush()
                final = settings.runs_dir / as_of.isoformat() / f"run-{row.run_id}"
                row.plan_path = str(final.relative_to(settings.home) / PLAN_FILE)
                now = datetime.now(UTC)
                reminders = reminder_rows(
                    session,
                    inputs.pack.pack,
                    as_of=as_of,
                    contact_date=planned_date_for(as_of),
                    schema=outbox_rows.schema,
                )
                if reminders.num_rows:
                    outbox_rows = pa.concat_tables([outbox_rows, reminders])
                sync = _Sync(session, run_id=row.run_id, as_of=as_of, now=now)
                added_messages, present_m, cancelled_m = sync.apply(
                    OutboxRow, outbox_rows, "pending"
                )
                added_items, present_w, cancelled_w = sync.apply(WorkItemRow, work_rows, "open")
                assigned = _store_assignments(
                    session, assignments, run=row, strategy_version_id=inputs.strategy_row_id
                )
                same = None if previous is None else previous.plan_sha256 == plan_sha
                audit.record(
                    session,
                    actor=actor,
                    action="run.complete",
                    entity_type="plan_run",
                    entity_id=str(row.run_id),
                    before={"current_run": previous.run_id if previous else None},
                    after={
                        "as_of": as_of.isoformat(),
                        "strategy": inputs.strategy_label,
                        "policy": inputs.pack.pack.label,
                        "engine": engine,
                        "plan_sha256": plan_sha,
                        "planned": planned,
                        "suppressed": suppressed,
                        "work_items_added": added_items,
                        "messages_added": added_messages,
                        "cancelled": cancelled_m + cancelled_w,
                        "experiment_assignments_added": assigned,
                    },
                    reason=f"nightly run for {as_of}",
                )
                final.parent.mkdir(parents=True, exist_ok=True)
                if final.exists():
                    # Left by a run killed after the move and before its commit: its row was never
                    # stored (this id is ours now), so the folder belongs to no run.
                    shutil.rmtree(final)
                work.rename(final)
                moved = True
        except BaseException:
            if moved:
                final.rename(work)
            raise
        timings["case_plane"] = time.perf_counter() - mark
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return RunReport(
        run_id=row.run_id,
        as_of=as_of,
        planned_date=planned_date_for(as_of),
        strategy=inputs.strategy_label,
        policy=inputs.pack.pack.label,
        engine=engine,
        plan_path=final / PLAN_FILE,
        plan_sha256=plan_sha,
        same_as_previous=same,
        rows_planned=planned,
        rows_suppressed=suppressed,
        summary=summary,
        work_items_added=added_items,
        messages_added=added_messages,
        already_present=present_m + present_w,
        cancelled=cancelled_m + cancelled_w,
        monitoring=monitored.as_json(),
        seconds=timings,
        models=models,
    )


def _sweep_leftovers(runs_dir: Path, *, older_than_s: float = 6 * 3600) -> None:
    """Remove scratch folders of runs killed before they finished (never those of a run that
    may still be going: only folders untouched for hours)."""
    cutoff = time.time() - older_than_s
    for scratch in runs_dir.glob(".run-*.tmp"):
        if scratch.stat().st_mtime < cutoff:
            shutil.rmtree(scratch, ignore_errors=True)


def plan_digest(plan: Path) -> str:
    """SHA-256 of the plan's rows in order, independent of how the file was encoded: the same
    plan written by DuckDB or by Spark has the same digest."""
    con = duckdb.connect()
    try:
        found = con.execute(
            "SELECT sha256(coalesce(string_agg(md5(CAST(p AS VARCHAR)), ''"
            " ORDER BY p.account_id, p.channel, p.contact_date), ''))"
            f" FROM read_parquet({lit(str(plan))}) AS p"
        ).fetchone()
    finally:
        con.close()
    assert found is not None
    return str(found[0])


def summarise(plan: Path) -> tuple[dict[str, Any], int, int]:
    """Counts by segment × stage × channel (planned) and suppressions by rule."""
    con = duckdb.connect()
    try:
        source = f"read_parquet({lit(str(plan))})"
        cells = con.execute(
            f"SELECT segment, stage, channel, count(*) FROM {source}"
            " WHERE status = 'planned' GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        rules = con.execute(
            f"SELECT suppressed_by, count(*) FROM {source} WHERE status = 'suppressed'"
            " GROUP BY ALL ORDER BY 2 DESC, 1"
        ).fetchall()
        moved = con.execute(
            f"SELECT count(*) FILTER (WHERE contact_date > planned_date AND status = 'planned'),"
            f" count(*) FILTER (WHERE rules LIKE '%hours.narrowed%' AND status = 'planned'),"
            f" count(DISTINCT account_id) FILTER (WHERE status = 'planned'),"
            f" count(DISTINCT account_id) FROM {source}"
        ).fetchone()
    finally:
        con.close()
    assert moved is not None
    planned = sum(int(c[3]) for c in cells)
    suppressed = sum(int(r[1]) for r in rules)
    summary = {
        "planned_by_cell": [
            {"segment": s, "stage": g, "channel": c, "actions": int(n)} for s, g, c, n in cells
        ],
        "suppressed_by_rule": [{"rule": r, "actions": int(n)} for r, n in rules],
        "moved_by_holiday": int(moved[0]),
        "window_narrowed": int(moved[1]),
        "accounts_contacted": int(moved[2]),
        "accounts_in_plan": int(moved[3]),
    }
    return summary, planned, suppressed


_COMMON = (
    "idempotency_key, as_of, contact_date, account_id, customer_id, channel, template, tone,"
    " experiment, arm, window_start, window_end"
)


def actionable(plan: Path) -> tuple[pa.Table, pa.Table]:
    """The planned rows for the outbox (SMS, e-mail) and for work queues (the rest)."""
    con = duckdb.connect()
    try:
        source = f"(SELECT *, planned_date - 1 AS as_of FROM read_parquet({lit(str(plan))}))"
        messages = con.sql(
            f"SELECT {_COMMON} FROM {source} WHERE status = 'planned'"
            f" AND channel IN ({', '.join(lit(c) for c in OUTBOX_CHANNELS)})"
            " ORDER BY idempotency_key"
        ).to_arrow_table()
        items = con.sql(
            f"SELECT {_COMMON}, queue, segment, stage, priority FROM {source}"
            f" WHERE status = 'planned' AND channel IN ({', '.join(lit(c) for c in WORK_CHANNELS)})"
            " ORDER BY idempotency_key"
        ).to_arrow_table()
    finally:
        con.close()
    return messages, items


def experiment_cells(plan: Path) -> pa.Table:
    """Each account's experiment arm in this plan (one row per experiment and account)."""
    con = duckdb.connect()
    try:
        return con.sql(
            "SELECT DISTINCT experiment, account_id, arm, segment, stage"
            f" FROM read_parquet({lit(str(plan))}) WHERE experiment IS NOT NULL"
            " ORDER BY experiment, account_id"
        ).to_arrow_table()
    finally:
        con.close()


def _store_assignments(
    session: Session, cells: pa.Table, *, run: PlanRunRow, strategy_version_id: int
) -> int:
    """Insert the assignments not stored before for this strategy version; returns how many."""
    if cells.num_rows == 0:
        return 0
    stored = session.execute(
        select(ExperimentAssignmentRow.experiment, ExperimentAssignmentRow.account_id).where(
            ExperimentAssignmentRow.strategy_version_id == strategy_version_id
        )
    ).all()
    fresh = cells
    if stored:
        known = pa.array([f"{e}\x1f{a}" for e, a in stored], pa.string())
        keys = pc.binary_join_element_wise(
            cells.column("experiment"), cells.column("account_id"), "\x1f"
        )
        fresh = cells.filter(pc.invert(pc.is_in(keys, value_set=known)))
    n = fresh.num_rows
    fresh = (
        fresh.append_column("strategy_version_id", pa.array([strategy_version_id] * n, pa.int64()))
        .append_column("first_run_id", pa.array([run.run_id] * n, pa.int64()))
        .append_column("first_as_of", pa.array([run.as_of] * n, pa.date32()))
    )
    return bulk_load(
        session.connection(), ExperimentAssignmentRow.__tablename__, fresh.to_batches(50_000)
    )


@dataclass
class _Sync:
    """Brings one table (outbox or work items) in line with the run's planned rows."""

    session: Session
    run_id: int
    as_of: date
    now: datetime

    def apply(
        self,
        model: type[OutboxRow] | type[WorkItemRow],
        rows: pa.Table,
        waiting: str,
    ) -> tuple[int, int, int]:
        """(added, already present, cancelled)."""
        key_column = model.idempotency_key
        dates = sorted(set(rows.column("contact_date").to_pylist()) | {self.as_of})
        existing: dict[str, str] = {
            key: status
            for key, status in self.session.execute(
                select(key_column, model.status).where(
                    model.contact_date.in_(dates) | (model.as_of == self.as_of)
                )
            ).all()
        }
        wanted = set(rows.column("idempotency_key").to_pylist())
        stale = [k for k, status in existing.items() if status == waiting and k not in wanted]
        for chunk in _chunks(stale):
            self.session.execute(
                update(model)
                .where(key_column.in_(chunk))
                .values(
                    status="cancelled",
                    status_reason=f"no longer planned by run {self.run_id}",
                    **self._touched(model),
                )
            )
        keep = [k for k in wanted if existing.get(k) == waiting]
        for chunk in _chunks(keep):
            self.session.execute(
                update(model).where(key_column.in_(chunk)).values(run_id=self.run_id)
            )
        if existing:
            new_mask = pc.invert(
                pc.is_in(rows.column("idempotency_key"), value_set=pa.array(list(existing)))
            )
            fresh = rows.filter(new_mask)
        else:
            fresh = rows
        fresh = self._complete(model, fresh)
        self.session.flush()
        added = bulk_load(self.session.connection(), model.__tablename__, fresh.to_batches(50_000))
        return added, len(wanted) - fresh.num_rows, len(stale)

    def _touched(self, model: type[OutboxRow] | type[WorkItemRow]) -> dict[str, Any]:
        return {"updated_at": self.now} if model is WorkItemRow else {}

    def _complete(self, model: type[OutboxRow] | type[WorkItemRow], rows: pa.Table) -> pa.Table:
        n = rows.num_rows
        stamp = pa.array([self.now] * n, pa.timestamp("us", tz="UTC"))
        rows = rows.append_column("run_id", pa.array([self.run_id] * n, pa.int64()))
        if model is OutboxRow:
            rows = rows.append_column("status", pa.array(["pending"] * n, pa.string()))
            rows = rows.append_column("attempts", pa.array([0] * n, pa.int64()))
            rows = rows.append_column("created_at", stamp)
        else:
            rows = rows.append_column("status", pa.array(["open"] * n, pa.string()))
            rows = rows.append_column("created_at", stamp)
            rows = rows.append_column("updated_at", stamp)
        return rows


def _chunks(keys: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(keys), _KEY_CHUNK):
        yield keys[start : start + _KEY_CHUNK]


def current_run(session: Session, as_of: date) -> PlanRunRow | None:
    return session.scalars(
        select(PlanRunRow).where(PlanRunRow.as_of == as_of, PlanRunRow.is_current)
    ).first()


def strategy_of(session: Session, run: PlanRunRow) -> Strategy:
    row = session.get(StrategyVersionRow, run.strategy_version_id)
    assert row is not None
    parsed = parse_strategy(row.yaml_text, source=run.strategy_label)
    assert parsed.strategy is not None
    return parsed.strategy
