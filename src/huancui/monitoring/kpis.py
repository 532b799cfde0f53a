"""Collection KPIs over a window of days: recovery and cure, roll rates, delinquency by bucket,
promises and arrangements, contact rates, satisfaction, cost to collect and the 缓催 pause.

Each KPI is a ratio (or an amount) of two set-based aggregates over a fact table built in DuckDB
(one row per cohort account, contact attempt, feedback, arrangement or pause, and period), so
slicing by a field is a GROUP BY, never a Python loop. Definitions: docs/kpis.md.

    compute_kpis(settings, start, end, by=None, grain="month") -> KpiReport
    roll_matrix(settings, start, end, by=None) -> RollMatrix
    delinquency_series(settings, start, end, by=None, grain="month") -> DelinquencySeries
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any, Literal, get_args

from huancui.kit.errors import InvalidInput
from huancui.kit.money import display_yuan, format_yuan
from huancui.kit.settings import Settings
from huancui.kit.sql import lit
from huancui.monitoring.data import (
    ACCOUNT_FIELDS,
    CHARGED_OFF,
    CONVERSATION_CHANNELS,
    FIELDS,
    KpiData,
    StrategyInfo,
    ensure_states,
    open_kpi_data,
    with_dims,
)

Grain = Literal["day", "month"]
GRAINS: tuple[str, ...] = get_args(Grain)
Unit = Literal["rate", "mean", "per_1000", "per_10000", "money", "net"]
TOTAL = "total"  # the period covering the whole window
ALL = "all"  # the group covering every value of the slicing field
RATE_PLACES = Decimal("0.0001")
# Days after a promise within which a payment counts as keeping it (history proxy), and after a
# 缓催 pause's last day within which its outcome is read.
PROMISE_DAYS = 7
FOLLOW_UP_DAYS = 30
_SCALE: dict[str, int] = {"rate": 1, "mean": 1, "per_1000": 1_000, "per_10000": 10_000}


def ratio(part: int, whole: int, *, scale: int = 1) -> Decimal | None:
    """part × scale ÷ whole to four places (half-up); None when there is nothing to divide."""
    if whole == 0:
        return None
    return (Decimal(part) * scale / Decimal(whole)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Period:
    """The days [first_day, last_day]; its opening state is that of the day before."""

    label: str
    first_day: date
    last_day: date

    @property
    def opening(self) -> date:
        return self.first_day - timedelta(days=1)

    def as_json(self) -> dict[str, str]:
        return {
            "period": self.label,
            "from": self.first_day.isoformat(),
            "to": self.last_day.isoformat(),
            "opening": self.opening.isoformat(),
        }


def split_periods(start: date, end: date, grain: Grain) -> list[Period]:
    """The whole window first (label 'total'), then its days or calendar months (clipped)."""
    periods = [Period(TOTAL, start, end)]
    day = start
    while day <= end:
        if grain == "day":
            last, label = day, day.isoformat()
        else:
            month_end = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
            last, label = min(month_end, end), f"{day.year:04d}-{day.month:02d}"
        periods.append(Period(label, day, last))
        day = last + timedelta(days=1)
    return periods


def month_ends(start: date, end: date) -> list[date]:
    """Every last day of a month in [start, end]."""
    found: list[date] = []
    year, month = start.year, start.month
    while True:
        last = date(year, month, calendar.monthrange(year, month)[1])
        if last > end:
            return found
        if last >= start:
            found.append(last)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def check_window(start: date, end: date, *, by: str | None, grain: str) -> None:
    """The arguments every entry point shares, checked with the option each one comes from."""
    if end < start:
        raise InvalidInput(f"--to: {end} is before --from {start}; the window runs from → to")
    if by is not None and by not in FIELDS:
        raise InvalidInput(f"--by: {by!r} is not a field; choose one of {', '.join(FIELDS)}")
    if grain not in GRAINS:
        raise InvalidInput(f"--grain: {grain!r}; choose one of {', '.join(GRAINS)}")


# --- fact tables ----------------------------------------------------------------------------

# What each fact table can be sliced by, and why not by the rest.
_FACT_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "cohort": (ACCOUNT_FIELDS, "it follows accounts and their payments, not contact attempts"),
    "contact": (FIELDS, ""),
    "feedback": (FIELDS, ""),
    "arrangement": (ACCOUNT_FIELDS, "arrangements are not tied to one contact attempt"),
    "exposure": (ACCOUNT_FIELDS, "it follows accounts, not contact attempts"),
    "post_hold": (ACCOUNT_FIELDS, "it follows accounts after a pause, not contact attempts"),
}


def _day(value: date) -> str:
    return f"DATE {lit(value.isoformat())}"


# One row per fact and period; {end} is the data's last day. Each gets the account's fields
# (data.with_dims) on its ref_date.
_FACT_SQL: dict[str, str] = {
    # Accounts delinquent (1+ days past due, not charged off) at each period's opening.
    "cohort": """
    WITH cohort AS (
        SELECT p.period, p.first_day, p.last_day, p.opening, s.account_id, s.arrears_fen
        FROM periods p JOIN states s ON s.as_of = p.opening AND s.delinquent
    ), paid AS (
        SELECT c.period, c.account_id, sum(x.amount) AS collected_fen
        FROM cohort c JOIN payments x ON x.account_id = c.account_id
         AND x.paid_date BETWEEN c.first_day AND c.last_day
        GROUP BY ALL
    ), cured AS (
        SELECT DISTINCT c.period, c.account_id
        FROM cohort c JOIN spells s ON s.account_id = c.account_id AND s.event = 'cured'
         AND s.started_on BETWEEN c.first_day AND c.last_day
    )
    SELECT c.period, c.account_id, c.opening AS ref_date, c.arrears_fen,
           coalesce(pd.collected_fen, 0) AS collected_fen,
           least(coalesce(pd.collected_fen, 0), c.arrears_fen) AS recovered_fen,
           cu.account_id IS NOT NULL AS cured
    FROM cohort c LEFT JOIN paid pd USING (period, account_id)
    LEFT JOIN cured cu USING (period, account_id)
