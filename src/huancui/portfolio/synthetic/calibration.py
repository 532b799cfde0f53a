"""Measure a generated delivery the way a bank would, with DuckDB over the files themselves:
delinquency at the as-of date, month-over-month roll rates, charge-offs, agreement with truth, and
the customer feedback (satisfaction and complaint rates).

Run `python -m huancui.portfolio.synthetic.calibration DIR` to print the figures as JSON; the
numbers in docs/world-model.md come from this module.
"""

from __future__ import annotations

import datetime
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

# Days past due buckets at a month end: 0 current, 1: 1-29, 2: 30-59, ... 7: 180+.
BUCKET_NAMES = ("current", "1-29", "30-59", "60-89", "90-119", "120-149", "150-179", "180+")
LOAN_BILLING_LEAD_DAYS = 15  # a loan instalment can be paid this long before its due date


@dataclass(frozen=True)
class ProductFigures:
    """Delinquency of one product at the as-of date, and its roll rates over the history."""

    accounts: int
    share_accounts_30_plus: float  # of accounts not closed and not charged off
    share_balances_30_plus: float  # of balances of accounts not closed and not charged off
    share_balances_180_plus: float  # balances 180+ DPD incl. charged off / all balances
    share_accounts_30_plus_cumulative_method: float
    annual_charge_off_rate: float  # charged-off balances / average open balances, annualised
    roll_rates: dict[str, float]  # "from->to" over consecutive month ends


@dataclass(frozen=True)
class FeedbackFigures:
    """Satisfaction (CSAT: share of scores 4 or 5) and complaint rates from feedback.csv."""

    surveys: int
    survey_share_of_conversations: float  # of connected calls/visits that were not wrong numbers
    survey_share_of_delivered_sms: float
    survey_csat: float
    survey_mean_score: float
    survey_mean_score_by_outcome: dict[str, float]  # by the outcome of the contact surveyed
    portal_ratings: int
    portal_csat: float
    complaints: int
    complaints_per_1000_attempts: float  # contact attempts in contacts.csv
    complaints_per_100_contacted_accounts: float
    complaint_categories: dict[str, float]  # share of complaints


@dataclass(frozen=True)
class Calibration:
    as_of: str
    month_ends: list[str]
    products: dict[str, ProductFigures]
    truth_dpd_agreement: float  # accounts whose measured DPD equals the world's own
    feedback: FeedbackFigures | None = None  # None when the delivery has no feedback.csv


def measure(out: Path, *, as_of: datetime.date) -> Calibration:
    """All calibration figures of the delivery in `out`, generated for `as_of`."""
    con = duckdb.connect()
    _load(con, out=out, as_of=as_of)
    month_ends = [r[0] for r in con.execute("SELECT snap FROM snaps ORDER BY snap").fetchall()]
    products = {
        product: _product_figures(con, product=product)
        for (product,) in con.execute("SELECT DISTINCT product FROM acc ORDER BY 1").fetchall()
    }
    agreement = con.execute(
        """SELECT avg(CASE WHEN coalesce(m.dpd, 0) = t.days_past_due_at_as_of THEN 1 ELSE 0 END)
           FROM truth_acc t LEFT JOIN dpd m ON m.account_id = t.account_id AND m.snap = ?""",
        [as_of],
    ).fetchone()
    return Calibration(
        as_of=as_of.isoformat(),
        month_ends=[d.isoformat() for d in month_ends],
        products=products,
        truth_dpd_agreement=float(agreement[0]) if agreement else 0.0,
        feedback=measure_feedback(out) if (out / "feedback.csv").is_file() else None,
    )


