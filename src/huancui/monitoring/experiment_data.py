"""Experiment outcomes per account: who was assigned to which arm (case plane), the arrears at
assignment and what followed until the look (Parquet snapshots), as `ArmOutcomes` per arm.

An account counts in the arm of its first assignment (intention to treat), whatever a later
strategy version did with it. Its window runs from the day after that assignment to the look: the
first snapshot on or after the fixed horizon, or the report date while the horizon is ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.kit.errors import NotFound
from huancui.kit.settings import Settings
from huancui.kit.sql import lit
from huancui.monitoring.data import BANK_TIMEZONE, load_channel_costs
from huancui.monitoring.experiments import ArmOutcomes, Timing
from huancui.portfolio.snapshot_store import snapshot_dir
from huancui.portfolio.tables import SnapshotRow
from huancui.strategy.tables import ExperimentAssignmentRow

CSAT_KINDS = ("survey", "portal_rating")


@dataclass(frozen=True)
class ExperimentData:
    experiment: str
    arms: dict[str, ArmOutcomes]
    timing: Timing
    look_date: date  # the snapshot the outcomes are read from
    assigned: dict[str, int]  # accounts first assigned before the look, per arm
    assigned_after_look: int  # first assigned on or after the look: outside this experiment's look
    intake_per_day: dict[str, float]  # first assignments a day so far, per arm
    not_in_look_snapshot: int  # assigned accounts the look's snapshot no longer has (not cured)
    feedback_file: bool
    costs_source: str
    unit_costs_fen: dict[str, int]


def experiment_names(session: Session) -> list[str]:
    rows = session.scalars(select(ExperimentAssignmentRow.experiment).distinct())
    return sorted(rows)


def _assignments(session: Session, experiment: str) -> pa.Table:
    rows = session.execute(
        select(
            ExperimentAssignmentRow.account_id,
            ExperimentAssignmentRow.arm,
            ExperimentAssignmentRow.first_as_of,
            ExperimentAssignmentRow.strategy_version_id,
        ).where(ExperimentAssignmentRow.experiment == experiment)
    ).all()
    if not rows:
        known = ", ".join(experiment_names(session)) or "none yet"
        raise NotFound(
            f"experiment {experiment!r} has no assigned accounts (experiments with assignments:"
            f" {known}); accounts are assigned by `huancui run` while a strategy's challenger"
            " runs"
        )
    account_ids, arms, days, versions = zip(*rows, strict=True)
    return pa.table(
        {
            "account_id": pa.array(account_ids, pa.string()),
            "arm": pa.array(arms, pa.string()),
            "first_as_of": pa.array(days, pa.date32()),
            "strategy_version_id": pa.array(versions, pa.int64()),
        }
    )


def _look_date(timing: Timing, snapshots: list[date]) -> date:
    """The first snapshot on or after the horizon; before it, the newest up to the report date."""
    if timing.horizon_reached:
        after = [d for d in snapshots if timing.horizon_date <= d <= timing.as_of]
        if after:
            return after[0]
        raise NotFound(
            f"no snapshot imported between the horizon {timing.horizon_date} and {timing.as_of};"
            f" import the delivery of {timing.horizon_date} (or a later day) with `huancui import`"
        )
    before = [d for d in snapshots if d <= timing.as_of]
    if before:
        return before[-1]
    raise NotFound(f"no snapshot imported on or before {timing.as_of}; import one first")


def _day(day: date) -> str:
    return f"DATE {lit(day.isoformat())}"


def _file(folder: Path, name: str) -> str:
    return f"read_parquet({lit(str(folder / f'{name}.parquet'))})"


def load_experiment(
    session: Session,
    settings: Settings,
    *,
    experiment: str,
    horizon_days: int,
    as_of: date | None = None,
) -> ExperimentData:
    """Every assigned account's outcomes, by arm. `as_of` defaults to the newest snapshot."""
    assignments = _assignments(session, experiment)
    snapshots = sorted(session.scalars(select(SnapshotRow.as_of)))
    if not snapshots:
        raise NotFound("no snapshot imported yet; import a delivery with `huancui import`")
    started = min(assignments.column("first_as_of").to_pylist())
    timing = Timing(started_on=started, horizon_days=horizon_days, as_of=as_of or snapshots[-1])
    look = _look_date(timing, snapshots)
    costs, costs_source = load_channel_costs(settings.channel_costs)
    con = duckdb.connect()
    try:
        con.register("assignment_rows", assignments)
        # Intention to treat: the arm of the account's first assignment.
        con.execute(
            "CREATE TABLE first_assigned AS SELECT account_id, arm, first_as_of FROM ("
            " SELECT *, row_number() OVER (PARTITION BY account_id"
            "  ORDER BY first_as_of, strategy_version_id) AS k FROM assignment_rows)"
            " WHERE k = 1"
        )
        con.execute(
            "CREATE TABLE assigned AS SELECT * FROM first_assigned"
            f" WHERE first_as_of < {_day(look)}"
        )
        later = con.execute(
            f"SELECT count(*) FROM first_assigned WHERE first_as_of >= {_day(look)}"
        ).fetchone()
        days = [r[0] for r in con.execute("SELECT DISTINCT first_as_of FROM assigned").fetchall()]
        _register_inputs(con, settings, days=days, look=look, costs=costs.fen())
        result = con.execute(_OUTCOMES_SQL).fetchnumpy()
        assigned = dict(
            con.execute("SELECT arm, count(*) FROM assigned GROUP BY arm ORDER BY arm").fetchall()
        )
        feedback_file = (snapshot_dir(settings.snapshots_dir, look) / "feedback.parquet").exists()
    finally:
        con.close()
    elapsed = max((look - started).days, 1)
    return ExperimentData(
        experiment=experiment,
        arms=_split_by_arm(result),
        timing=timing,
        look_date=look,
        assigned=assigned,
        assigned_after_look=int(later[0]) if later else 0,
        intake_per_day={arm: n / elapsed for arm, n in assigned.items()},
        not_in_look_snapshot=int(result["missing"].sum()),
        feedback_file=feedback_file,
        costs_source=costs_source,
        unit_costs_fen=costs.fen(),
    )