""",
    # Contact attempts; a promise is kept (7-day proxy) by any payment within the days after it.
    "contact": """
    WITH promise_check AS (
        SELECT c.contact_id,
               CASE WHEN c.contact_date + {promise_days} > {end} THEN NULL
                    ELSE count(x.payment_id) > 0 END AS kept
        FROM contacts c LEFT JOIN payments x ON x.account_id = c.account_id
         AND x.paid_date BETWEEN c.contact_date AND c.contact_date + {promise_days}
        WHERE c.outcome = 'promise'
        GROUP BY c.contact_id, c.contact_date
    )
    SELECT p.period, c.contact_id, c.account_id, c.contact_date AS ref_date, c.channel,
           c.collector, c.channel IN ({conversation}) AS attempt, c.connected,
           c.right_party, c.outcome, coalesce(k.cost_fen, 0) AS cost_fen,
           pc.kept AS promise_kept
    FROM contacts c JOIN periods p ON c.contact_date BETWEEN p.first_day AND p.last_day
    LEFT JOIN channel_costs k ON k.channel = c.channel
    LEFT JOIN promise_check pc ON pc.contact_id = c.contact_id
""",
    "feedback": """
    SELECT p.period, f.feedback_id, f.account_id, f.received_date AS ref_date, f.kind,
           f.score, coalesce(f.channel, c.channel, 'unknown') AS channel,
           coalesce(c.collector, 'unknown') AS collector
    FROM feedback f JOIN periods p ON f.received_date BETWEEN p.first_day AND p.last_day
    LEFT JOIN contacts c ON c.contact_id = f.contact_id
""",
    "arrangement": """
    SELECT p.period, x.arrangement_id, x.account_id, x.proposed_on AS ref_date, x.kind,
           x.status, x.record_segment
    FROM arrangements x JOIN periods p ON x.proposed_on BETWEEN p.first_day AND p.last_day
""",
    # Accounts delinquent at some time in a period (a delinquent spell overlapping it), and
    # whether a 缓催 pause was approved for them within it.
    "exposure": """
    WITH exposed AS (
        SELECT DISTINCT p.period, s.account_id, p.opening AS ref_date
        FROM periods p JOIN spells s ON s.event NOT IN ('cured', 'charged_off')
         AND s.started_on <= p.last_day AND (s.ended_on IS NULL OR s.ended_on > p.first_day)
    ), paused AS (
        SELECT DISTINCT p.period, h.account_id
        FROM periods p JOIN pauses h ON h.approved_on BETWEEN p.first_day AND p.last_day
    )
    SELECT e.*, pa.account_id IS NOT NULL AS paused
    FROM exposed e LEFT JOIN paused pa USING (period, account_id)
""",
    # Pauses whose last day falls in a period, and what followed in the next days.
    "post_hold": """
    SELECT p.period, h.source, h.account_id, h.last_day AS ref_date,
           h.last_day + {follow_up_days} <= {end} AS observed,
           EXISTS (SELECT 1 FROM spells s WHERE s.account_id = h.account_id
                    AND s.event = 'cured' AND s.started_on > h.last_day
                    AND s.started_on <= h.last_day + {follow_up_days}) AS cured,
           EXISTS (SELECT 1 FROM spells s WHERE s.account_id = h.account_id
                    AND s.event IN ('entered', 'rolled_forward', 'charged_off')
                    AND s.started_on > h.last_day
                    AND s.started_on <= h.last_day + {follow_up_days}) AS rolled,
           EXISTS (SELECT 1 FROM arrangements x WHERE x.account_id = h.account_id
                    AND x.status IN ('approved', 'active', 'kept', 'completed', 'broken')
                    AND (x.hardship_id = h.hardship_id
                         OR (x.proposed_on > h.last_day
                             AND x.proposed_on <= h.last_day + {follow_up_days})))
               AS arranged
    FROM pauses h JOIN periods p ON h.last_day BETWEEN p.first_day AND p.last_day
