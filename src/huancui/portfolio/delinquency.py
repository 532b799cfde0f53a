"""The delinquency engine: days past due, buckets and delinquency history, set-based in DuckDB.

Method (docs/delinquency.md): payments settle billed dues oldest first, so due k is settled on the
first day the payments applied so far reach the cumulative amount due up to k (less the tolerance);
a payment counts only against dues already billed when it arrived. Due k is
the oldest unpaid due from max(due_k + grace + 1, settlement of due k-1) until its own settlement;
meanwhile days past due = date - due_k. Cutting those intervals by the bucket boundaries gives the
time-bounded bucket spells, labelled entered / rolled_forward / rolled_back / cured / charged_off.
"""

from __future__ import annotations

from datetime import date

import duckdb

from huancui.portfolio.policy import DelinquencyPolicy

EVENTS = ("entered", "rolled_forward", "rolled_back", "cured", "charged_off")
_FAR_PAST = "DATE '1900-01-01'"


def bucket_case(policy: DelinquencyPolicy, dpd: str) -> str:
    """SQL CASE giving the bucket name for a days-past-due expression."""
    whens = " ".join(
        f"WHEN {dpd} <= {b.max_dpd} THEN '{b.name}'"
        for b in policy.buckets
        if b.max_dpd is not None
    )
    return f"CASE {whens} ELSE '{policy.buckets[-1].name}' END"


def _charge_off_case(policy: DelinquencyPolicy) -> str:
    whens = " ".join(f"WHEN '{p}' THEN {d}" for p, d in sorted(policy.charge_off_dpd.items()))
    return f"CASE product {whens} END"


def _allocation(policy: DelinquencyPolicy) -> str:
    """SQL columns splitting the part of each due that was paid across its components."""
    parts = []
    paid_before = "0"
    for component in policy.allocation_order:
        col = f"{component}_due"
        parts.append(f"least({col}, paid_into - ({paid_before})) AS {component}_paid")
        paid_before = f"{paid_before} + least({col}, paid_into - ({paid_before}))"
    return ", ".join(parts)


def compute_delinquency(
    con: duckdb.DuckDBPyConnection, *, as_of: date, policy: DelinquencyPolicy
) -> None:
    """From valid_accounts/customers/dues/payments build `account_state` and `delinquency_spells`."""
    day = f"DATE '{as_of.isoformat()}'"
    grace = policy.grace_days
    tolerance = policy.tolerance_fen
    lead = policy.billing_lead_days
    # Every due with its billing date and the cumulative amount due; future dues are kept because
    # a payment after a statement but before its due date settles that due.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _dues_all AS
        SELECT account_id, period_no, due_date, principal_due, interest_due, fee_due,
               principal_due + interest_due + fee_due AS amount,
               sum(principal_due + interest_due + fee_due) OVER w AS cum_due,
               max(coalesce(statement_date, due_date - {lead})) OVER w AS billed_on
        FROM valid_dues
        WINDOW w AS (PARTITION BY account_id ORDER BY due_date, period_no
                     ROWS UNBOUNDED PRECEDING)
        """
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _dues AS SELECT * FROM _dues_all WHERE due_date <= {day}"
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _billed AS
        SELECT account_id, billed_on, max(cum_due) AS billed
        FROM _dues_all GROUP BY account_id, billed_on
        """
    )
    # Payments count only against what was billed when they arrived: applied_i =
    # min(applied_(i-1) + amount_i, billed_i), whose closed form is
    # cum_paid_i + min(0, running min of (billed_j - cum_paid_j)). Any excess paid down the balance
    # and is not credit for later dues.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pay AS
        WITH paid AS (
            SELECT p.account_id, p.paid_date, p.amount, p.payment_id,
                   sum(p.amount) OVER w AS cum_paid, coalesce(b.billed, 0) AS billed
            FROM valid_payments p ASOF LEFT JOIN _billed b
              ON p.account_id = b.account_id AND p.paid_date >= b.billed_on
            WINDOW w AS (PARTITION BY p.account_id ORDER BY p.paid_date, p.payment_id
                         ROWS UNBOUNDED PRECEDING)
        )
        SELECT account_id, paid_date, amount, cum_paid,
               cum_paid + least(0, min(billed - cum_paid) OVER (
                   PARTITION BY account_id ORDER BY paid_date, payment_id
                   ROWS UNBOUNDED PRECEDING)) AS applied
        FROM paid
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _paid AS
        SELECT account_id, max(applied) AS applied_total, max(paid_date) AS last_payment_date
        FROM _pay GROUP BY account_id
        """
    )
    # Settlement date of each due (NULL: not settled by the as-of date). `applied` stays flat
    # while payments exceed what is billed, so each level is kept with the first day it was reached.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _settled AS
        SELECT d.*, CASE WHEN d.cum_due - {tolerance} <= 0 THEN {_FAR_PAST}
                         ELSE p.paid_date END AS settled_on
        FROM _dues d ASOF LEFT JOIN (
            SELECT account_id, applied, min(paid_date) AS paid_date FROM _pay
            GROUP BY account_id, applied
        ) p ON d.account_id = p.account_id AND p.applied >= d.cum_due - {tolerance}
        """
    )
    # Interval [start_on, end_on) during which due k is the oldest unpaid due past grace.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _regimes AS
        WITH ordered AS (
            SELECT *, lag(settled_on, 1, {_FAR_PAST}) OVER (
                          PARTITION BY account_id ORDER BY due_date, period_no) AS prev_settled
            FROM _settled
        )
        -- An unsettled earlier due (prev_settled NULL) keeps this one from being the oldest.
        SELECT account_id, due_date,
               greatest(due_date + {grace + 1}, coalesce(prev_settled, {day} + 1)) AS start_on,
               coalesce(settled_on, {day} + 1) AS end_on
        FROM ordered
        """
    )
    con.execute("DELETE FROM _regimes WHERE start_on >= end_on")
    co = _charge_off_case(policy)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _charge_off AS
        SELECT r.account_id, min(greatest(r.start_on, r.due_date + {co})) AS charge_off_date
        FROM _regimes r JOIN valid_accounts a USING (account_id)
        WHERE greatest(r.start_on, r.due_date + {co}) < r.end_on
        GROUP BY r.account_id
        """
    )
    _build_spells(con, policy=policy, day=day)
    _build_state(con, policy=policy, day=day)