def _register_inputs(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    days: list[date],
    look: date,
    costs: dict[str, int],
) -> None:
    """Views over the snapshots: arrears at each assignment day, and the look's outcomes."""
    starts = []
    for day in days:
        folder = snapshot_dir(settings.snapshots_dir, day)
        if not (folder / "accounts.parquet").exists():
            raise NotFound(
                f"the snapshot of {day}, when accounts were assigned, is missing from {folder};"
                f" re-import that day's delivery with `huancui import DIR --as-of {day}`"
            )
        starts.append(
            f"SELECT {_day(day)} AS first_as_of, account_id, arrears_fen FROM {_file(folder, 'accounts')}"
        )
    empty_start = "SELECT NULL::DATE AS first_as_of, NULL::VARCHAR AS account_id, 0 AS arrears_fen"
    con.execute(f"CREATE VIEW start_state AS {' UNION ALL '.join(starts) or empty_start}")
    folder = snapshot_dir(settings.snapshots_dir, look)
    con.execute(
        "CREATE VIEW look_state AS SELECT account_id, days_past_due"
        f" FROM {_file(folder, 'accounts')}"
    )
    con.execute(
        "CREATE VIEW look_payments AS SELECT account_id, paid_date, amount"
        f" FROM {_file(folder, 'payments')} WHERE paid_date <= {_day(look)}"
    )
    if (folder / "contacts.parquet").exists():
        con.execute(
            "CREATE VIEW look_contacts AS SELECT account_id, channel,"
            f" CAST(timezone({lit(BANK_TIMEZONE)}, contacted_at) AS DATE) AS contact_date"
            f" FROM {_file(folder, 'contacts')}"
        )
    else:
        con.execute(
            "CREATE TABLE look_contacts (account_id VARCHAR, channel VARCHAR, contact_date DATE)"
        )
    if (folder / "feedback.parquet").exists():
        con.execute(
            "CREATE VIEW look_feedback AS SELECT account_id, received_date, kind, score"
            f" FROM {_file(folder, 'feedback')}"
        )
    else:
        con.execute(
            "CREATE TABLE look_feedback"
            " (account_id VARCHAR, received_date DATE, kind VARCHAR, score INTEGER)"
        )
    con.execute("CREATE TABLE unit_costs (channel VARCHAR, cost_fen BIGINT)")
    con.executemany("INSERT INTO unit_costs VALUES (?, ?)", sorted(costs.items()))
    con.execute(f"CREATE TABLE look AS SELECT {_day(look)} AS look_date")