""",
}


def _build_facts(data: KpiData, periods: Sequence[Period]) -> None:
    con = data.con
    con.execute("DROP TABLE IF EXISTS periods")
    con.execute(
        "CREATE TABLE periods (period VARCHAR, first_day DATE, last_day DATE, opening DATE)"
    )
    con.executemany(
        "INSERT INTO periods VALUES (?, ?, ?, ?)",
        [[p.label, p.first_day, p.last_day, p.opening] for p in periods],
    )
    ensure_states(data, [p.opening for p in periods])
    values = {
        "end": _day(data.history_as_of),
        "promise_days": PROMISE_DAYS,
        "follow_up_days": FOLLOW_UP_DAYS,
        "conversation": ", ".join(lit(c) for c in CONVERSATION_CHANNELS),
    }
    for name, sql in _FACT_SQL.items():
        facts = with_dims(sql.format(**values), on="ref_date", own_segment=name == "arrangement")
        con.execute(f"DROP TABLE IF EXISTS {name}_facts")
        con.execute(f"CREATE TABLE {name}_facts AS {facts}")


# --- KPI definitions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """An aggregate over one fact table; `money`: integer fen (shown as yuan)."""

    facts: str
    sql: str
    money: bool = False


@dataclass(frozen=True)
class KpiSpec:
    key: str
    label: str
    unit: Unit
    formula: str
    source: str
    numerator: Measure
    denominator: Measure | None = None
    note: str | None = None

    @property
    def measures(self) -> tuple[Measure, ...]:
        return (self.numerator,) if self.denominator is None else (self.numerator, self.denominator)

    @property
    def sliceable_by(self) -> tuple[str, ...]:
        fields = set(FIELDS)
        for m in self.measures:
            fields &= set(_FACT_FIELDS[m.facts][0])
        return tuple(f for f in FIELDS if f in fields)

    def why_not(self, by: str) -> str:
        reasons = [
            _FACT_FIELDS[m.facts][1] for m in self.measures if by not in _FACT_FIELDS[m.facts][0]
        ]
        return f"not sliceable by {by}: {'; '.join(dict.fromkeys(reasons))}; shown for all"


_COLLECTED = Measure("cohort", "sum(collected_fen)", money=True)
_COST = Measure("contact", "sum(cost_fen)", money=True)
_OPENING_ARREARS = Measure("cohort", "sum(arrears_fen)", money=True)
_CONTACTS = "contacts.parquet (contacted_at as a date in Asia/Shanghai, channel, connected, right_party, outcome, agent_id)"
_RESOLVED = "'kept', 'completed', 'broken'"

KPIS: tuple[KpiSpec, ...] = (
    KpiSpec(
        "recovery_rate",
        "Recovery rate 回收率",
        "rate",
        "payments dated in the period on the accounts delinquent at its opening ÷ their arrears"
        " at the opening",
        "payments.parquet (paid_date, amount); arrears at the opening: the snapshot of that day,"
        " else rebuilt from dues.parquet and payments.parquet; delinquency_spells.parquet",
        _COLLECTED,
        _OPENING_ARREARS,
        "can exceed 1: payments also settle dues falling due within the period",
    ),
    KpiSpec(
        "arrears_recovered_rate",
        "Opening arrears recovered 逾期金额回收率",
        "rate",
        "Σ min(payments in the period, arrears at the opening) over the accounts delinquent at"
        " the opening ÷ their arrears at the opening",
        "as recovery_rate",
        Measure("cohort", "sum(recovered_fen)", money=True),
        _OPENING_ARREARS,
        "at most 1: each account's payments count up to what it owed at the opening",
    ),
    KpiSpec(
        "cure_rate",
        "Cure rate 治愈率",
        "rate",
        "accounts delinquent at the opening with a cured event (back to M0) in the period ÷"
        " accounts delinquent at the opening",
        "delinquency_spells.parquet (event 'cured', started_on)",
        Measure("cohort", "count(*) FILTER (WHERE cured)"),
        Measure("cohort", "count(*)"),
    ),
    KpiSpec(
        "collected",
        "Collected 回收金额",
        "money",
        "payments dated in the period on the accounts delinquent at its opening",
        "payments.parquet (paid_date, amount)",
        _COLLECTED,
    ),
    KpiSpec(
        "contact_rate",
        "Contact rate 接通率",
        "rate",
        "call and visit attempts that connected ÷ call and visit attempts",
        _CONTACTS,
        Measure("contact", "count(*) FILTER (WHERE attempt AND connected)"),
        Measure("contact", "count(*) FILTER (WHERE attempt)"),
    ),
    KpiSpec(
        "right_party_contact_rate",
        "Right-party contact rate 本人接触率",
        "rate",
        "call and visit attempts that reached the debtor or guarantor ÷ call and visit attempts",
        _CONTACTS,
        Measure("contact", "count(*) FILTER (WHERE attempt AND right_party)"),
        Measure("contact", "count(*) FILTER (WHERE attempt)"),
    ),
    KpiSpec(
        "promise_rate",
        "Promise rate 承诺还款率",
        "rate",
        "right-party contacts with outcome 'promise' ÷ right-party contacts",
        _CONTACTS,
        Measure("contact", "count(*) FILTER (WHERE right_party AND outcome = 'promise')"),
        Measure("contact", "count(*) FILTER (WHERE right_party)"),
    ),
    KpiSpec(
        "promise_kept_rate",
        "Promise-kept rate 承诺兑现率 (arrangements)",
        "rate",
        "promises to pay (PTP arrangements) proposed in the period and kept ÷ those resolved"
        " (kept or broken)",
        "case plane: arrangements (kind 'ptp', status, proposed_on)",
        Measure("arrangement", "count(*) FILTER (WHERE kind = 'ptp' AND status = 'kept')"),
        Measure(
            "arrangement", "count(*) FILTER (WHERE kind = 'ptp' AND status IN ('kept', 'broken'))"
        ),
        "promises still open or cancelled are not resolved and not counted",
    ),
    KpiSpec(
        "promise_kept_rate_7d",
        "Promise-kept rate, 7-day proxy 承诺兑现率（7天内还款）",
        "rate",
        f"contacts with outcome 'promise' followed by a payment on that day or within {PROMISE_DAYS}"
        f" days ÷ promises whose {PROMISE_DAYS} days lie within the data",
        f"{_CONTACTS}; payments.parquet",
        Measure("contact", "count(*) FILTER (WHERE promise_kept)"),
        Measure("contact", "count(*) FILTER (WHERE promise_kept IS NOT NULL)"),
        "a proxy from the delivered history: any payment counts, whatever its amount",
    ),
    KpiSpec(
        "arrangement_kept_rate",
        "Arrangement-kept rate 协议履约率",
        "rate",
        "arrangements proposed in the period that were kept or completed ÷ those resolved (kept,"
        " completed or broken)",
        "case plane: arrangements (status, proposed_on)",
        Measure("arrangement", "count(*) FILTER (WHERE status IN ('kept', 'completed'))"),
        Measure("arrangement", f"count(*) FILTER (WHERE status IN ({_RESOLVED}))"),
    ),
    KpiSpec(
        "csat",
        "CSAT 客户满意度",
        "rate",
        "survey and portal scores of 4 or 5 ÷ survey and portal scores",
        "feedback.parquet (kind 'survey' or 'portal_rating', score 1–5, received_date)",
        Measure("feedback", "count(*) FILTER (WHERE kind <> 'complaint' AND score >= 4)"),
        Measure("feedback", "count(*) FILTER (WHERE kind <> 'complaint' AND score IS NOT NULL)"),
    ),
    KpiSpec(
        "mean_score",
        "Mean satisfaction score 平均评分",
        "mean",
        "sum of survey and portal scores ÷ their number (1–5)",
        "feedback.parquet (score)",
        Measure("feedback", "coalesce(sum(score) FILTER (WHERE kind <> 'complaint'), 0)"),
        Measure("feedback", "count(*) FILTER (WHERE kind <> 'complaint' AND score IS NOT NULL)"),
    ),
    KpiSpec(
        "complaints_per_1000_accounts",
        "Complaints per 1,000 accounts contacted 每千户投诉",
        "per_1000",
        "complaints received in the period × 1,000 ÷ accounts contacted in the period",
        f"feedback.parquet (kind 'complaint'); {_CONTACTS}",
        Measure("feedback", "count(*) FILTER (WHERE kind = 'complaint')"),
        Measure("contact", "count(DISTINCT account_id)"),
    ),
    KpiSpec(
        "complaints_per_10000_contacts",
        "Complaints per 10,000 contacts 每万次联系投诉",
        "per_10000",
        "complaints received in the period × 10,000 ÷ contact attempts in the period",
        f"feedback.parquet (kind 'complaint'); {_CONTACTS}",
        Measure("feedback", "count(*) FILTER (WHERE kind = 'complaint')"),
        Measure("contact", "count(*)"),
    ),
    KpiSpec(
        "contact_cost",
        "Cost of contacts 联系成本",
        "money",
        "contact attempts × the channel's unit cost",
        f"{_CONTACTS}; channel costs (costs.yaml or HUANCUI_CHANNEL_COSTS)",
        _COST,
        note="unit costs are configurable placeholders until the bank supplies its own",
    ),
    KpiSpec(
        "cost_to_collect",
        "Cost to collect 催收成本率",
        "rate",
        "cost of contacts ÷ collected",
        "contacts.parquet × channel costs; payments.parquet",
        _COST,
        _COLLECTED,
    ),
    KpiSpec(
        "net_recovery",
        "Net recovery 净回收",
        "net",
        "collected − cost of contacts",
        "payments.parquet; contacts.parquet × channel costs",
        _COLLECTED,
        _COST,
    ),
    KpiSpec(
        "hardship_uptake",
        "缓催 uptake 缓催使用率",
        "rate",
        "accounts delinquent at some time in the period with a 缓催 pause approved in it ÷"
        " accounts delinquent at some time in the period",
        "case plane: hardship_applications (approved, decided_at); holds.parquet (hold_type"
        " 'hardship', start_date); delinquency_spells.parquet",
        Measure("exposure", "count(*) FILTER (WHERE paused)"),
        Measure("exposure", "count(*)"),
        "the bank's own hardship holds carry no approval date: their first day stands for it",
    ),
    KpiSpec(
        "post_hold_cure_rate",
        "Cured within 30 days of a pause's end 缓催结束后治愈率",
        "rate",
        f"pauses whose last day falls in the period with a cured event within {FOLLOW_UP_DAYS}"
        f" days after it ÷ such pauses whose {FOLLOW_UP_DAYS} days lie within the data",
        "hardship_applications, holds.parquet (hardship), delinquency_spells.parquet",
        Measure("post_hold", "count(*) FILTER (WHERE observed AND cured)"),
        Measure("post_hold", "count(*) FILTER (WHERE observed)"),
    ),
    KpiSpec(
        "post_hold_arrangement_rate",
        "Arrangement within 30 days of a pause's end 缓催结束后达成协议率",
        "rate",
        f"pauses ended in the period followed within {FOLLOW_UP_DAYS} days by an approved"
        " arrangement (or with one linked to the pause) ÷ such pauses observed for"
        f" {FOLLOW_UP_DAYS} days",
        "hardship_applications, holds.parquet (hardship), arrangements",
        Measure("post_hold", "count(*) FILTER (WHERE observed AND arranged)"),
        Measure("post_hold", "count(*) FILTER (WHERE observed)"),
    ),
    KpiSpec(
        "post_hold_roll_rate",
        "Rolled within 30 days of a pause's end 缓催结束后恶化率",
        "rate",
        f"pauses ended in the period followed within {FOLLOW_UP_DAYS} days by an entered,"
        f" rolled_forward or charged_off event ÷ such pauses observed for {FOLLOW_UP_DAYS} days",
        "hardship_applications, holds.parquet (hardship), delinquency_spells.parquet",
        Measure("post_hold", "count(*) FILTER (WHERE observed AND rolled)"),
        Measure("post_hold", "count(*) FILTER (WHERE observed)"),
    ),
)
KPI_KEYS = tuple(k.key for k in KPIS)

# What the data cannot tell yet (docs/kpis.md has the reasons at length).
NOT_AVAILABLE: tuple[tuple[str, str], ...] = (
    (
        "roll_matrix balance",
        "balances are delivered only as of each snapshot's date; a month end without its own"
        " snapshot has no balance, so its flows are weighted by accounts and reconstructed arrears",
    ),
    (
        "collections by channel or collector",
        "payments are not attributed to a contact; recovery, cure and net recovery are shown"
        " for all channels",
    ),
    (
        "promise amounts",
        "contacts carry no promised amount or date; the 7-day proxy counts any payment",
    ),
    (
        "segment before the first nightly run",
        "segments, stages and experiment cells exist only where a run planned the account",
    ),
)


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiRow:
    period: str
    group: str
    numerator: int
    denominator: int | None
    value: Decimal | int | None  # a rate/mean/per-N as Decimal; money as fen; None: 0 ÷ 0


@dataclass(frozen=True)
class KpiResult:
    key: str
    label: str
    unit: Unit
    formula: str
    source: str
    money: tuple[bool, bool]  # whether numerator / denominator are fen
    sliceable_by: tuple[str, ...]
    sliced_by: str | None
    notes: tuple[str, ...]
    rows: tuple[KpiRow, ...]

    _index: dict[tuple[str, str], KpiRow] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {(r.period, r.group): r for r in self.rows})

    def row(self, period: str = TOTAL, group: str = ALL) -> KpiRow | None:
        return self._index.get((period, group))

    def value(self, period: str = TOTAL, group: str = ALL) -> Decimal | int | None:
        found = self.row(period, group)
        return None if found is None else found.value

    def groups(self) -> list[str]:
        return list(dict.fromkeys(r.group for r in self.rows))

    def _amount(self, value: int | None, money: bool) -> str | int | None:
        if value is None:
            return None
        return format_yuan(value) if money else value

    def value_text(self, value: Decimal | int | None) -> str | None:
        if value is None:
            return None
        if self.unit in ("money", "net"):
            assert isinstance(value, int)
            return format_yuan(value)
        return str(value)

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "unit": self.unit,
            "formula": self.formula,
            "source": self.source,
            "sliceable_by": list(self.sliceable_by),
            "sliced_by": self.sliced_by,
            "notes": list(self.notes),
            "rows": [
                {
                    "period": r.period,
                    "group": r.group,
                    "numerator": self._amount(r.numerator, self.money[0]),
                    "denominator": self._amount(r.denominator, self.money[1]),
                    "value": self.value_text(r.value),
                }
                for r in self.rows
            ],
        }


def _aggregate(data: KpiData, measure: Measure, by: str | None) -> dict[tuple[str, str], int]:
    """(period, group) → the measure; group 'all' for the whole period."""
    if by is None:
        sql = f"SELECT period, NULL, {measure.sql} FROM {measure.facts}_facts GROUP BY period"
    else:
        sql = (
            f"SELECT period, CASE WHEN grouping({by}) = 0 THEN CAST({by} AS VARCHAR) END,"
            f" {measure.sql} FROM {measure.facts}_facts"
            f" GROUP BY GROUPING SETS ((period), (period, {by}))"
        )
    return {(p, g if g is not None else ALL): int(v or 0) for p, g, v in data.rows(sql)}


def _value(unit: Unit, numerator: int, denominator: int | None) -> Decimal | int | None:
    if unit == "money":
        return numerator
    assert denominator is not None
    if unit == "net":
        return numerator - denominator
    return ratio(numerator, denominator, scale=_SCALE[unit])


def _evaluate(data: KpiData, spec: KpiSpec, periods: Sequence[Period], by: str | None) -> KpiResult:
    notes = [spec.note] if spec.note else []
    sliced = by if by is not None and by in spec.sliceable_by else None
    if by is not None and sliced is None:
        notes.append(spec.why_not(by))
    numerators = _aggregate(data, spec.numerator, sliced)
    denominators = _aggregate(data, spec.denominator, sliced) if spec.denominator else {}
    groups = sorted(({g for _, g in numerators} | {g for _, g in denominators}) - {ALL})
    rows = []
    for period in periods:
        for group in (ALL, *groups):
            key = (period.label, group)
            if group != ALL and key not in numerators and key not in denominators:
                continue
            num = numerators.get(key, 0)
            den = denominators.get(key, 0) if spec.denominator else None
            rows.append(KpiRow(period.label, group, num, den, _value(spec.unit, num, den)))
    return KpiResult(
        key=spec.key,
        label=spec.label,
        unit=spec.unit,
        formula=spec.formula,
        source=spec.source,
        money=(spec.numerator.money, bool(spec.denominator and spec.denominator.money)),
        sliceable_by=spec.sliceable_by,
        sliced_by=sliced,
        notes=tuple(notes),
        rows=tuple(rows),
    )


# --- roll rates -----------------------------------------------------------------------------

ROLL_FIELDS = ACCOUNT_FIELDS


@dataclass(frozen=True)
class RollCell:
    month_end: date | None  # the month end t; None: pooled over every pair in the window
    group: str
    from_state: str
    to_state: str
    accounts: int
    arrears_fen: int  # arrears at t of the accounts that made this move
    balance_fen: int | None  # balance at t; None unless every t involved has its own snapshot


@dataclass(frozen=True)
class RollMatrix:
    """Bucket at month end t → state at month end t+1 (a bucket, or charged_off)."""

    month_ends: tuple[date, ...]
    from_states: tuple[str, ...]
    to_states: tuple[str, ...]
    sliceable_by: tuple[str, ...]
    sliced_by: str | None
    notes: tuple[str, ...]
    cells: tuple[RollCell, ...]

    @property
    def pairs(self) -> list[tuple[date, date]]:
        return list(pairwise(self.month_ends))

    def groups(self) -> list[str]:
        return list(dict.fromkeys([ALL, *(c.group for c in self.cells)]))

    def _select(self, month_end: date | None, group: str) -> list[RollCell]:
        return [c for c in self.cells if c.month_end == month_end and c.group == group]

    def counts(
        self, *, month_end: date | None = None, group: str = ALL
    ) -> dict[str, dict[str, int]]:
        """from_state → to_state → accounts (pooled over the window when month_end is None)."""
        table = {f: dict.fromkeys(self.to_states, 0) for f in self.from_states}
        for c in self._select(month_end, group):
            table[c.from_state][c.to_state] = c.accounts
        return table

    def shares(
        self,
        *,
        month_end: date | None = None,
        group: str = ALL,
        weight: Literal["accounts", "arrears", "balance"] = "accounts",
    ) -> dict[str, dict[str, Decimal | None]]:
        """Each row's flows as shares of the row (None: an empty row, or no balance known)."""
        cells = self._select(month_end, group)
        amounts: dict[str, dict[str, int | None]] = {
            f: dict.fromkeys(self.to_states, 0) for f in self.from_states
        }
        for c in cells:
            amounts[c.from_state][c.to_state] = {
                "accounts": c.accounts,
                "arrears": c.arrears_fen,
                "balance": c.balance_fen,
            }[weight]
        shares: dict[str, dict[str, Decimal | None]] = {}
        for f, row in amounts.items():
            known = [v for v in row.values() if v is not None]
            whole = sum(known) if len(known) == len(row) else 0
            shares[f] = {t: None if v is None else ratio(v, whole) for t, v in row.items()}
        return shares

    def as_json(self) -> dict[str, Any]:
        rows: dict[tuple[date | None, str, str], tuple[int, int]] = {}
        for c in self.cells:
            accounts, arrears = rows.get((c.month_end, c.group, c.from_state), (0, 0))
            rows[(c.month_end, c.group, c.from_state)] = (
                accounts + c.accounts,
                arrears + c.arrears_fen,
            )
        cells = []
        for c in self.cells:
            accounts, arrears = rows[(c.month_end, c.group, c.from_state)]
            cells.append(
                {
                    "month_end": c.month_end.isoformat() if c.month_end else TOTAL,
                    "next_month_end": _next(self.month_ends, c.month_end),
                    "group": c.group,
                    "from": c.from_state,
                    "to": c.to_state,
                    "accounts": c.accounts,
                    "arrears": format_yuan(c.arrears_fen),
                    "balance": None if c.balance_fen is None else format_yuan(c.balance_fen),
                    "share_of_accounts": _text(ratio(c.accounts, accounts)),
                    "share_of_arrears": _text(ratio(c.arrears_fen, arrears)),
                }
            )
        return {
            "month_ends": [d.isoformat() for d in self.month_ends],
            "from_states": list(self.from_states),
            "to_states": list(self.to_states),
            "sliceable_by": list(self.sliceable_by),
            "sliced_by": self.sliced_by,
            "notes": list(self.notes),
            "cells": cells,
        }