def measure_feedback(out: Path) -> FeedbackFigures:
    """Feedback figures of the delivery in `out`, surveys matched to their contacts."""
    con = duckdb.connect()
    for name in ("feedback", "contacts"):
        con.execute(
            f"CREATE TABLE {name} AS SELECT * FROM "
            f"read_csv('{out / (name + '.csv')}', all_varchar = true, header = true)"
        )
    con.execute("""
        CREATE TABLE surveyed AS SELECT c.*, f.kind, CAST(f.score AS INTEGER) AS score
        FROM contacts c LEFT JOIN feedback f ON f.contact_id = c.contact_id AND f.kind = 'survey'
    """)

    def one(sql: str) -> float:
        row = con.execute(sql).fetchone()
        return float(row[0]) if row and row[0] is not None else 0.0

    def by_key(sql: str) -> dict[str, float]:
        return {str(k): round(float(v), 4) for k, v in con.execute(sql).fetchall()}

    conversation = (
        "channel IN ('call', 'visit') AND connected = 'true' AND outcome <> 'wrong_number'"
    )
    csat = "avg(CASE WHEN CAST(score AS INTEGER) >= 4 THEN 1.0 ELSE 0.0 END)"
    return FeedbackFigures(
        surveys=int(one("SELECT count(*) FROM feedback WHERE kind = 'survey'")),
        survey_share_of_conversations=one(
            f"SELECT avg(CASE WHEN kind IS NULL THEN 0.0 ELSE 1.0 END) FROM surveyed "
            f"WHERE {conversation}"
        ),
        survey_share_of_delivered_sms=one(
            "SELECT avg(CASE WHEN kind IS NULL THEN 0.0 ELSE 1.0 END) FROM surveyed "
            "WHERE channel = 'sms' AND outcome = 'delivered'"
        ),
        survey_csat=one(f"SELECT {csat} FROM feedback WHERE kind = 'survey'"),
        survey_mean_score=one(
            "SELECT avg(CAST(score AS INTEGER)) FROM feedback WHERE kind = 'survey'"
        ),
        survey_mean_score_by_outcome=by_key(
            "SELECT outcome, avg(score) FROM surveyed WHERE kind IS NOT NULL GROUP BY 1 ORDER BY 1"
        ),
        portal_ratings=int(one("SELECT count(*) FROM feedback WHERE kind = 'portal_rating'")),
        portal_csat=one(f"SELECT {csat} FROM feedback WHERE kind = 'portal_rating'"),
        complaints=int(one("SELECT count(*) FROM feedback WHERE kind = 'complaint'")),
        complaints_per_1000_attempts=one(
            "SELECT 1000.0 * (SELECT count(*) FROM feedback WHERE kind = 'complaint') "
            "/ greatest((SELECT count(*) FROM contacts), 1)"
        ),
        complaints_per_100_contacted_accounts=one(
            "SELECT 100.0 * (SELECT count(*) FROM feedback WHERE kind = 'complaint') "
            "/ greatest((SELECT count(DISTINCT account_id) FROM contacts), 1)"
        ),
        complaint_categories=by_key(
            "SELECT category, count(*) / sum(count(*)) OVER () FROM feedback "
            "WHERE kind = 'complaint' GROUP BY 1 ORDER BY 1"
        ),
    )


def _fen(column: str) -> str:
    # Money is always written with exactly two decimals, so dropping the point gives exact fen.
    return f"CAST(replace({column}, '.', '') AS BIGINT)"


def _load(con: duckdb.DuckDBPyConnection, *, out: Path, as_of: datetime.date) -> None:
    def csv(name: str) -> str:
        return f"read_csv('{out / (name + '.csv')}', all_varchar = true, header = true)"

    con.execute(f"""
        CREATE TABLE acc AS SELECT account_id, product, status,
            {_fen("outstanding_principal")} + {_fen("outstanding_interest")}
            + {_fen("outstanding_fees")} AS balance
        FROM {csv("accounts")}""")
    con.execute(f"""
        CREATE TABLE due AS SELECT account_id, due_date::DATE AS due_date,
            coalesce(nullif(statement_date, '')::DATE,
                     due_date::DATE - INTERVAL {LOAN_BILLING_LEAD_DAYS} DAY)::DATE AS entered,
            {_fen("principal_due")} + {_fen("interest_due")} + {_fen("fee_due")} AS amount
        FROM {csv("dues")}""")
    con.execute(f"""
        CREATE TABLE pay AS SELECT account_id, paid_date::DATE AS paid_date,
            {_fen("amount")} AS amount FROM {csv("payments")}""")
    con.execute(f"""CREATE TABLE truth_acc AS SELECT * FROM
        read_parquet('{out / "truth" / "accounts.parquet"}')""")
    con.execute(f"""CREATE TABLE truth_month AS SELECT * FROM
        read_parquet('{out / "truth" / "account_months.parquet"}')""")
    con.execute(
        """
        CREATE TABLE snaps AS
        SELECT DISTINCT last_day(due_date)::DATE AS snap FROM due
        WHERE last_day(due_date) < ?::DATE AND due_date >= (SELECT min(due_date) FROM due)
        UNION SELECT ?::DATE""",
        [as_of, as_of],
    )
    con.execute(_DPD_SQL)


