"""Snapshot folders from Python rows, and the plan the guard makes of them (real DuckDB, real Parquet).

A test states only what its scenario is about:

    snap = Snapshot()
    snap.customer("C1", timezone="Asia/Urumqi")
    snap.account("A1", "C1", days_past_due=20)
    snap.hold("A1", "dispute", start=date(2026, 11, 1))
    snap.call("A1", "2026-11-27T10:00:00+08:00", connected=True, right_party=True)
    rows = plan(snap, tmp_path, pack="cn", as_of=date(2026, 11, 27))

Every account gets every column of a real snapshot (the importer's schema) with sane defaults; a
customer has all consents given unless a test says otherwise. `plan` writes the four Parquet files
the pipeline reads, renders the plan query for the strategy and pack, runs it with DuckDBEngine and
returns the plan rows as dicts.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from huancui.contact.guard import HOLDS_SCHEMA
from huancui.contact.policy import CompliancePack, load_pack
from huancui.kit.settings import Settings
from huancui.strategy.engines import DuckDBEngine
from huancui.strategy.loader import load_strategy, parse_strategy
from huancui.strategy.pipeline import CONTACTS_SCHEMA, build_query
from huancui.strategy.spec import Strategy
from tests.conftest import ROOT

Row = dict[str, Any]

# The importer's schemas (a snapshot of examples/small, as `huancui import` writes it).
ACCOUNTS_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("customer_id", pa.string()),
        ("product", pa.string()),
        ("status", pa.string()),
        ("credit_grade", pa.string()),
        ("province", pa.string()),
        ("principal_fen", pa.int64()),
        ("interest_fen", pa.int64()),
        ("fees_fen", pa.int64()),
        ("balance_fen", pa.int64()),
        ("arrears_fen", pa.int64()),
        ("arrears_principal_fen", pa.int64()),
        ("arrears_interest_fen", pa.int64()),
        ("arrears_fee_fen", pa.int64()),
        ("missed_dues", pa.int32()),
        ("days_past_due", pa.int32()),
        ("bucket", pa.string()),
        ("oldest_unpaid_due_date", pa.date32()),
        ("delinquent_since", pa.date32()),
        ("cycles_delinquent", pa.int32()),
        ("last_payment_date", pa.date32()),
        ("paid_30d_fen", pa.int64()),
        ("charged_off", pa.bool_()),
        ("charge_off_date", pa.date32()),
        ("product_name", pa.string()),
        ("open_date", pa.date32()),
        ("credit_limit_fen", pa.int64()),
        ("loan_amount_fen", pa.int64()),
        ("term_months", pa.int64()),
        ("annual_rate_ppm", pa.int64()),
        ("branch", pa.string()),
        ("guarantor_customer_id", pa.string()),
    ]
)
CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("province", pa.string()),
        ("city", pa.string()),
        ("timezone", pa.string()),
        ("credit_grade", pa.string()),
        ("monthly_income", pa.int64()),
        ("employment_status", pa.string()),
        ("preferred_language", pa.string()),
        ("consent_sms", pa.bool_()),
        ("consent_email", pa.bool_()),
        ("consent_call", pa.bool_()),
    ]
)

HARD_HOLD_TYPES = (
    "deceased",
    "bankruptcy",
    "legal",
    "dispute",
    "hardship",
    "do_not_contact",
    "arrangement",
)
HOLD_TYPES = (*HARD_HOLD_TYPES, "channel_opt_out", "vulnerable")

# Every delinquent account gets a call, an SMS, an e-mail, a visit and a letter, the bank works
# around the clock and the cadence is one day: whatever is suppressed or moved, the guard did it.
EVERY_CHANNEL_STRATEGY = """
name: guard_test
version: 1
owner: tests
effective_date: 2026-01-01
change_note: Every channel for every delinquent account, so that only the guard decides.
segments:
  - {id: everyone, label_zh: 全部, label_en: Everyone, condition: "TRUE"}
stages:
  - {id: overdue, label_zh: 逾期, label_en: Overdue, min_dpd: 1, max_dpd: null}
treatments:
  - {segment: everyone, stage: overdue, channels: [call, sms, email, visit, letter],
     template: test.template, tone: neutral, cadence_days: 1, queue: test_queue}
