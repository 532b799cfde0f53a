"""Per-account model features on a date, computed point in time from an imported snapshot.

Only rows dated on or before the feature date are read, so features for past month ends come from
today's snapshot exactly as they would have looked then. All of it is set-based SQL in DuckDB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from huancui.kit.errors import InvalidInput
from huancui.kit.sql import lit
from huancui.portfolio.delinquency import compute_delinquency
from huancui.portfolio.policy import DelinquencyPolicy, load_policy

# The bank's local calendar decides which day a contact belongs to (Asia/Shanghai, UTC+8, no DST).
_LOCAL_OFFSET_SECONDS = 8 * 3600
_DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class Feature:
    """One model input: its column name and how to explain it to a collector, in both languages."""

    name: str
    label_en: str
    label_zh: str
    higher_means_en: str  # read as "a higher value means …", for reason codes
    higher_means_zh: str


FEATURES: tuple[Feature, ...] = (
    Feature(
        "paid_to_due_30d",
        "Paid vs due, last 30 days",
        "近30天还款/应还比",
        "more of what fell due was paid",
        "应还款项还得越多",
    ),
    Feature(
        "paid_to_due_90d",
        "Paid vs due, last 90 days",
        "近90天还款/应还比",
        "more of what fell due was paid",
        "应还款项还得越多",
    ),
    Feature(
        "paid_to_due_180d",
        "Paid vs due, last 180 days",
        "近180天还款/应还比",
        "more of what fell due was paid",
        "应还款项还得越多",
    ),
    Feature(
        "on_time_share_6m",
        "Dues paid on time, last 6 months",
        "近6个月按时还款占比",
        "more dues paid within grace",
        "按时还款的期数越多",
    ),
    Feature(
        "on_time_share_12m",
        "Dues paid on time, last 12 months",
        "近12个月按时还款占比",
        "more dues paid within grace",
        "按时还款的期数越多",
    ),
    Feature(
        "months_since_missed_due",
        "Months since the last missed due",
        "距上次逾期的月数",
        "longer since a due was last missed",
        "距上次未按时还款越久",
    ),
    Feature(
        "utilisation",
        "Card balance / credit limit",
        "信用卡额度使用率",
        "more of the card limit in use",
        "额度用得越满",
    ),
    Feature(
        "days_past_due",
        "Days past due today",
        "当前逾期天数",
        "more days past due",
        "逾期天数越多",
    ),
    Feature(
        "days_past_due_30d_ago",
        "Days past due 30 days ago",
        "30天前逾期天数",
        "more days past due a month ago",
        "一个月前逾期天数越多",
    ),
    Feature(
        "days_past_due_60d_ago",
        "Days past due 60 days ago",
        "60天前逾期天数",
        "more days past due two months ago",
        "两个月前逾期天数越多",
    ),
    Feature(
        "arrears_yuan",
        "Arrears (yuan)",
        "逾期金额（元）",
        "more money overdue",
        "逾期金额越大",
    ),
    Feature(
        "worst_bucket_12m",
        "Worst bucket, last 12 months (0 = M0)",
        "近12个月最差账龄（0为M0）",
        "a deeper delinquency in the last year",
        "近一年逾期程度越深",
    ),
    Feature(
        "cycles_delinquent_12m",
        "Times fallen delinquent, last 12 months",
        "近12个月逾期次数",
        "more separate delinquencies in the last year",
        "近一年逾期次数越多",
    ),
    Feature(
        "promises_180d",
        "Promises to pay, last 180 days",
        "近180天承诺还款次数",
        "more promises to pay made",
        "承诺还款次数越多",
    ),
    Feature(
        "promise_kept_share_180d",
        "Promises followed by a payment within 7 days",
        "承诺后7天内还款的比例",
        "more promises kept",
        "兑现的承诺越多",
    ),
    Feature(
        "call_attempts_90d",
        "Call attempts, last 90 days",
        "近90天外呼次数",
        "more calls made",
        "外呼次数越多",
    ),
    Feature(
        "right_party_share_90d",
        "Calls reaching the customer, last 90 days",
        "近90天外呼本人接通率",
        "more calls reached the customer",
        "本人接通越多",
    ),
    Feature(
        "hardship_holds_ever",
        "Hardship holds, ever",
        "历史困难缓催次数",
        "more hardship holds",
        "困难缓催越多",
    ),
    Feature(
        "hardship_holds_12m",
        "Hardship holds, last 12 months",
        "近12个月困难缓催次数",
        "more recent hardship holds",
        "近期困难缓催越多",
    ),
    Feature(
        "on_hardship_hold",
        "On a hardship hold today (1 = yes)",
        "当前处于困难缓催（1为是）",
        "on a hardship hold",
        "正处于困难缓催",
    ),
    Feature(
        "credit_grade",
        "Credit grade (1 = A best … 5 = E worst)",
        "信用等级（1为A最好，5为E最差）",
        "a worse credit grade",
        "信用等级越差",
    ),
    Feature(
        "monthly_income_yuan",
        "Monthly income (yuan)",
        "月收入（元）",
        "a higher income",
        "收入越高",
    ),
    Feature(
        "customer_open_accounts",
        "Customer's open accounts",
        "客户名下在用账户数",
        "more accounts with the bank",
        "名下账户越多",
    ),
    Feature(
        "is_credit_card",
        "Credit card (1) or instalment loan (0)",
        "信用卡（1）或分期贷款（0）",
        "a credit card rather than a loan",
        "是信用卡而非贷款",
    ),
    Feature(
        "months_on_book",
        "Months since the account was opened",
        "开户月数",
        "an older account",
        "账户开立越久",
    ),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)

_EMPTY = {
    "contacts": "SELECT NULL::VARCHAR AS account_id, NULL::TIMESTAMPTZ AS contacted_at, "
    "NULL::VARCHAR AS channel, NULL::BOOLEAN AS right_party, NULL::VARCHAR AS outcome "
    "WHERE false",
    "holds": "SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS hold_type, "
    "NULL::DATE AS start_date, NULL::DATE AS end_date WHERE false",
}


def snapshot_as_of(snapshot: Path) -> date:
    """The snapshot's own as-of date, from its manifest."""
    return date.fromisoformat(str(_manifest(snapshot)["as_of"]))