# Per snapshot and account: days past due by the per-due method (payments settle the oldest due
# first, overpayment is no credit for later dues: a running balance floored at zero, with each due
# entering on its statement date, or LOAN_BILLING_LEAD_DAYS before its due date for loans), and by
# the plain cumulative method (all payments to date against all dues to date).
_DPD_SQL = """
CREATE TABLE dpd AS
WITH events AS (
    SELECT s.snap, d.account_id, d.entered AS event_day, 0 AS kind, d.amount AS delta
    FROM due d JOIN snaps s ON d.entered <= s.snap
    UNION ALL
    SELECT s.snap, p.account_id, p.paid_date, 1, -p.amount
    FROM pay p JOIN snaps s ON p.paid_date <= s.snap
),
running AS (
    SELECT snap, account_id, event_day, kind,
        sum(delta) OVER w AS total,
        row_number() OVER w AS step
    FROM events
    WINDOW w AS (PARTITION BY snap, account_id ORDER BY event_day, kind ROWS UNBOUNDED PRECEDING)
),
floored AS (
    SELECT snap, account_id, step, total,
        total - least(0, min(total) OVER (PARTITION BY snap, account_id ORDER BY step
                                           ROWS UNBOUNDED PRECEDING)) AS owed
    FROM running
),
final AS (
    SELECT snap, account_id, arg_max(owed, step) AS owed
    FROM floored GROUP BY snap, account_id
),
paid_to_date AS (
    SELECT s.snap, p.account_id, sum(p.amount) AS paid
    FROM pay p JOIN snaps s ON p.paid_date <= s.snap GROUP BY ALL
),
entered AS (
    SELECT s.snap, d.account_id, d.due_date, d.amount,
        sum(d.amount) OVER (PARTITION BY s.snap, d.account_id ORDER BY d.entered DESC, d.due_date DESC
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS later,
        sum(d.amount) OVER (PARTITION BY s.snap, d.account_id ORDER BY d.entered, d.due_date
                            ROWS UNBOUNDED PRECEDING) AS cumulative
    FROM due d JOIN snaps s ON d.entered <= s.snap
),
unpaid AS (
    SELECT e.snap, e.account_id,
        min(e.due_date) FILTER (WHERE e.amount > 0 AND coalesce(e.later, 0) < f.owed)
            AS oldest_per_due,
        min(e.due_date) FILTER (WHERE e.amount > 0 AND e.due_date <= e.snap
                                AND coalesce(p.paid, 0) < e.cumulative) AS oldest_cumulative
    FROM entered e
    JOIN final f USING (snap, account_id)
    LEFT JOIN paid_to_date p USING (snap, account_id)
    GROUP BY ALL
)
SELECT snap, account_id,
    CASE WHEN oldest_per_due < snap THEN date_diff('day', oldest_per_due, snap) ELSE 0 END AS dpd,
    CASE WHEN oldest_cumulative < snap THEN date_diff('day', oldest_cumulative, snap) ELSE 0 END
        AS dpd_cumulative
FROM unpaid
"""


def _bucket(column: str) -> str:
    return f"least(CASE WHEN {column} = 0 THEN 0 ELSE {column} // 30 + 1 END, 7)"