def _build_spells(con: duckdb.DuckDBPyConnection, *, policy: DelinquencyPolicy, day: str) -> None:
    bucket_rows = ", ".join(
        f"('{b.name}', {i}, {b.min_dpd}, {b.max_dpd if b.max_dpd is not None else 'NULL'})"
        for i, b in enumerate(policy.buckets)
        if b.min_dpd > 0
    )
    m0 = policy.buckets[0].name
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _buckets (name VARCHAR, rank INTEGER, lo INTEGER, "
        f"hi INTEGER); INSERT INTO _buckets VALUES {bucket_rows}"
    )
    # Delinquent pieces: each regime cut at bucket boundaries, stopped at charge-off.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pieces AS
        WITH cut AS (
            SELECT r.account_id, b.name AS bucket, b.rank,
                   greatest(r.start_on, r.due_date + b.lo) AS start_on,
                   CASE WHEN b.hi IS NULL THEN r.end_on
                        ELSE least(r.end_on, r.due_date + b.hi + 1) END AS end_on,
                   c.charge_off_date
            FROM _regimes r JOIN _buckets b
              ON r.due_date + b.lo < r.end_on
             AND (b.hi IS NULL OR r.due_date + b.hi + 1 > r.start_on)
            LEFT JOIN _charge_off c USING (account_id)
        )
        SELECT account_id, bucket, rank, start_on,
               CASE WHEN charge_off_date IS NULL THEN end_on
                    ELSE least(end_on, charge_off_date) END AS end_on
        FROM cut
        WHERE start_on < end_on AND (charge_off_date IS NULL OR start_on < charge_off_date)
        """
    )
    # Islands: merge touching pieces of one bucket; a gap between pieces is a cure (M0 spell).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _islands AS
        WITH marked AS (
            SELECT *, CASE WHEN bucket = lag(bucket) OVER w AND start_on = lag(end_on) OVER w
                           THEN 0 ELSE 1 END AS new_island
            FROM _pieces WINDOW w AS (PARTITION BY account_id ORDER BY start_on)
        ), grouped AS (
            SELECT *, sum(new_island) OVER (PARTITION BY account_id ORDER BY start_on
                                            ROWS UNBOUNDED PRECEDING) AS island
            FROM marked
        )
        SELECT account_id, bucket, any_value(rank) AS rank, min(start_on) AS start_on,
               max(end_on) AS end_on
        FROM grouped GROUP BY account_id, island, bucket
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _with_cures AS
        SELECT account_id, bucket, rank, start_on, end_on FROM _islands
        UNION ALL
        SELECT i.account_id, '{m0}', 0, i.end_on, coalesce(i.next_start, {day} + 1)
        FROM (SELECT *, lead(start_on) OVER (PARTITION BY account_id ORDER BY start_on)
                        AS next_start FROM _islands) i
        LEFT JOIN _charge_off co USING (account_id)
        WHERE i.end_on <= {day} AND (i.next_start IS NULL OR i.next_start > i.end_on)
          AND (co.charge_off_date IS NULL OR i.end_on < co.charge_off_date)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE delinquency_spells AS
        WITH seq AS (
            SELECT *, lag(rank) OVER (PARTITION BY account_id ORDER BY start_on) AS prev_rank
            FROM _with_cures
        )
        SELECT account_id, bucket,
               CASE WHEN rank = 0 THEN 'cured'
                    WHEN prev_rank IS NULL OR prev_rank = 0 THEN 'entered'
                    WHEN rank > prev_rank THEN 'rolled_forward'
                    ELSE 'rolled_back' END AS event,
               start_on AS started_on,
               CASE WHEN end_on > {day} THEN NULL ELSE end_on END AS ended_on
        FROM seq
        UNION ALL
        SELECT c.account_id, {bucket_case(policy, "(c.charge_off_date - r.due_date)")},
               'charged_off', c.charge_off_date, NULL
        FROM _charge_off c JOIN _regimes r
          ON r.account_id = c.account_id AND c.charge_off_date >= r.start_on
         AND c.charge_off_date < r.end_on
        ORDER BY account_id, started_on
        """
    )