def _next(ends: Sequence[date], end: date | None) -> str | None:
    if end is None:
        return None
    return ends[ends.index(end) + 1].isoformat()


def _roll(data: KpiData, start: date, end: date, by: str | None) -> RollMatrix:
    notes: list[str] = []
    sliced = by if by in ROLL_FIELDS else None
    if by is not None and sliced is None:
        notes.append(
            f"not sliceable by {by}: flows follow accounts, not contact attempts; shown for all"
        )
    ends = month_ends(start - timedelta(days=1), min(end, data.history_as_of))
    buckets = data.buckets
    to_states = (*buckets, CHARGED_OFF)
    if len(ends) < 2:
        notes.append(
            "the window holds fewer than two month ends up to the data's last day"
            f" ({data.history_as_of}): no month-over-month flows"
        )
        return RollMatrix(tuple(ends), buckets, to_states, ROLL_FIELDS, sliced, tuple(notes), ())
    ensure_states(data, ends)
    inexact = [d for d in ends[:-1] if d not in data.snapshots]
    if inexact:
        notes.append(
            "arrears at month ends without their own snapshot are rebuilt from dues and payments;"
            " balances are unknown there ("
            + ", ".join(d.isoformat() for d in inexact[:3])
            + (", …" if len(inexact) > 3 else "")
            + ")"
        )
    pairs = ", ".join(f"({_day(a)}, {_day(b)})" for a, b in pairwise(ends))
    moves = f"""
        SELECT a.as_of AS month_end, a.account_id, a.as_of AS ref_date, a.bucket AS from_state,
               CASE WHEN b.charged_off THEN '{CHARGED_OFF}' ELSE b.bucket END AS to_state,
               a.arrears_fen, a.balance_fen, a.exact
        FROM (VALUES {pairs}) t(month_end, next_end)
        JOIN states a ON a.as_of = t.month_end AND NOT a.charged_off
        JOIN states b ON b.as_of = t.next_end AND b.account_id = a.account_id
    """
    group = f"CAST({sliced} AS VARCHAR)" if sliced else "NULL"
    sets = "(from_state, to_state), (month_end, from_state, to_state)"
    if sliced:
        sets += f", (from_state, to_state, {sliced}), (month_end, from_state, to_state, {sliced})"
    rows = data.rows(
        f"""
        SELECT month_end, CASE WHEN {"grouping(" + sliced + ") = 0" if sliced else "false"}
                               THEN {group} END AS grp,
               from_state, to_state, count(*), sum(arrears_fen),
               CASE WHEN bool_and(exact) THEN sum(balance_fen) END
        FROM ({with_dims(moves, on="ref_date")})
        GROUP BY GROUPING SETS ({sets})
        """
    )
    order = {s: i for i, s in enumerate(to_states)}
    cells = sorted(
        (
            RollCell(
                m,
                g if g is not None else ALL,
                f,
                t,
                int(n),
                int(a or 0),
                None if b is None else int(b),
            )
            for m, g, f, t, n, a, b in rows
        ),
        key=lambda c: (
            c.month_end or date.min,
            c.group != ALL,
            c.group,
            order[c.from_state],
            order[c.to_state],
        ),
    )
    return RollMatrix(
        tuple(ends), buckets, to_states, ROLL_FIELDS, sliced, tuple(notes), tuple(cells)
    )


