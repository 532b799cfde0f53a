"""The strategy compiler: one strategy as one DuckDB SELECT giving every delinquent account its plan.

Set-based, no Python per account. The SELECT reads a relation of snapshot accounts (the columns of
strategy/columns.py plus `account_id`) and yields, for every account that is not charged off (by
the policy flag `charged_off` or the bank's `status`) and has at least the first stage's
`min_dpd` days past due, exactly one row:

    account_id, segment, segment_rule_index, stage, channels (VARCHAR[]), template, tone,
    cadence_days, queue, experiment, arm, priority (DOUBLE), reason

- `segment` is the first segment whose condition holds, in the order listed (a CASE WHEN over the
  normalised conditions from expressions.compile_condition; a NULL condition counts as false),
  and `segment_rule_index` its 0-based position in `segments`, as the loader's paths count.
- `stage` comes from the DPD ranges of the ladder.
- The treatment fields are those of the segment × stage cell. Where an experiment runs in the
  cell, `experiment` names it and `arm` is the challenger arm from the stable hash
  (assignment.assignment_sql, the same rule as assignment.assign_arm) or 'champion'; a challenger
  arm's override replaces the fields it sets. Outside experiments both are NULL.
- `priority` is the compiled priority expression cast to DOUBLE.
- An account matching no segment (possible only when the last segment is not a catch-all) is
  kept, with `segment` and the treatment fields NULL and `reason` saying why; otherwise `reason`
  is NULL. Dropping such accounts silently would hide a gap in the strategy.

Model score columns are NULL until a model version exists, and a snapshot may lack them: pass
`available_columns` and each missing `score_*` column is added as a NULL DOUBLE; `plan` does this
from DESCRIBE. Other missing columns are left to fail in DuckDB, naming the column.
"""

from __future__ import annotations

from collections.abc import Collection

import duckdb

from huancui.kit.sql import lit
from huancui.strategy.assignment import assignment_sql
from huancui.strategy.columns import SCORE_COLUMNS
from huancui.strategy.expressions import with_null_columns
from huancui.strategy.spec import (
    EW_EXPERIMENT,
    EW_HOLDOUT,
    EW_SEGMENT,
    EW_STAGE,
    Challenger,
    Stage,
    Strategy,
    Treatment,
)

NO_SEGMENT_REASON = "no segment matched; the last segment is not a catch-all (condition: TRUE)"
HOLDOUT_REASON = (
    "early-warning holdout: no contact, the randomised control that measures the effect"
)
CHAMPION = "champion"

PLAN_COLUMNS: tuple[str, ...] = (
    "account_id",
    "segment",
    "segment_rule_index",
    "stage",
    "channels",
    "template",
    "tone",
    "cadence_days",
    "queue",
    "experiment",
    "arm",
    "priority",
    "reason",
)
_TREATMENT_FIELDS = ("channels", "template", "tone", "cadence_days", "queue")


def _classified_ctes(
    strategy: Strategy, accounts_relation: str, available: Collection[str] | None
) -> str:
    """accounts → eligible → classified → assigned: one row per eligible account."""
    return f"""
accounts AS (
    SELECT *{missing_scores_sql(available)} FROM {accounts_relation}
),
eligible AS (
    SELECT * FROM accounts
    WHERE (days_past_due >= {strategy.stages[0].min_dpd}{_early_warning_filter(strategy, available)})
      AND NOT coalesce(charged_off, FALSE)
      AND (status IS NULL OR status <> 'charged_off')
),
classified AS (
    SELECT
        account_id,
        customer_id,
        {_early_warning_or(strategy, lit(EW_SEGMENT), _segment_case(strategy, index=False))}
            AS segment,
        {_early_warning_or(strategy, "CAST(NULL AS INTEGER)", _segment_case(strategy, index=True))}
            AS segment_rule_index,
        {_early_warning_or(strategy, lit(EW_STAGE), _stage_case(strategy.stages))} AS stage,
        CAST(({strategy.priority_sql}) AS DOUBLE) AS priority
    FROM eligible
),
assigned AS (
    SELECT *,
        {_experiment_case(strategy)} AS experiment,
        {_arm_case(strategy)} AS arm
    FROM classified
)""".strip()


def _early_warning_filter(strategy: Strategy, available: Collection[str] | None) -> str:
    """Current, open accounts the early-warning condition picks (a NULL condition: not picked).

    Score columns no file fills are NULL in the condition itself, not only in `accounts`: the
    engine then folds a condition on a missing score to false and reads only the accounts in
    arrears from the snapshot, instead of every current account (a million rows on a large book)
    to test a condition that cannot hold. The plan is the same."""
    if strategy.early_warning is None:
        return ""
    condition = with_null_columns(strategy.early_warning.condition_sql, _absent_scores(available))
    return (
        " OR (days_past_due = 0 AND coalesce(status, 'open') = 'open'"
        f" AND coalesce(({condition}), FALSE))"
    )