def _build_state(con: duckdb.DuckDBPyConnection, *, policy: DelinquencyPolicy, day: str) -> None:
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _arrears AS
        WITH owed AS (
            SELECT d.*, least(amount, greatest(0, cum_due - coalesce(p.applied_total, 0)))
                       AS unpaid
            FROM _dues d LEFT JOIN _paid p USING (account_id)
        ), split AS (
            SELECT *, {_allocation(policy)}
            FROM (SELECT *, amount - unpaid AS paid_into FROM owed)
        )
        SELECT account_id, count(*) AS dues_to_date,
               sum(unpaid) AS arrears,
               sum(principal_due - principal_paid) AS arrears_principal,
               sum(interest_due - interest_paid) AS arrears_interest,
               sum(fee_due - fee_paid) AS arrears_fee,
               count(*) FILTER (WHERE unpaid > 0 AND due_date + {policy.grace_days} < {day})
                   AS missed_dues
        FROM split GROUP BY account_id
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE account_state AS
        WITH current_regime AS (
            SELECT account_id, due_date AS oldest_unpaid_due_date,
                   {day} - due_date AS days_past_due
            FROM _regimes WHERE start_on <= {day} AND end_on > {day}
        ), episode AS (
            SELECT account_id, max(started_on) AS delinquent_since
            FROM delinquency_spells WHERE event = 'entered' GROUP BY account_id
        ), cycles AS (
            SELECT account_id, count(*) AS cycles_delinquent
            FROM delinquency_spells WHERE event = 'entered' GROUP BY account_id
        ), recent AS (
            SELECT account_id, sum(amount) AS paid_30d FROM valid_payments
            WHERE paid_date > {day} - 30 GROUP BY account_id
        )
        SELECT a.account_id, a.customer_id, a.product, a.status, c.credit_grade, c.province,
               a.outstanding_principal AS principal_fen,
               a.outstanding_interest AS interest_fen,
               a.outstanding_fees AS fees_fen,
               a.outstanding_principal + a.outstanding_interest + a.outstanding_fees
                   AS balance_fen,
               CAST(coalesce(ar.arrears, 0) AS BIGINT) AS arrears_fen,
               CAST(coalesce(ar.arrears_principal, 0) AS BIGINT) AS arrears_principal_fen,
               CAST(coalesce(ar.arrears_interest, 0) AS BIGINT) AS arrears_interest_fen,
               CAST(coalesce(ar.arrears_fee, 0) AS BIGINT) AS arrears_fee_fen,
               CAST(coalesce(ar.missed_dues, 0) AS INTEGER) AS missed_dues,
               CAST(coalesce(cr.days_past_due, 0) AS INTEGER) AS days_past_due,
               {bucket_case(policy, "coalesce(cr.days_past_due, 0)")} AS bucket,
               cr.oldest_unpaid_due_date,
               CASE WHEN cr.days_past_due IS NOT NULL THEN e.delinquent_since END
                   AS delinquent_since,
               CAST(coalesce(cy.cycles_delinquent, 0) AS INTEGER) AS cycles_delinquent,
               p.last_payment_date, CAST(coalesce(r.paid_30d, 0) AS BIGINT) AS paid_30d_fen,
               co.charge_off_date IS NOT NULL AS charged_off, co.charge_off_date
        FROM valid_accounts a
        JOIN valid_customers c USING (customer_id)
        LEFT JOIN _arrears ar USING (account_id)
        LEFT JOIN current_regime cr USING (account_id)
        LEFT JOIN episode e USING (account_id)
        LEFT JOIN cycles cy USING (account_id)
        LEFT JOIN _paid p USING (account_id)
        LEFT JOIN recent r USING (account_id)
        LEFT JOIN _charge_off co USING (account_id)
        ORDER BY a.account_id
        """
    )