# --- delinquency by bucket ------------------------------------------------------------------

DELINQUENCY_FIELDS = ("product", "region")
ALL_DELINQUENT = "all"


@dataclass(frozen=True)
class DelinquencyPoint:
    as_of: date
    group: str
    bucket: str  # a bucket group (M1, M2, M3, M4+) or 'all' (every delinquent bucket)
    accounts: int
    base: int  # accounts open and not charged off that day
    rate: Decimal | None
    change: Decimal | None  # rate − the rate at the previous date of the series
    vs_baseline: Decimal | None  # rate − the rate the day before the strategy took effect


@dataclass(frozen=True)
class DelinquencySeries:
    dates: tuple[date, ...]  # the opening, then each period's last day
    bucket_groups: tuple[str, ...]
    baseline_date: date | None
    baseline_strategy: str | None
    sliceable_by: tuple[str, ...]
    sliced_by: str | None
    notes: tuple[str, ...]
    points: tuple[DelinquencyPoint, ...]
    baseline: tuple[DelinquencyPoint, ...]

    def point(
        self, as_of: date, bucket: str = ALL_DELINQUENT, group: str = ALL
    ) -> DelinquencyPoint | None:
        return next(
            (
                p
                for p in self.points
                if p.as_of == as_of and p.bucket == bucket and p.group == group
            ),
            None,
        )

    def as_json(self) -> dict[str, Any]:
        def point(p: DelinquencyPoint) -> dict[str, Any]:
            return {
                "as_of": p.as_of.isoformat(),
                "group": p.group,
                "bucket": p.bucket,
                "accounts": p.accounts,
                "base": p.base,
                "rate": _text(p.rate),
                "change": _text(p.change),
                "vs_baseline": _text(p.vs_baseline),
            }

        return {
            "dates": [d.isoformat() for d in self.dates],
            "bucket_groups": list(self.bucket_groups),
            "baseline": {
                "date": self.baseline_date.isoformat() if self.baseline_date else None,
                "strategy": self.baseline_strategy,
                "points": [point(p) for p in self.baseline],
            },
            "sliceable_by": list(self.sliceable_by),
            "sliced_by": self.sliced_by,
            "notes": list(self.notes),
            "points": [point(p) for p in self.points],
        }


