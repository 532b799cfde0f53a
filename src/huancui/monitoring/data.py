"""What the KPIs read: one DuckDB connection holding a snapshot's history, the case plane's
arrangements, 缓催 pauses and nightly runs, and every account's state at the dates a report needs.

One snapshot carries the whole history the bank delivered (payments, contacts, feedback, the
delinquency spells since its first due), so a report over any window reads the *history
snapshot*: the first one imported on or after the window's last day, else the newest one. A
snapshot of an exact date, when one was imported, gives that day's arrears and balances; see
docs/kpis.md for what is reconstructed when none was.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.arrangements.tables import ArrangementRow, HardshipRow
from huancui.kit.database import migrate, unit_of_work
from huancui.kit.errors import InvalidInput, NotFound
from huancui.kit.money import MoneyFormatError, parse_yuan
from huancui.kit.settings import Settings
from huancui.kit.sql import lit
from huancui.portal.tables import CsatRatingRow
from huancui.portfolio.contract import CONTACTS
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.portfolio.snapshot_store import snapshot_dir
from huancui.portfolio.tables import SnapshotRow
from huancui.strategy.repository import StrategyRepository
from huancui.strategy.tables import PlanRunRow

# Contact and event dates are days in the bank's zone (the strategies' operating hours default).
BANK_TIMEZONE = "Asia/Shanghai"
# Channels a contact can use (the data contract's list): every one needs a unit cost.
CONTACT_CHANNELS: tuple[str, ...] = next(c for c in CONTACTS.columns if c.name == "channel").values
# Channels where an attempt can reach a person (connected, right party).
CONVERSATION_CHANNELS = ("call", "visit")
# The fields a KPI can be sliced by: the first six describe the account (looked up at a date),
# the last two the contact attempt.
ACCOUNT_FIELDS = ("segment", "stage", "product", "region", "strategy_version", "experiment")
CONTACT_FIELDS = ("channel", "collector")
FIELDS = ACCOUNT_FIELDS + CONTACT_FIELDS
# The label of an account that no nightly run planned on the date looked at.
UNPLANNED = "unplanned"
CHARGED_OFF = "charged_off"
DEFAULT_COSTS = files("huancui.monitoring") / "costs.yaml"

# Optional snapshot files read as empty tables of these columns when a delivery had none.
_EMPTY: dict[str, str] = {
    "contacts": "contact_id VARCHAR, account_id VARCHAR, contacted_at TIMESTAMPTZ, channel VARCHAR,"
    " connected BOOLEAN, right_party BOOLEAN, outcome VARCHAR, agent_id VARCHAR",
    "holds": "hold_id VARCHAR, account_id VARCHAR, hold_type VARCHAR, channel VARCHAR,"
    " start_date DATE, end_date DATE, reason VARCHAR",
    "feedback": "feedback_id VARCHAR, account_id VARCHAR, received_date DATE, kind VARCHAR,"
    " score INTEGER, channel VARCHAR, category VARCHAR, contact_id VARCHAR",
}


class ChannelCosts(BaseModel):
    """What one contact attempt costs per channel, in yuan (costs.yaml; placeholders)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str = "CNY"
    channels: dict[str, str]

    @field_validator("channels", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @field_validator("channels")
    @classmethod
    def _check(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [c for c in CONTACT_CHANNELS if c not in value]
        unknown = [c for c in value if c not in CONTACT_CHANNELS]
        if missing or unknown:
            raise ValueError(
                f"channels must give a cost for each of {', '.join(CONTACT_CHANNELS)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
            )
        for channel, text in value.items():
            try:
                fen = parse_yuan(text)
            except MoneyFormatError as exc:
                raise ValueError(f"channels.{channel}: {exc}; write yuan such as 2.50") from None
            if fen < 0:
                raise ValueError(f"channels.{channel}: {text} is negative")
        return value

    def fen(self) -> dict[str, int]:
        return {channel: parse_yuan(text) for channel, text in self.channels.items()}


def load_channel_costs(path: Path | None) -> tuple[ChannelCosts, str]:
    """The unit costs from `path` (HUANCUI_CHANNEL_COSTS), else the shipped placeholders."""
    source = str(path) if path is not None else "costs.yaml (shipped placeholders)"
    try:
        text = path.read_text(encoding="utf-8") if path else DEFAULT_COSTS.read_text("utf-8")
        costs = ChannelCosts.model_validate(yaml.safe_load(text) or {})
    except OSError as exc:
        raise InvalidInput(f"channel costs {source}: {exc.strerror or exc}") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise InvalidInput(f"channel costs {source}: {exc}") from None
    if costs.currency != "CNY":
        raise InvalidInput(f"channel costs {source}: currency {costs.currency}; amounts are CNY")
    return costs, source


@dataclass(frozen=True)
class StrategyInfo:
    label: str
    effective_date: date


@dataclass
class KpiData:
    """The open connection and what it holds; use through `open_kpi_data`."""

    con: duckdb.DuckDBPyConnection
    history_as_of: date  # the history snapshot: no data after this day
    snapshots: dict[date, Path]  # every imported snapshot folder, for exact states at a date
    policy: DelinquencyPolicy
    active_strategy: StrategyInfo | None
    costs: ChannelCosts
    costs_source: str
    history_start: date | None  # the first due in the history: every account current before it
    notes: list[str] = field(default_factory=list)
    _state_dates: set[date] = field(default_factory=set)
    _arrears_steps: bool = False  # built on first need (a day without its own snapshot)

    @property
    def buckets(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.policy.buckets)

    @property
    def current_bucket(self) -> str:
        return self.policy.buckets[0].name

    @property
    def exact_dates_used(self) -> list[date]:
        """The days whose state came from a snapshot of their own, so far."""
        return sorted(d for d in self._state_dates if d in self.snapshots)

    def exact_dates(self, dates: Sequence[date]) -> list[date]:
        """The dates among `dates` that have a snapshot of their own."""
        return sorted(d for d in set(dates) if d in self.snapshots)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()


def _pick_history(snapshots: dict[date, Path], end: date) -> date:
    if not snapshots:
        raise NotFound("no snapshot imported yet; run `huancui import DIR --as-of DATE` first")
    later = [d for d in snapshots if d >= end]
    return min(later) if later else max(snapshots)


@contextmanager
def open_kpi_data(settings: Settings, *, start: date, end: date) -> Iterator[KpiData]:
    """Everything a report over [start, end] reads, in one in-memory DuckDB connection."""
    url = settings.resolved_database_url
    migrate(url)
    with unit_of_work(url) as session:
        snapshot_rows = session.execute(select(SnapshotRow.as_of, SnapshotRow.policy)).all()
        folders = {as_of: snapshot_dir(settings.snapshots_dir, as_of) for as_of, _ in snapshot_rows}
        snapshots = {d: f for d, f in folders.items() if (f / "accounts.parquet").exists()}
        history = _pick_history(snapshots, end)
        if history < start:
            raise NotFound(
                f"the newest snapshot is of {history}, before --from {start}: no data for this"
                " window; import a later delivery or choose an earlier window"
            )
        policy_json: dict[str, Any] = {as_of: policy for as_of, policy in snapshot_rows}[history]
        active = StrategyRepository(session).active()
        case = _case_plane(session, settings, start=start, end=end)
    costs, costs_source = load_channel_costs(settings.channel_costs)
    con = duckdb.connect(
        config={
            "memory_limit": settings.duckdb_memory_limit,
            "threads": settings.duckdb_threads,
        }
    )
    try:
        con.execute("SET TimeZone = 'UTC'")
        data = KpiData(
            con=con,
            history_as_of=history,
            snapshots=snapshots,
            policy=DelinquencyPolicy.model_validate(policy_json or {}),
            active_strategy=StrategyInfo(f"{active.name} v{active.version}", active.effective_date)
            if active
            else None,
            costs=costs,
            costs_source=costs_source,
            history_start=None,
        )
        _register_snapshot(data, snapshots[history])
        _register_case_plane(data, case, costs)
        first_due = data.rows("SELECT min(due_date) FROM dues")[0][0]
        data.history_start = first_due
        con.execute(
            "CREATE TABLE states (as_of DATE, account_id VARCHAR, bucket VARCHAR,"
            " charged_off BOOLEAN, delinquent BOOLEAN, arrears_fen BIGINT, balance_fen BIGINT,"
            " exact BOOLEAN)"
        )
        yield data
    finally:
        con.close()


def _view(
    con: duckdb.DuckDBPyConnection,
    name: str,
    folder: Path,
    select_sql: str,
    *,
    view: str | None = None,
) -> None:
    """`view` (default `name`) as `select_sql` over the snapshot's file `name` (the FROM is
    added), or empty."""
    path = folder / f"{name}.parquet"
    if path.exists():
        source = f"read_parquet({lit(str(path))})"
    else:
        con.execute(f"CREATE TABLE _empty_{name} ({_EMPTY[name]})")
        source = f"_empty_{name}"
    con.execute(f"CREATE VIEW {view or name} AS {select_sql} FROM {source}")


def _register_snapshot(data: KpiData, folder: Path) -> None:
    con = data.con
    tz = lit(BANK_TIMEZONE)
    con.execute(
        "CREATE TABLE accounts AS SELECT account_id, product, province AS region, open_date,"
        f" charged_off FROM read_parquet({lit(str(folder / 'accounts.parquet'))})"
    )
    con.execute(
        "CREATE TABLE spells AS SELECT account_id, bucket, event, started_on, ended_on"
        f" FROM read_parquet({lit(str(folder / 'delinquency_spells.parquet'))})"
    )
    con.execute(
        "CREATE TABLE payments AS SELECT payment_id, account_id, paid_date, amount"
        f" FROM read_parquet({lit(str(folder / 'payments.parquet'))})"
    )
    con.execute(
        "CREATE VIEW dues AS SELECT account_id, period_no, statement_date, due_date,"
        " principal_due + coalesce(interest_due, 0) + coalesce(fee_due, 0) AS amount"
        f" FROM read_parquet({lit(str(folder / 'dues.parquet'))})"
    )
    _view(
        con,
        "contacts",
        folder,
        f"SELECT contact_id, account_id, CAST(timezone({tz}, contacted_at) AS DATE) AS contact_date,"
        " channel, coalesce(connected, false) AS connected,"
        " coalesce(right_party, false) AS right_party, coalesce(outcome, 'other') AS outcome,"
        " coalesce(agent_id, 'none') AS collector",
    )
    _view(
        con,
        "holds",
        folder,
        "SELECT account_id, hold_type, start_date, end_date",
    )
    _view(
        con,
        "feedback",
        folder,
        "SELECT feedback_id, account_id, received_date, kind, score, channel, category, contact_id",
        view="feedback_delivered",
    )
    if not (folder / "feedback.parquet").exists():
        data.notes.append(
            f"the snapshot of {data.history_as_of} has no feedback file: complaints have nothing"
            " to count, and satisfaction only the ratings given on huancui's own portal"
        )


@dataclass(frozen=True)
class _CasePlane:
    arrangements: pa.Table
    hardship: pa.Table
    runs: pa.Table
    ratings: pa.Table
    plan_files: list[tuple[date, Path]]
    missing_plans: list[date]


def _arrow(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.table(
        [pa.array(list(values), type=f.type) for values, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


_ARRANGEMENTS = pa.schema(
    [
        ("arrangement_id", pa.int64()),
        ("account_id", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("record_segment", pa.string()),
        ("proposed_on", pa.date32()),
        ("hardship_id", pa.int64()),
    ]
)
_HARDSHIP = pa.schema(
    [
        ("hardship_id", pa.int64()),
        ("account_id", pa.string()),
        ("status", pa.string()),
        # SQLite hands back naive UTC datetimes; the type says they are UTC.
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),
        ("ended_on", pa.date32()),
    ]
)
_RATINGS = pa.schema(
    [
        ("rating_id", pa.int64()),
        ("account_id", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("score", pa.int64()),
    ]
)
_RUNS = pa.schema(
    [("run_as_of", pa.date32()), ("run_id", pa.int64()), ("strategy_version", pa.string())]
)


def _case_plane(session: Session, settings: Settings, *, start: date, end: date) -> _CasePlane:
    arrangements = session.execute(
        select(
            ArrangementRow.arrangement_id,
            ArrangementRow.account_id,
            ArrangementRow.kind,
            ArrangementRow.status,
            ArrangementRow.segment,
            ArrangementRow.proposed_on,
            ArrangementRow.hardship_id,
        )
    ).all()
    hardship = session.execute(
        select(
            HardshipRow.hardship_id,
            HardshipRow.account_id,
            HardshipRow.status,
            HardshipRow.decided_at,
            HardshipRow.start_date,
            HardshipRow.end_date,
            HardshipRow.ended_on,
        )
    ).all()
    ratings = session.execute(
        select(
            CsatRatingRow.rating_id,
            CsatRatingRow.account_id,
            CsatRatingRow.created_at,
            CsatRatingRow.score,
        )
    ).all()
    # The current run of each night up to `end`, from the last one before the window on: an
    # account's segment on a day is the one the newest run on or before that day gave it.
    runs = session.execute(
        select(PlanRunRow.as_of, PlanRunRow.run_id, PlanRunRow.strategy_label, PlanRunRow.plan_path)
        .where(PlanRunRow.is_current, PlanRunRow.as_of <= end)
        .order_by(PlanRunRow.as_of)
    ).all()
    before = [r for r in runs if r[0] < start]
    if before:
        runs = [r for r in runs if r[0] >= before[-1][0]]
    plan_files, missing = [], []
    for as_of, _, _, plan_path in runs:
        path = (settings.home / plan_path).resolve()
        (plan_files.append((as_of, path)) if path.exists() else missing.append(as_of))
    return _CasePlane(
        arrangements=_arrow(arrangements, _ARRANGEMENTS),
        hardship=_arrow(hardship, _HARDSHIP),
        runs=_arrow([r[:3] for r in runs], _RUNS),
        ratings=_arrow(ratings, _RATINGS),
        plan_files=plan_files,
        missing_plans=missing,
    )


def _register_case_plane(data: KpiData, case: _CasePlane, costs: ChannelCosts) -> None:
    con = data.con
    for name, table in (
        ("arrangements", case.arrangements),
        ("hardship", case.hardship),
        ("runs", case.runs),
        ("portal_ratings", case.ratings),
    ):
        con.register(f"_arrow_{name}", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _arrow_{name}")
        con.unregister(f"_arrow_{name}")
    # Satisfaction counts the bank's delivered feedback and the ratings customers gave on
    # huancui's own portal (csat_ratings), each once: their ids cannot collide.
    con.execute(
        "CREATE VIEW feedback AS SELECT * FROM feedback_delivered UNION ALL"
        " SELECT 'huancui-portal-' || rating_id, account_id,"
        f" CAST(timezone({lit(BANK_TIMEZONE)}, created_at) AS DATE), 'portal_rating', score,"
        " 'portal', NULL, NULL FROM portal_ratings"
    )
    con.execute(
        "CREATE TABLE channel_costs (channel VARCHAR, cost_fen BIGINT);"
        " INSERT INTO channel_costs SELECT * FROM (VALUES "
        + ", ".join(f"({lit(c)}, {fen})" for c, fen in costs.fen().items())
        + ")"
    )
    con.execute(
        "CREATE TABLE plan_dims (run_as_of DATE, account_id VARCHAR, segment VARCHAR,"
        " stage VARCHAR, experiment VARCHAR)"
    )
    if case.plan_files:
        files_list = ", ".join(lit(str(p)) for _, p in case.plan_files)
        index = ", ".join(f"({lit(str(p))}, DATE {lit(d.isoformat())})" for d, p in case.plan_files)
        con.execute(
            f"""
            INSERT INTO plan_dims
            SELECT i.run_as_of, p.account_id, any_value(p.segment), any_value(p.stage),
                   any_value(CASE WHEN p.experiment IS NOT NULL THEN p.experiment || '/' || p.arm
                             END)
            FROM read_parquet([{files_list}], filename = true, union_by_name = true) p
            JOIN (VALUES {index}) i(filename, run_as_of) USING (filename)
            GROUP BY i.run_as_of, p.account_id
            """
        )
    for day in case.missing_plans:
        data.notes.append(
            f"the plan file of the run of {day} is missing: accounts count as {UNPLANNED} there"
        )
    # 缓催 pauses from both places they are recorded: approved in huancui (hardship
    # applications) and placed by the bank (the delivery's hardship holds, with no approval
    # date: their first day stands for it). last_day: the pause's last day (planned or actual).
    con.execute(
        f"""
        CREATE TABLE pauses AS
        SELECT 'huancui' AS source, hardship_id, account_id,
               CAST(timezone({lit(BANK_TIMEZONE)}, decided_at) AS DATE) AS approved_on,
               start_date, coalesce(ended_on, end_date) AS last_day
        FROM hardship
        WHERE status IN ('approved', 'active', 'ended') AND decided_at IS NOT NULL
        UNION ALL
        SELECT 'bank', NULL, account_id, start_date, start_date, end_date
        FROM holds WHERE hold_type = 'hardship'
        """
    )


def _build_arrears_steps(data: KpiData) -> None:
    """Each account's cumulative amount due by due date and its applied payments by day.

    Arrears on a day d are everything due up to d less the payments applied by d, never below
    zero (docs/delinquency.md). Payments apply only to what was billed when they arrived: the
    delinquency engine's closed form, applied_i = cum_paid_i + min(0, running min of billed_j -
    cum_paid_j), evaluated once here so that any number of days can be read off it with two
    as-of joins. Its result on the snapshot's own date equals the snapshot's arrears_fen
    (tested on every account).
    """
    lead = data.policy.billing_lead_days
    data.con.execute(
        f"""
        CREATE TEMP TABLE _due_steps AS
        SELECT account_id, due_date,
               sum(amount) OVER w AS cum_due,
               max(coalesce(statement_date, due_date - {lead})) OVER w AS billed_on
        FROM dues
        WINDOW w AS (PARTITION BY account_id ORDER BY due_date, period_no
                     ROWS UNBOUNDED PRECEDING);
        CREATE TEMP TABLE due_by_date AS
        SELECT account_id, due_date, max(cum_due) AS cum_due FROM _due_steps GROUP BY ALL;
        CREATE TEMP TABLE _billed AS
        SELECT account_id, billed_on, max(cum_due) AS billed FROM _due_steps GROUP BY ALL;
        CREATE TEMP TABLE applied_by_date AS
        WITH paid AS (
            SELECT p.account_id, p.paid_date, p.payment_id,
                   sum(p.amount) OVER w AS cum_paid, coalesce(b.billed, 0) AS billed
            FROM payments p ASOF LEFT JOIN _billed b
              ON p.account_id = b.account_id AND p.paid_date >= b.billed_on
            WINDOW w AS (PARTITION BY p.account_id ORDER BY p.paid_date, p.payment_id
                         ROWS UNBOUNDED PRECEDING)
        )
        , applied AS (
            SELECT account_id, paid_date,
                   cum_paid + least(0, min(billed - cum_paid) OVER (
                       PARTITION BY account_id ORDER BY paid_date, payment_id
                       ROWS UNBOUNDED PRECEDING)) AS applied
            FROM paid
        )
        SELECT account_id, paid_date, max(applied) AS applied FROM applied GROUP BY ALL
        """
    )


def ensure_states(data: KpiData, dates: Sequence[date]) -> None:
    """Add every account's state on each of `dates` to the `states` table (once per date).

    bucket and charged_off come from the history snapshot's spells (the day's spell; none: M0),
    for accounts open by that day. arrears_fen and balance_fen come from the snapshot of that
    very day when one was imported (exact = true); otherwise arrears are reconstructed from the
    history's dues and payments (see _build_arrears_steps) and the balance is unknown (NULL).
    """
    fresh = sorted({d for d in dates if d not in data._state_dates})
    if not fresh:
        return
    data._state_dates.update(fresh)
    exact = data.exact_dates(fresh)
    if not data._arrears_steps:
        _build_arrears_steps(data)
        data._arrears_steps = True
    exact_sql = " UNION ALL ".join(
        f"SELECT DATE {lit(d.isoformat())} AS as_of, account_id, arrears_fen, balance_fen"
        f" FROM read_parquet({lit(str(data.snapshots[d] / 'accounts.parquet'))})"
        for d in exact
    )
    if not exact_sql:
        exact_sql = (
            "SELECT NULL::DATE AS as_of, NULL::VARCHAR AS account_id, NULL::BIGINT AS arrears_fen,"
            " NULL::BIGINT AS balance_fen WHERE false"
        )
    days = ", ".join(f"DATE {lit(d.isoformat())}" for d in fresh)
    m0 = lit(data.current_bucket)
    data.con.execute(
        f"""
        INSERT INTO states
        WITH days AS (SELECT unnest([{days}]) AS as_of),
        base AS (
            SELECT d.as_of, a.account_id, coalesce(s.bucket, {m0}) AS bucket,
                   coalesce(s.event = 'charged_off', false) AS charged_off
            FROM days d JOIN accounts a ON a.open_date <= d.as_of
            LEFT JOIN spells s ON s.account_id = a.account_id AND s.started_on <= d.as_of
                 AND (s.ended_on IS NULL OR s.ended_on > d.as_of)
        ),
        rebuilt AS (
            SELECT b.*, greatest(0, coalesce(dd.cum_due, 0) - coalesce(ap.applied, 0)) AS arrears
            FROM base b
            ASOF LEFT JOIN due_by_date dd
              ON b.account_id = dd.account_id AND b.as_of >= dd.due_date
            ASOF LEFT JOIN applied_by_date ap
              ON b.account_id = ap.account_id AND b.as_of >= ap.paid_date
        ),
        exact AS ({exact_sql})
        SELECT r.as_of, r.account_id, r.bucket, r.charged_off,
               NOT r.charged_off AND r.bucket <> {m0} AS delinquent,
               CAST(CASE WHEN x.account_id IS NOT NULL THEN x.arrears_fen ELSE r.arrears END
                    AS BIGINT) AS arrears_fen,
               x.balance_fen, x.account_id IS NOT NULL AS exact
        FROM rebuilt r LEFT JOIN exact x ON x.as_of = r.as_of AND x.account_id = r.account_id
        """
    )


def with_dims(fact_sql: str, *, on: str, own_segment: bool = False) -> str:
    """`fact_sql` (with account_id and a date column `on`) plus the account's fields on that
    date: product and region from the history snapshot; segment, stage, strategy version and
    experiment cell from the newest nightly run on or before the date (accounts it did not plan
    are 'unplanned'; no run yet: strategy_version 'no run'). With `own_segment`, a
    `record_segment` column of the fact (the segment recorded with an arrangement) wins."""
    segment = "f.record_segment, p.segment" if own_segment else "p.segment"
    return f"""
        SELECT f.*, coalesce(a.product, 'unknown') AS product,
               coalesce(a.region, 'unknown') AS region,
               coalesce({segment}, '{UNPLANNED}') AS segment,
               coalesce(p.stage, '{UNPLANNED}') AS stage,
               coalesce(r.strategy_version, 'no run') AS strategy_version,
               CASE WHEN p.account_id IS NULL THEN '{UNPLANNED}'
                    ELSE coalesce(p.experiment, 'none') END AS experiment
        FROM ({fact_sql}) f
        LEFT JOIN accounts a ON a.account_id = f.account_id
        ASOF LEFT JOIN runs r ON f.{on} >= r.run_as_of
        LEFT JOIN plan_dims p ON p.run_as_of = r.run_as_of AND p.account_id = f.account_id
    """