def snapshot_policy(snapshot: Path) -> DelinquencyPolicy:
    """The delinquency policy the snapshot was imported under (the default when not recorded)."""
    stored = _manifest(snapshot).get("policy")
    return load_policy(None) if stored is None else DelinquencyPolicy.model_validate(stored)


def _manifest(snapshot: Path) -> dict[str, object]:
    path = snapshot / "manifest.json"
    if not path.exists():
        raise InvalidInput(f"{snapshot}: no manifest.json; is this an imported snapshot folder?")
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


def sql_date(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def connect_snapshot(snapshot: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per snapshot file (all rows; callers cut by date).
    `contacts` gains `contact_day`, the Asia/Shanghai calendar day of the attempt."""
    con = duckdb.connect()
    for name in ("accounts", "customers", "dues", "payments", "contacts", "holds"):
        path = snapshot / f"{name}.parquet"
        if path.exists():
            source = f"SELECT * FROM read_parquet({lit(str(path))})"
        elif name in _EMPTY:
            source = _EMPTY[name]
        else:
            con.close()
            raise InvalidInput(f"{snapshot}: {name}.parquet is missing from the snapshot")
        con.execute(f"CREATE VIEW {name}_file AS {source}")
    con.execute(
        f"""
        CREATE VIEW contacts_dated AS
        SELECT *, CAST(DATE '1970-01-01' + CAST(floor((epoch(contacted_at)
                  + {_LOCAL_OFFSET_SECONDS}) / 86400) AS INTEGER) AS DATE) AS contact_day
        FROM contacts_file
        """
    )
    return con


def check_as_of(snapshot: Path, *, as_of: date, horizon_days: int = 0) -> None:
    """Refuse a date (plus horizon) that lies beyond what the snapshot has seen."""
    latest = snapshot_as_of(snapshot)
    if as_of + timedelta(days=horizon_days) > latest:
        extra = f" plus the {horizon_days}-day horizon" if horizon_days else ""
        raise InvalidInput(
            f"as_of {as_of.isoformat()}{extra} lies after the snapshot's as-of date "
            f"{latest.isoformat()}; choose an as_of on or before "
            f"{(latest - timedelta(days=horizon_days)).isoformat()}"
        )


def delinquency_on(
    con: duckdb.DuckDBPyConnection, *, day: date, policy: DelinquencyPolicy, table: str
) -> None:
    """Run the delinquency engine over the dues and payments up to `day`; its account state is
    kept as `table` (with `bucket_rank`, 0 = current) and its spells as `{table}_spells`."""
    d = sql_date(day)
    con.execute(
        """
        CREATE OR REPLACE VIEW valid_accounts AS
        SELECT account_id, customer_id, product, status, principal_fen AS outstanding_principal,
               interest_fen AS outstanding_interest, fees_fen AS outstanding_fees
        FROM accounts_file
        """
    )
    con.execute(
        "CREATE OR REPLACE VIEW valid_customers AS "
        "SELECT customer_id, credit_grade, province FROM customers_file"
    )
    con.execute(
        f"CREATE OR REPLACE VIEW valid_dues AS SELECT * FROM dues_file WHERE due_date <= {d}"
    )
    con.execute(
        f"CREATE OR REPLACE VIEW valid_payments AS "
        f"SELECT * FROM payments_file WHERE paid_date <= {d}"
    )
    compute_delinquency(con, as_of=day, policy=policy)
    rank = bucket_rank_case(policy, "bucket")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        SELECT account_id, days_past_due, bucket, {rank} AS bucket_rank, arrears_fen,
               oldest_unpaid_due_date, charged_off
        FROM account_state
        """
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {table}_spells AS "
        f"SELECT *, {rank} AS bucket_rank FROM delinquency_spells"
    )


def bucket_rank_case(policy: DelinquencyPolicy, column: str) -> str:
    """SQL giving a bucket's place on the ladder: 0 for current (M0), 1 for M1, …"""
    whens = " ".join(f"WHEN '{b.name}' THEN {i}" for i, b in enumerate(policy.buckets))
    return f"CASE {column} {whens} END"


def create_population(con: duckdb.DuckDBPyConnection, *, day: date, state: str) -> None:
    """`population`: accounts open on `day` — opened by then, not charged off by then, and not a
    loan already closed. The snapshot has no closing date; a closed loan counts as closed from
    its contractual maturity (open date + term), where its last instalment falls."""
    d = sql_date(day)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE population AS
        SELECT a.account_id, a.customer_id, a.product, a.open_date, a.credit_limit_fen,
               s.days_past_due, s.bucket_rank, s.arrears_fen, s.oldest_unpaid_due_date
        FROM accounts_file a JOIN {state} s USING (account_id)
        WHERE a.open_date <= {d} AND NOT s.charged_off
          AND NOT (a.status = 'closed' AND coalesce(
                CAST(a.open_date + to_months(CAST(a.term_months AS INTEGER)) AS DATE) <= {d},
                true))
        """
    )


def build_features(snapshot: Path, as_of: date) -> pa.Table:
    """One row per account open on `as_of`: account_id, customer_id, as_of, then FEATURES."""
    check_as_of(snapshot, as_of=as_of)
    policy = snapshot_policy(snapshot)
    con = connect_snapshot(snapshot)
    try:
        delinquency_on(con, day=as_of - timedelta(days=60), policy=policy, table="state_60")
        delinquency_on(con, day=as_of - timedelta(days=30), policy=policy, table="state_30")
        delinquency_on(con, day=as_of, policy=policy, table="state_0")
        create_population(con, day=as_of, state="state_0")
        table = con.sql(_features_query(as_of, grace_days=policy.grace_days)).to_arrow_table()
    finally:
        con.close()
    return table


def _features_query(as_of: date, *, grace_days: int) -> str:
    d = sql_date(as_of)
    late_day = f"due_date + {grace_days + 1}"
    columns = ",\n".join(f"CAST({f.name} AS DOUBLE) AS {f.name}" for f in FEATURES)
    return f"""
    WITH dues AS (
        SELECT account_id, due_date, principal_due + interest_due + fee_due AS amount,
               statement_balance
        FROM dues_file WHERE due_date <= {d}
    ), payments AS (
        SELECT account_id, paid_date, amount FROM payments_file WHERE paid_date <= {d}
    ), due_windows AS (
        SELECT account_id,
               sum(amount) FILTER (WHERE due_date > {d} - 30) AS due_30,
               sum(amount) FILTER (WHERE due_date > {d} - 90) AS due_90,
               sum(amount) FILTER (WHERE due_date > {d} - 180) AS due_180,
               arg_max(statement_balance, due_date) AS statement_balance
        FROM dues GROUP BY account_id
    ), paid_windows AS (
        SELECT account_id,
               sum(amount) FILTER (WHERE paid_date > {d} - 30) AS paid_30,
               sum(amount) FILTER (WHERE paid_date > {d} - 90) AS paid_90,
               sum(amount) FILTER (WHERE paid_date > {d} - 180) AS paid_180
        FROM payments GROUP BY account_id
    ), judged AS (
        -- A due is missed when the account is delinquent on the first day after its grace:
        -- payments settle the oldest dues first, so that due (or an older one) is still unpaid.
        SELECT u.account_id, u.due_date,
               EXISTS (SELECT 1 FROM state_0_spells s
                       WHERE s.account_id = u.account_id AND s.bucket_rank > 0
                         AND s.started_on <= {late_day}
                         AND (s.ended_on IS NULL OR s.ended_on > {late_day})) AS missed
        FROM dues u WHERE {late_day} <= {d}
    ), punctuality AS (
        SELECT account_id,
               1 - avg(CAST(missed AS INTEGER)) FILTER (WHERE due_date > {d} - 183)
                   AS on_time_share_6m,
               1 - avg(CAST(missed AS INTEGER)) FILTER (WHERE due_date > {d} - 365)
                   AS on_time_share_12m,
               ({d} - max(due_date) FILTER (WHERE missed)) / {_DAYS_PER_MONTH}
                   AS months_since_missed_due
        FROM judged GROUP BY account_id
    ), history AS (
        SELECT account_id,
               max(bucket_rank) FILTER (WHERE coalesce(ended_on, {d} + 1) > {d} - 365)
                   AS worst_bucket_12m,
               count(*) FILTER (WHERE event = 'entered' AND started_on > {d} - 365)
                   AS cycles_delinquent_12m
        FROM state_0_spells GROUP BY account_id
    ), contacts AS (
        SELECT * FROM contacts_dated WHERE contact_day <= {d}
    ), promises AS (
        SELECT c.account_id, c.contact_day,
               EXISTS (SELECT 1 FROM payments p
                       WHERE p.account_id = c.account_id AND p.paid_date >= c.contact_day
                         AND p.paid_date <= c.contact_day + 7) AS kept
        FROM contacts c WHERE c.outcome = 'promise' AND c.contact_day > {d} - 180
    ), promise_stats AS (
        -- Only promises whose 7 days have run out by the as-of date can be judged kept or not.
        SELECT account_id, count(*) AS promises_180d,
               avg(CAST(kept AS INTEGER)) FILTER (WHERE contact_day + 7 <= {d})
                   AS promise_kept_share_180d
        FROM promises GROUP BY account_id
    ), calls AS (
        SELECT account_id, count(*) AS call_attempts_90d,
               avg(CAST(coalesce(right_party, false) AS INTEGER)) AS right_party_share_90d
        FROM contacts WHERE channel = 'call' AND contact_day > {d} - 90
        GROUP BY account_id
    ), hardship AS (
        SELECT account_id, count(*) AS hardship_holds_ever,
               count(*) FILTER (WHERE start_date > {d} - 365) AS hardship_holds_12m,
               max(CASE WHEN end_date IS NULL OR end_date >= {d} THEN 1 ELSE 0 END)
                   AS on_hardship_hold
        FROM holds_file WHERE hold_type = 'hardship' AND start_date <= {d}
        GROUP BY account_id
    ), features AS (
        SELECT p.account_id, p.customer_id,
               coalesce(pw.paid_30, 0) * 1.0 / nullif(dw.due_30, 0) AS paid_to_due_30d,
               coalesce(pw.paid_90, 0) * 1.0 / nullif(dw.due_90, 0) AS paid_to_due_90d,
               coalesce(pw.paid_180, 0) * 1.0 / nullif(dw.due_180, 0) AS paid_to_due_180d,
               pu.on_time_share_6m, pu.on_time_share_12m, pu.months_since_missed_due,
               CASE WHEN p.product = 'credit_card'
                    THEN dw.statement_balance * 1.0 / nullif(p.credit_limit_fen, 0) END
                   AS utilisation,
               p.days_past_due,
               coalesce(s30.days_past_due, 0) AS days_past_due_30d_ago,
               coalesce(s60.days_past_due, 0) AS days_past_due_60d_ago,
               p.arrears_fen / 100.0 AS arrears_yuan,
               coalesce(h.worst_bucket_12m, 0) AS worst_bucket_12m,
               coalesce(h.cycles_delinquent_12m, 0) AS cycles_delinquent_12m,
               coalesce(ps.promises_180d, 0) AS promises_180d,
               ps.promise_kept_share_180d,
               coalesce(c.call_attempts_90d, 0) AS call_attempts_90d,
               c.right_party_share_90d,
               coalesce(hs.hardship_holds_ever, 0) AS hardship_holds_ever,
               coalesce(hs.hardship_holds_12m, 0) AS hardship_holds_12m,
               coalesce(hs.on_hardship_hold, 0) AS on_hardship_hold,
               CASE cu.credit_grade WHEN 'A' THEN 1 WHEN 'B' THEN 2 WHEN 'C' THEN 3
                    WHEN 'D' THEN 4 WHEN 'E' THEN 5 END AS credit_grade,
               cu.monthly_income / 100.0 AS monthly_income_yuan,
               count(*) OVER (PARTITION BY p.customer_id) AS customer_open_accounts,
               CASE WHEN p.product = 'credit_card' THEN 1 ELSE 0 END AS is_credit_card,
               ({d} - p.open_date) / {_DAYS_PER_MONTH} AS months_on_book
        FROM population p
        LEFT JOIN due_windows dw USING (account_id)
        LEFT JOIN paid_windows pw USING (account_id)
        LEFT JOIN punctuality pu USING (account_id)
        LEFT JOIN state_30 s30 USING (account_id)
        LEFT JOIN state_60 s60 USING (account_id)
        LEFT JOIN history h USING (account_id)
        LEFT JOIN promise_stats ps USING (account_id)
        LEFT JOIN calls c USING (account_id)
        LEFT JOIN hardship hs USING (account_id)
        LEFT JOIN customers_file cu USING (customer_id)
    )
    SELECT account_id, customer_id, {d} AS as_of,
    {columns}
    FROM features ORDER BY account_id
    """