def bucket_groups(buckets: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """M1, M2, M3 on their own and M4 onwards together (as M4+), from the policy's ladder."""
    late = tuple(buckets[4:])
    groups: list[tuple[str, tuple[str, ...]]] = [(b, (b,)) for b in buckets[1:4]]
    if late:
        groups.append((late[0] if len(late) == 1 else f"{late[0].rstrip('+')}+", late))
    return groups


def _delinquency(data: KpiData, dates: Sequence[date], by: str | None) -> DelinquencySeries:
    notes: list[str] = []
    sliced = by if by in DELINQUENCY_FIELDS else None
    if by is not None and sliced is None:
        notes.append(
            f"not sliceable by {by}: segments, stages and contacts exist only for accounts in"
            " collections, while the rate's base is every account; shown for all"
        )
    strategy = data.active_strategy
    baseline_date = strategy.effective_date - timedelta(days=1) if strategy else None
    if strategy is None:
        notes.append("no active strategy: no baseline")
    elif data.history_start is None or baseline_date is None or baseline_date < data.history_start:
        notes.append(
            f"the baseline day {baseline_date} (before {strategy.label} took effect) lies before"
            " the delivered history: no baseline"
        )
        baseline_date = None
    elif baseline_date > data.history_as_of:
        notes.append(f"the baseline day {baseline_date} lies after the data: no baseline")
        baseline_date = None
    everything = sorted(set(dates) | ({baseline_date} if baseline_date else set()))
    ensure_states(data, everything)
    groups = bucket_groups(data.buckets)
    counts = ", ".join(
        f"count(*) FILTER (WHERE s.bucket IN ({', '.join(lit(b) for b in members)}))"
        for _, members in groups
    )
    day_list = ", ".join(_day(d) for d in everything)
    if sliced:
        grouping = f"GROUP BY GROUPING SETS ((s.as_of), (s.as_of, a.{sliced}))"
        label = f"CASE WHEN grouping(a.{sliced}) = 0 THEN a.{sliced} END"
    else:
        grouping, label = "GROUP BY s.as_of", "NULL"
    rows = data.rows(
        f"""
        SELECT s.as_of, {label}, count(*), count(*) FILTER (WHERE s.delinquent), {counts}
        FROM states s JOIN accounts a USING (account_id)
        WHERE s.as_of IN ({day_list}) AND NOT s.charged_off
        {grouping}
        """
    )
    labels = [ALL_DELINQUENT, *(g for g, _ in groups)]
    found: dict[tuple[date, str, str], tuple[int, int]] = {}
    for as_of, group, base, *numbers in rows:
        for name, n in zip(labels, numbers, strict=True):
            found[(as_of, group or ALL, name)] = (int(n), int(base))
    group_names = sorted({g for _, g, _ in found} - {ALL})

    def make(as_of: date, group: str, name: str, previous: date | None) -> DelinquencyPoint:
        n, base = found.get((as_of, group, name), (0, 0))
        rate = ratio(n, base)

        def minus(other: date | None) -> Decimal | None:
            if other is None:
                return None
            m, other_base = found.get((other, group, name), (0, 0))
            earlier = ratio(m, other_base)
            return None if rate is None or earlier is None else rate - earlier

        return DelinquencyPoint(
            as_of, group, name, n, base, rate, minus(previous), minus(baseline_date)
        )

    points = []
    for i, as_of in enumerate(dates):
        for group in (ALL, *group_names):
            for name in labels:
                points.append(make(as_of, group, name, dates[i - 1] if i else None))
    baseline = (
        [make(baseline_date, g, n, None) for g in (ALL, *group_names) for n in labels]
        if baseline_date
        else []
    )
    return DelinquencySeries(
        tuple(dates),
        tuple(g for g, _ in groups),
        baseline_date,
        strategy.label if strategy else None,
        DELINQUENCY_FIELDS,
        sliced,
        tuple(notes),
        tuple(points),
        tuple(baseline),
    )


def series_dates(periods: Sequence[Period]) -> list[date]:
    """The opening of the window, then the last day of each period (not the 'total')."""
    return [periods[0].opening, *(p.last_day for p in periods if p.label != TOTAL)]


# --- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiReport:
    start: date
    end: date
    data_through: date
    grain: Grain
    by: str | None
    history_snapshot: date
    exact_snapshots: tuple[date, ...]  # snapshots that gave a day's arrears and balance exactly
    strategy: StrategyInfo | None
    channel_costs_fen: dict[str, int]
    channel_costs_source: str
    periods: tuple[Period, ...]
    kpis: dict[str, KpiResult]
    roll: RollMatrix
    delinquency: DelinquencySeries
    notes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "data_through": self.data_through.isoformat(),
            "grain": self.grain,
            "by": self.by,
            "sources": {
                "history_snapshot": self.history_snapshot.isoformat(),
                "exact_snapshots": [d.isoformat() for d in self.exact_snapshots],
                "strategy": None
                if self.strategy is None
                else {
                    "label": self.strategy.label,
                    "effective_date": self.strategy.effective_date.isoformat(),
                },
                "channel_costs": {
                    "source": self.channel_costs_source,
                    "per_attempt": {c: format_yuan(f) for c, f in self.channel_costs_fen.items()},
                },
            },
            "periods": [p.as_json() for p in self.periods],
            "kpis": {key: result.as_json() for key, result in self.kpis.items()},
            "roll_matrix": self.roll.as_json(),
            "delinquency": self.delinquency.as_json(),
            "notes": list(self.notes),
            "not_available": [{"what": what, "why": why} for what, why in NOT_AVAILABLE],
        }