def _product_figures(con: duckdb.DuckDBPyConnection, *, product: str) -> ProductFigures:
    as_of = con.execute("SELECT max(snap) FROM snaps").fetchone()[0]  # type: ignore[index]
    row = con.execute(
        """SELECT count(*),
            avg(CASE WHEN coalesce(d.dpd, 0) >= 30 THEN 1.0 ELSE 0 END)
                FILTER (WHERE a.status = 'open'),
            sum(a.balance) FILTER (WHERE a.status = 'open' AND coalesce(d.dpd, 0) >= 30)
                / sum(a.balance) FILTER (WHERE a.status = 'open'),
            sum(a.balance) FILTER (WHERE coalesce(d.dpd, 0) >= 180 OR a.status = 'charged_off')
                / sum(a.balance),
            avg(CASE WHEN coalesce(d.dpd_cumulative, 0) >= 30 THEN 1.0 ELSE 0 END)
                FILTER (WHERE a.status = 'open')
        FROM acc a LEFT JOIN dpd d ON d.account_id = a.account_id AND d.snap = ?
        WHERE a.product = ?""",
        [as_of, product],
    ).fetchone()
    assert row is not None
    return ProductFigures(
        accounts=int(row[0]),
        share_accounts_30_plus=float(row[1] or 0),
        share_balances_30_plus=float(row[2] or 0),
        share_balances_180_plus=float(row[3] or 0),
        share_accounts_30_plus_cumulative_method=float(row[4] or 0),
        annual_charge_off_rate=_charge_off_rate(con, product=product),
        roll_rates=_roll_rates(con, product=product),
    )


def _charge_off_rate(con: duckdb.DuckDBPyConnection, *, product: str) -> float:
    """Charged-off balances in the second half of the window over the average open balance there,
    annualised; the first half is warm-up because every account starts the window current."""
    row = con.execute(
        """WITH months AS (SELECT max(month_no) + 1 AS n FROM truth_month),
        half AS (SELECT n - n // 2 AS first_month, n // 2 AS length FROM months),
        open_balance AS (
            SELECT avg(total) AS average FROM (
                SELECT m.month_no, sum(m.balance_after_fen) AS total
                FROM truth_month m JOIN truth_acc a USING (account_id), half
                WHERE a.product = ? AND m.status = 'open' AND m.month_no >= half.first_month
                GROUP BY m.month_no)
        ),
        losses AS (
            SELECT sum(t.charge_off_balance_fen) AS total
            FROM truth_acc t, half, months
            WHERE t.product = ? AND t.charge_off_date IS NOT NULL
              AND t.charge_off_date > (SELECT max(due_date) FROM truth_month
                                       WHERE month_no = half.first_month - 1)
        )
        SELECT losses.total / open_balance.average * 12.0 / half.length
        FROM losses, open_balance, half""",
        [product, product],
    ).fetchone()
    return float(row[0] or 0) if row else 0.0


def _roll_rates(con: duckdb.DuckDBPyConnection, *, product: str) -> dict[str, float]:
    """Share of accounts in a bucket at one month end found in the next bucket (or cured) at the
    next month end, pooled over consecutive month ends after the first three."""
    rows = con.execute(
        f"""WITH ordered AS (
            SELECT d.account_id, d.snap, {_bucket("d.dpd")} AS bucket,
                row_number() OVER (PARTITION BY d.account_id ORDER BY d.snap) AS k
            FROM dpd d JOIN acc a USING (account_id)
            WHERE a.product = ? AND d.snap IN (SELECT snap FROM snaps WHERE snap = last_day(snap))
        )
        SELECT f.bucket, t.bucket, count(*)
        FROM ordered f JOIN ordered t ON t.account_id = f.account_id AND t.k = f.k + 1
        WHERE f.k >= 3
        GROUP BY ALL""",
        [product],
    ).fetchall()
    counts: dict[int, dict[int, int]] = {}
    for source, target, n in rows:
        counts.setdefault(int(source), {})[int(target)] = int(n)
    rates: dict[str, float] = {}
    for source, targets in sorted(counts.items()):
        total = sum(targets.values())
        if source < 7:
            name = f"{BUCKET_NAMES[source]}->{BUCKET_NAMES[source + 1]}"
            rates[name] = targets.get(source + 1, 0) / total
        if source > 0:
            rates[f"{BUCKET_NAMES[source]}->current"] = targets.get(0, 0) / total
    return rates


def main(argv: list[str]) -> None:
    out = Path(argv[1])
    as_of = datetime.date.fromisoformat(argv[2])
    print(json.dumps(asdict(measure(out, as_of=as_of)), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv)
