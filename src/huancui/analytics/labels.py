"""Outcome labels for the models: what happened to each account in the days after a date.

Each target has its own population on the date (past due, or current) and looks only at the
`horizon_days` that follow, which must lie within the snapshot.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from huancui.analytics.features import (
    check_as_of,
    connect_snapshot,
    create_population,
    delinquency_on,
    snapshot_policy,
    sql_date,
)
from huancui.kit.errors import InvalidInput

TARGETS = ("pay_30d", "roll", "early_warning", "pays_due")


def build_labels(snapshot: Path, as_of: date, target: str, horizon_days: int = 30) -> pa.Table:
    """account_id and label (int8, 1 = the outcome happened) for the target's population."""
    if target not in TARGETS:
        raise InvalidInput(f"target {target!r} is unknown; choose one of {', '.join(TARGETS)}")
    if horizon_days < 1:
        raise InvalidInput(f"horizon_days {horizon_days} must be at least 1 day")
    check_as_of(snapshot, as_of=as_of, horizon_days=horizon_days)
    policy = snapshot_policy(snapshot)
    end = as_of + timedelta(days=horizon_days)
    con = connect_snapshot(snapshot)
    try:
        delinquency_on(con, day=as_of, policy=policy, table="state_start")
        create_population(con, day=as_of, state="state_start")
        if target != "pay_30d":
            delinquency_on(con, day=end, policy=policy, table="state_end")
        query = {
            "pay_30d": _pay_query,
            "roll": _roll_query,
            "early_warning": _early_warning_query,
            "pays_due": _pays_due_query,
        }[target](start=sql_date(as_of), end=sql_date(end))
        return con.sql(query).to_arrow_table()
    finally:
        con.close()


def _pay_query(*, start: str, end: str) -> str:
    # The minimum due is the full amount of the oldest unpaid due (all dues on that date).
    return f"""
    WITH minimum AS (
        SELECT p.account_id, sum(d.principal_due + d.interest_due + d.fee_due) AS minimum_due
        FROM population p JOIN dues_file d
          ON d.account_id = p.account_id AND d.due_date = p.oldest_unpaid_due_date
        WHERE p.days_past_due > 0 GROUP BY p.account_id
    ), paid AS (
        SELECT account_id, sum(amount) AS paid
        FROM payments_file WHERE paid_date > {start} AND paid_date <= {end}
        GROUP BY account_id
    )
    SELECT m.account_id,
           CAST(CASE WHEN coalesce(paid.paid, 0) >= m.minimum_due THEN 1 ELSE 0 END AS TINYINT)
               AS label
    FROM minimum m LEFT JOIN paid USING (account_id)
    ORDER BY m.account_id
    """


def _roll_query(*, start: str, end: str) -> str:
    return """
    SELECT p.account_id,
           CAST(CASE WHEN e.charged_off OR e.bucket_rank > p.bucket_rank THEN 1 ELSE 0 END
                AS TINYINT) AS label
    FROM population p JOIN state_end e USING (account_id)
    WHERE p.days_past_due > 0
    ORDER BY p.account_id
    """


def _early_warning_query(*, start: str, end: str) -> str:
    # Current on the start date, so any delinquent day in the window begins a spell inside it.
    return f"""
    SELECT p.account_id,
           CAST(EXISTS (SELECT 1 FROM state_end_spells s
                        WHERE s.account_id = p.account_id AND s.bucket_rank > 0
                          AND s.started_on > {start} AND s.started_on <= {end}) AS TINYINT)
               AS label
    FROM population p
    WHERE p.days_past_due = 0
    ORDER BY p.account_id
    """


def _pays_due_query(*, start: str, end: str) -> str:
    """Every account on the date: 1 when it meets what it owes over the window — a past-due
    account pays at least its minimum due (pay_30d), a current one stays current (not
    early_warning). The label the ability and willingness scores are trained on."""
    behind = _pay_query(start=start, end=end).replace("ORDER BY m.account_id", "")
    current = _early_warning_query(start=start, end=end).replace("ORDER BY p.account_id", "")
    return f"""
    SELECT account_id, label FROM ({behind})
    UNION ALL
    SELECT account_id, CAST(1 - label AS TINYINT) AS label FROM ({current})
    ORDER BY account_id
    """