def _window(data: KpiData, start: date, end: date, grain: Grain) -> list[Period]:
    through = min(end, data.history_as_of)
    if through < end:
        data.notes.append(
            f"data through {through}: the newest snapshot is of {data.history_as_of}; later days"
            " are not counted"
        )
    return split_periods(start, through, grain)


def compute_kpis(
    settings: Settings,
    start: date,
    end: date,
    *,
    by: str | None = None,
    grain: Grain = "month",
) -> KpiReport:
    """Every KPI over [start, end] per period (the whole window, then each day or month),
    sliced by `by` where the KPI has that field."""
    check_window(start, end, by=by, grain=grain)
    with open_kpi_data(settings, start=start, end=end) as data:
        periods = _window(data, start, end, grain)
        _build_facts(data, periods)
        kpis = {spec.key: _evaluate(data, spec, periods, by) for spec in KPIS}
        roll = _roll(data, start, end, by)
        delinquency = _delinquency(data, series_dates(periods), by)
        return KpiReport(
            start=start,
            end=end,
            data_through=periods[0].last_day,
            grain=grain,
            by=by,
            history_snapshot=data.history_as_of,
            exact_snapshots=tuple(data.exact_dates_used),
            strategy=data.active_strategy,
            channel_costs_fen=data.costs.fen(),
            channel_costs_source=data.costs_source,
            periods=tuple(periods),
            kpis=kpis,
            roll=roll,
            delinquency=delinquency,
            notes=tuple(data.notes),
        )