def _early_warning_or(strategy: Strategy, early: str, otherwise: str) -> str:
    """`early` for the early-warning accounts (the only current ones eligible), else `otherwise`."""
    if strategy.early_warning is None:
        return otherwise
    return f"CASE WHEN days_past_due = 0 THEN {early} ELSE {otherwise} END"


def treatments_of(strategy: Strategy) -> tuple[Treatment, ...]:
    """Every cell's treatment, the early-warning section's included."""
    if strategy.early_warning is None:
        return strategy.treatments
    return (*strategy.treatments, strategy.early_warning.as_treatment())


def compile_plan_sql(
    strategy: Strategy,
    *,
    accounts_relation: str,
    available_columns: Collection[str] | None = None,
) -> str:
    """One DuckDB SELECT giving the plan row of every eligible account (see the module doc).

    `accounts_relation` is SQL for a relation, e.g. a table name or
    `read_parquet('…/accounts.parquet')`; `available_columns`, if given, are its columns, and the
    score columns it lacks are added as NULL. None means every score column is present.
    """
    return f"""
WITH {_classified_ctes(strategy, accounts_relation, available_columns)},
treatments (segment, stage, channels, template, tone, cadence_days, queue) AS (
    VALUES {", ".join(_treatment_row(t) for t in treatments_of(strategy))}
),
overrides (experiment, arm, channels, template, tone, cadence_days, queue) AS (
    {_override_rows(strategy.challengers)}
)
SELECT
    a.account_id,
    a.segment,
    a.segment_rule_index,
    a.stage,
    {", ".join(f"coalesce(o.{f}, t.{f}) AS {f}" for f in _TREATMENT_FIELDS)},
    a.experiment,
    a.arm,
    a.priority,
    {_reason_case("a")} AS reason
FROM assigned AS a
LEFT JOIN treatments AS t ON t.segment = a.segment AND t.stage = a.stage
LEFT JOIN overrides AS o ON o.experiment = a.experiment AND o.arm = a.arm
""".strip()


ACTION_COLUMNS: tuple[str, ...] = (
    "account_id",
    "customer_id",
    "segment",
    "segment_rule_index",
    "stage",
    "experiment",
    "arm",
    "priority",
    "reason",
    "channel_no",
    "channel",
    "template",
    "tone",
    "cadence_days",
    "queue",
)


def compile_actions_ctes(
    strategy: Strategy,
    *,
    accounts_relation: str,
    available_columns: Collection[str] | None = None,
) -> str:
    """CTEs ending in `strategy_actions`: one row per eligible account and treatment channel.

    Columns: ACTION_COLUMNS. The effective treatment of every (segment, stage, arm) is resolved
    here in Python into a small long table (`cells`), so the per-account work is a plain
    equi-join with no arrays: the same SQL runs on DuckDB and, transpiled, on Spark. An account
    matching no segment keeps one row with `channel` NULL and `reason` set.
    """
    return f"""
{_classified_ctes(strategy, accounts_relation, available_columns)},
cells (segment, stage, arm_key, channel_no, channel, template, tone, cadence_days, queue) AS (
    VALUES {", ".join(_cell_rows(strategy))}
),
strategy_actions AS (
    SELECT
        a.account_id, a.customer_id, a.segment, a.segment_rule_index, a.stage,
        a.experiment, a.arm, a.priority,
        {_reason_case("a")} AS reason,
        c.channel_no, c.channel, c.template, c.tone, c.cadence_days, c.queue
    FROM assigned AS a
    LEFT JOIN cells AS c
      ON c.segment = a.segment AND c.stage = a.stage AND c.arm_key = coalesce(a.arm, '')
)""".strip()


def _reason_case(alias: str) -> str:
    """Why an eligible account gets no contact: no segment matched, or the holdout drew it."""
    return (
        f"CASE WHEN {alias}.segment IS NULL THEN {lit(NO_SEGMENT_REASON)}"
        f" WHEN {alias}.segment = {lit(EW_SEGMENT)} AND {alias}.arm = {lit(EW_HOLDOUT)}"
        f" THEN {lit(HOLDOUT_REASON)} END"
    )


def _cell_rows(strategy: Strategy) -> list[str]:
    rows: list[str] = []
    for t in treatments_of(strategy):
        experiment, arms = strategy.arms(t.segment, t.stage)
        variants: list[tuple[str, Treatment]] = [(CHAMPION if experiment else "", t)]
        for arm in arms:
            if experiment == EW_EXPERIMENT:
                continue  # the holdout arm: no contact, so no cell rows
            override = next(
                c.treatment
                for c in strategy.challengers
                if c.experiment == experiment and c.arm == arm.name
            )
            changes = {k: v for k, v in override.model_dump().items() if v is not None}
            variants.append((arm.name, t.model_copy(update=changes)))
        for arm_key, treatment in variants:
            for number, channel in enumerate(treatment.channels, start=1):
                rows.append(
                    f"({lit(t.segment)}, {lit(t.stage)}, {lit(arm_key)}, {number},"
                    f" {lit(channel)}, {lit(treatment.template)}, {lit(treatment.tone)},"
                    f" {treatment.cadence_days}, {lit(treatment.queue)})"
                )
    return rows