priority: arrears_fen
"""


def every_channel_strategy(replace: dict[str, str] | None = None) -> Strategy:
    """EVERY_CHANNEL_STRATEGY, with exact pieces of its text replaced ({old: new})."""
    text = EVERY_CHANNEL_STRATEGY
    for old, new in (replace or {}).items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    loaded = parse_strategy(text, source="every-channel.yaml")
    assert loaded.strategy is not None, [str(f) for f in loaded.findings]
    return loaded.strategy


_EVERY_CHANNEL = every_channel_strategy()


@cache
def default_strategy() -> Strategy:
    loaded = load_strategy(ROOT / "strategies" / "default.yaml")
    assert loaded.strategy is not None, [str(f) for f in loaded.findings]
    return loaded.strategy


@cache
def pack_named(name: str) -> CompliancePack:
    return load_pack(name).pack


def moment(text: str) -> datetime:
    """An aware instant from ISO text with its offset, e.g. '2026-11-27T10:00:00+08:00'."""
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, f"{text}: give the offset"
    return value


@dataclass
class Snapshot:
    """The rows of one snapshot folder; add rows with the methods, write with `write`."""

    accounts: list[Row] = field(default_factory=list)
    customers: list[Row] = field(default_factory=list)
    holds: list[Row] = field(default_factory=list)
    contacts: list[Row] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def customer(
        self,
        customer_id: str,
        *,
        timezone: str | None = "Asia/Shanghai",
        consent_sms: bool | None = True,
        consent_email: bool | None = True,
        consent_call: bool | None = True,
    ) -> Row:
        row: Row = {
            "customer_id": customer_id,
            "province": "BJ",
            "city": "北京市",
            "timezone": timezone,
            "credit_grade": "B",
            "monthly_income": 1_000_000,
            "employment_status": "employed",
            "preferred_language": "zh-CN",
            "consent_sms": consent_sms,
            "consent_email": consent_email,
            "consent_call": consent_call,
        }
        self.customers.append(row)
        return row

    def account(
        self,
        account_id: str,
        customer_id: str,
        *,
        days_past_due: int = 20,
        credit_grade: str = "B",
        arrears_fen: int = 100_000,
        as_of: date = date(2026, 11, 27),
        **overrides: Any,
    ) -> Row:
        """A delinquent credit-card account (days_past_due 0: current) with consistent amounts."""
        since = as_of - timedelta(days=days_past_due) if days_past_due > 0 else None
        row: Row = {
            "account_id": account_id,
            "customer_id": customer_id,
            "product": "credit_card",
            "status": "open",
            "credit_grade": credit_grade,
            "province": "BJ",
            "principal_fen": 1_000_000,
            "interest_fen": 0,
            "fees_fen": 0,
            "balance_fen": 1_000_000,
            "arrears_fen": arrears_fen if days_past_due > 0 else 0,
            "arrears_principal_fen": arrears_fen if days_past_due > 0 else 0,
            "arrears_interest_fen": 0,
            "arrears_fee_fen": 0,
            "missed_dues": (days_past_due + 29) // 30,
            "days_past_due": days_past_due,
            "bucket": f"M{min((days_past_due + 29) // 30, 7)}",
            "oldest_unpaid_due_date": since,
            "delinquent_since": since,
            "cycles_delinquent": 1,
            "last_payment_date": as_of - timedelta(days=days_past_due + 30),
            "paid_30d_fen": 0,
            "charged_off": False,
            "charge_off_date": None,
            "product_name": "白金信用卡",
            "open_date": date(2022, 1, 10),
            "credit_limit_fen": 5_000_000,
            "loan_amount_fen": None,
            "term_months": None,
            "annual_rate_ppm": 182_500,
            "branch": "BJ001",
            "guarantor_customer_id": None,
        }
        unknown = set(overrides) - set(row)
        assert not unknown, f"not account columns: {sorted(unknown)}"
        row.update(overrides)
        self.accounts.append(row)
        return row

    def hold(
        self,
        account_id: str,
        hold_type: str,
        *,
        start: date,
        end: date | None = None,
        channel: str | None = None,
    ) -> Row:
        assert hold_type in HOLD_TYPES, hold_type
        assert (channel is not None) == (hold_type == "channel_opt_out")
        row: Row = {
            "hold_id": f"H{next(self._ids):05d}",
            "account_id": account_id,
            "hold_type": hold_type,
            "channel": channel,
            "start_date": start,
            "end_date": end,
            "reason": f"test {hold_type}",
        }
        self.holds.append(row)
        return row

    def contact(
        self,
        account_id: str,
        at: datetime | str,
        *,
        channel: str = "call",
        connected: bool = False,
        right_party: bool = False,
    ) -> Row:
        instant = moment(at) if isinstance(at, str) else at
        assert instant.tzinfo is not None, "contact times are instants: give the offset"
        row: Row = {
            "contact_id": f"K{next(self._ids):05d}",
            "account_id": account_id,
            "contacted_at": instant.astimezone(UTC),
            "channel": channel,
            "connected": connected,
            "right_party": right_party,
            "outcome": "connected" if connected else "no_answer",
            "agent_id": "U0001" if channel in ("call", "visit") else None,
        }
        self.contacts.append(row)
        return row

    def call(
        self,
        account_id: str,
        at: datetime | str,
        *,
        connected: bool = False,
        right_party: bool = False,
    ) -> Row:
        return self.contact(account_id, at, connected=connected, right_party=right_party)

    def write(self, folder: Path, *, owners: bool = True) -> Path:
        """The four Parquet files in `folder` (created), as an import writes them: with
        `owners`, the holds and contacts name the customer of their account (NULL for an
        account the snapshot does not have); without, as a snapshot of an earlier version."""
        folder.mkdir(parents=True, exist_ok=True)
        owner = {a["account_id"]: a["customer_id"] for a in self.accounts}

        def owned(rows: list[Row], schema: pa.Schema) -> tuple[list[Row], pa.Schema]:
            if not owners:
                return rows, schema
            named = [{**r, "customer_id": owner.get(r["account_id"])} for r in rows]
            return named, schema.append(pa.field("customer_id", pa.string()))

        for name, rows, schema in (
            ("accounts", self.accounts, ACCOUNTS_SCHEMA),
            ("customers", self.customers, CUSTOMERS_SCHEMA),
            ("holds", *owned(self.holds, HOLDS_SCHEMA)),
            ("contacts", *owned(self.contacts, CONTACTS_SCHEMA)),
        ):
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / f"{name}.parquet")
        return folder


class Planner:
    """Runs plans with one DuckDB engine (one per test or per hypothesis example)."""

    def __init__(self) -> None:
        self.engine = DuckDBEngine(Settings(duckdb_memory_limit="512MB", duckdb_threads=1))

    def plan(
        self,
        snapshot: Snapshot,
        folder: Path,
        *,
        pack: str | CompliancePack,
        as_of: date,
        strategy: Strategy | None = None,
        owners: bool = True,
    ) -> list[Row]:
        """The plan rows (ordered by account and channel) of `snapshot` on the night of `as_of`
        (`owners`: see Snapshot.write)."""
        snapshot.write(folder / "snapshot", owners=owners)
        query = build_query(
            strategy=strategy if strategy is not None else _EVERY_CHANNEL,
            pack=pack_named(pack) if isinstance(pack, str) else pack,
            snapshot=folder / "snapshot",
            as_of=as_of,
        )
        target = folder / "plan.parquet"
        self.engine.write_plan(query, target)
        rows: list[Row] = pq.read_table(target).to_pylist()
        return rows


def plan(
    snapshot: Snapshot,
    folder: Path,
    *,
    pack: str | CompliancePack,
    as_of: date,
    strategy: Strategy | None = None,
) -> list[Row]:
    return Planner().plan(snapshot, folder, pack=pack, as_of=as_of, strategy=strategy)


def rows_for(rows: list[Row], account_id: str, channel: str | None = None) -> list[Row]:
    return [r for r in rows if r["account_id"] == account_id and channel in (None, r["channel"])]


def one(rows: list[Row], account_id: str, channel: str) -> Row:
    found = rows_for(rows, account_id, channel)
    assert len(found) == 1, f"{account_id}/{channel}: {len(found)} rows: {found}"
    return found[0]


def rules_of(row: Row) -> list[str]:
    return row["rules"].split(",") if row["rules"] else []