def roll_matrix(settings: Settings, start: date, end: date, *, by: str | None = None) -> RollMatrix:
    """Month-over-month flows between the month ends in [start − 1 day, end]."""
    check_window(start, end, by=by, grain="month")
    with open_kpi_data(settings, start=start, end=end) as data:
        return _roll(data, start, end, by)


def delinquency_series(
    settings: Settings,
    start: date,
    end: date,
    *,
    by: str | None = None,
    grain: Grain = "month",
) -> DelinquencySeries:
    """Delinquency rate by bucket at the window's opening and each period's last day."""
    check_window(start, end, by=by, grain=grain)
    with open_kpi_data(settings, start=start, end=end) as data:
        periods = _window(data, start, end, grain)
        return _delinquency(data, series_dates(periods), by)


def display_value(result: KpiResult, value: Decimal | int | None) -> str:
    """A KPI value for people (`huancui kpi`, the HTML report): rates in % with two decimals,
    money in yuan with thousands separators, other ratios with two decimals; no value: '—'."""
    if value is None:
        return "—"
    if result.unit in ("money", "net"):
        return display_yuan(int(value))
    if result.unit == "rate":
        return f"{Decimal(value) * 100:.2f}%"
    return f"{Decimal(value):.2f}"


def display_amount(value: int | None, *, money: bool) -> str:
    """A numerator or denominator for people: yuan for money, a count otherwise."""
    if value is None:
        return ""
    return display_yuan(value) if money else f"{value:,}"