def plan(
    con: duckdb.DuckDBPyConnection, strategy: Strategy, *, accounts_relation: str
) -> duckdb.DuckDBPyRelation:
    """The plan as a DuckDB relation, adding the score columns `accounts_relation` lacks."""
    described = con.execute(f"DESCRIBE SELECT * FROM {accounts_relation}").fetchall()
    available = {str(row[0]).lower() for row in described}
    sql = compile_plan_sql(
        strategy, accounts_relation=accounts_relation, available_columns=available
    )
    return con.sql(sql)


def missing_scores_sql(available: Collection[str] | None) -> str:
    return "".join(f", CAST(NULL AS DOUBLE) AS {name}" for name in _absent_scores(available))


def _absent_scores(available: Collection[str] | None) -> list[str]:
    """The score columns `available` lacks (None: every score column is present)."""
    if available is None:
        return []
    present = {name.lower() for name in available}
    return [c.name for c in SCORE_COLUMNS if c.name not in present]


def _segment_case(strategy: Strategy, *, index: bool) -> str:
    whens = " ".join(
        f"WHEN ({s.condition_sql}) THEN {i if index else lit(s.id)}"
        for i, s in enumerate(strategy.segments)
    )
    return f"CASE {whens} ELSE NULL END"


def _stage_case(stages: tuple[Stage, ...]) -> str:
    whens = " ".join(
        f"WHEN days_past_due >= {s.min_dpd}"
        + (f" AND days_past_due <= {s.max_dpd}" if s.max_dpd is not None else "")
        + f" THEN {lit(s.id)}"
        for s in stages
    )
    return f"CASE {whens} END"


def _cells(strategy: Strategy) -> list[tuple[str, str]]:
    cells = [(g.id, s.id) for g in strategy.segments for s in strategy.stages]
    return cells + ([(EW_SEGMENT, EW_STAGE)] if strategy.early_warning is not None else [])


def _in_cell(segment: str, stage: str) -> str:
    return f"segment = {lit(segment)} AND stage = {lit(stage)}"


def _experiment_case(strategy: Strategy) -> str:
    whens = []
    for segment, stage in _cells(strategy):
        experiment, _ = strategy.arms(segment, stage)
        if experiment is not None:
            whens.append(f"WHEN {_in_cell(segment, stage)} THEN {lit(experiment)}")
    return f"CASE {' '.join(whens)} END" if whens else "CAST(NULL AS VARCHAR)"


def _arm_case(strategy: Strategy) -> str:
    whens = []
    for segment, stage in _cells(strategy):
        experiment, arms = strategy.arms(segment, stage)
        if experiment is not None:
            arm = assignment_sql(experiment=experiment, arms=arms)
            whens.append(f"WHEN {_in_cell(segment, stage)} THEN coalesce({arm}, '{CHAMPION}')")
    return f"CASE {' '.join(whens)} END" if whens else "CAST(NULL AS VARCHAR)"


def _channels(channels: tuple[str, ...] | None) -> str:
    if channels is None:
        return "CAST(NULL AS VARCHAR[])"
    return "CAST([" + ", ".join(lit(c) for c in channels) + "] AS VARCHAR[])"


def _text_or_null(value: str | None) -> str:
    return "CAST(NULL AS VARCHAR)" if value is None else lit(value)


def _int_or_null(value: int | None) -> str:
    return "CAST(NULL AS INTEGER)" if value is None else f"CAST({value} AS INTEGER)"


def _treatment_row(t: Treatment) -> str:
    return (
        f"({lit(t.segment)}, {lit(t.stage)}, {_channels(t.channels)}, {lit(t.template)},"
        f" {lit(t.tone)}, {_int_or_null(t.cadence_days)}, {lit(t.queue)})"
    )


def _override_rows(challengers: tuple[Challenger, ...]) -> str:
    if not challengers:
        # An empty overrides table with the right types, so the join stays the same.
        return (
            "SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR[]),"
            " CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS INTEGER),"
            " CAST(NULL AS VARCHAR) WHERE FALSE"
        )
    rows = []
    for c in challengers:
        o = c.treatment
        rows.append(
            f"({lit(c.experiment)}, {lit(c.arm)}, {_channels(o.channels)},"
            f" {_text_or_null(o.template)}, {_text_or_null(o.tone)},"
            f" {_int_or_null(o.cadence_days)}, {_text_or_null(o.queue)})"
        )
    return "VALUES " + ", ".join(rows)