# One row per assigned account; the window is (first_as_of, look]. Sums default to zero and
# CSAT to NaN (no rating), so the arrays carry no NULLs.
_OUTCOMES_SQL = f"""
WITH windowed AS (
    SELECT a.account_id, a.first_as_of, look.look_date FROM assigned a CROSS JOIN look
),
paid AS (
    SELECT w.account_id, sum(p.amount) AS collected_fen
    FROM windowed w JOIN look_payments p
      ON p.account_id = w.account_id AND p.paid_date > w.first_as_of AND p.paid_date <= w.look_date
    GROUP BY w.account_id
),
cost AS (
    SELECT w.account_id, sum(coalesce(u.cost_fen, 0)) AS cost_fen
    FROM windowed w JOIN look_contacts c
      ON c.account_id = w.account_id AND c.contact_date > w.first_as_of
     AND c.contact_date <= w.look_date
    LEFT JOIN unit_costs u ON u.channel = c.channel
    GROUP BY w.account_id
),
heard AS (
    SELECT w.account_id,
           bool_or(f.kind = 'complaint') AS complained,
           avg(f.score) FILTER (WHERE f.kind IN {tuple(CSAT_KINDS)} AND f.score IS NOT NULL)
               AS csat
    FROM windowed w JOIN look_feedback f
      ON f.account_id = w.account_id AND f.received_date > w.first_as_of
     AND f.received_date <= w.look_date
    GROUP BY w.account_id
)
SELECT a.arm,
       coalesce(s.arrears_fen, 0)::BIGINT AS arrears_at_start_fen,
       coalesce(paid.collected_fen, 0)::BIGINT AS collected_fen,
       coalesce(o.days_past_due = 0, false) AS cured,
       o.account_id IS NULL AS missing,
       coalesce(heard.complained, false) AS complained,
       coalesce(heard.csat, 'NaN'::DOUBLE) AS csat,
       coalesce(cost.cost_fen, 0)::BIGINT AS cost_fen
FROM assigned a
LEFT JOIN start_state s ON s.account_id = a.account_id AND s.first_as_of = a.first_as_of
LEFT JOIN look_state o ON o.account_id = a.account_id
LEFT JOIN paid ON paid.account_id = a.account_id
LEFT JOIN cost ON cost.account_id = a.account_id
LEFT JOIN heard ON heard.account_id = a.account_id
ORDER BY a.arm, a.account_id
"""


def _split_by_arm(result: dict[str, np.ndarray]) -> dict[str, ArmOutcomes]:
    arms = np.asarray(result["arm"], dtype=object)
    split: dict[str, ArmOutcomes] = {}
    for arm in sorted(set(arms.tolist())):
        rows = arms == arm
        split[str(arm)] = ArmOutcomes.of(
            collected_fen=result["collected_fen"][rows],
            arrears_at_start_fen=result["arrears_at_start_fen"][rows],
            cured=result["cured"][rows],
            complained=result["complained"][rows],
            csat=result["csat"][rows],
            cost_fen=result["cost_fen"][rows],
        )
    return split
