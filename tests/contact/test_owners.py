"""Where the guard finds the customer behind a hold or a recent contact.

An imported snapshot's holds and contacts name the customer of their account, and the case
plane's holds do too; the guard then reads the owners from those rows. A snapshot written before
the import did so, or a source of holds without the column (the simulator's), makes it look the
owners up in the accounts. Both give the same plan (test_guard_properties checks it on random
portfolios); here, which way a query takes, and the person-level rules on a case that needs the
owner of a sibling account.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from huancui.contact.guard import HOLDS_SCHEMA
from huancui.strategy.pipeline import build_query
from tests.contact.builders import Planner, Snapshot, default_strategy, pack_named

AS_OF = date(2026, 11, 27)


def snapshot() -> Snapshot:
    """C1 owns A1 and A2 and is bankrupt on A1's record; three connected calls on A2 today fill
    C1's cn cap of the day, which counts the debtor's calls on any account."""
    snap = Snapshot()
    snap.customer("C1")
    snap.account("A1", "C1")
    snap.account("A2", "C1")
    snap.customer("C2")
    snap.account("B1", "C2", days_past_due=20, credit_grade="C")
    snap.account("B2", "C2", days_past_due=0)
    snap.hold("A1", "bankruptcy", start=AS_OF)
    morning = datetime(2026, 11, 28, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    for minute in range(3):
        snap.call("B2", morning.replace(minute=minute), connected=True)
    return snap


@pytest.mark.parametrize("owners", [True, False])
def test_the_query_reads_owners_from_the_rows_when_every_source_has_them(
    tmp_path: Path, owners: bool
) -> None:
    folder = snapshot().write(tmp_path / "snapshot", owners=owners)
    query = build_query(
        strategy=default_strategy(), pack=pack_named("cn"), snapshot=folder, as_of=AS_OF
    )
    assert query.owners_in_rows is owners
    owners_cte = query.sql[query.sql.index("owners AS (") : query.sql.index("vulnerable AS (")]
    assert ("snap_accounts" in owners_cte) is not owners


def test_a_source_of_holds_without_owners_means_a_look_up(tmp_path: Path) -> None:
    folder = snapshot().write(tmp_path / "snapshot", owners=True)
    case_holds = pa.table(
        {
            "hold_id": ["case-1"],
            "account_id": ["B1"],
            "hold_type": ["dispute"],
            "channel": [None],
            "start_date": [AS_OF],
            "end_date": [None],
            "reason": ["disputed"],
        },
        schema=HOLDS_SCHEMA,
    )
    query = build_query(
        strategy=default_strategy(),
        pack=pack_named("cn"),
        snapshot=folder,
        as_of=AS_OF,
        case_holds=case_holds,
    )
    assert not query.owners_in_rows
    assert query.holds.column("customer_id").to_pylist() == ["C1", None]


def test_person_rules_give_the_same_plan_either_way(tmp_path: Path) -> None:
    planner = Planner()
    strategy = default_strategy()
    rows = {
        owners: planner.plan(
            snapshot(),
            tmp_path / str(owners),
            pack="cn",
            as_of=AS_OF,
            strategy=strategy,
            owners=owners,
        )
        for owners in (True, False)
    }
    assert rows[True] == rows[False]
    by_account = {(r["account_id"], r["channel"]): r for r in rows[True]}
    assert {r["suppressed_by"] for r in rows[True] if r["account_id"] == "A2"} == {
        "hold.bankruptcy"
    }
    assert by_account[("B1", "call")]["suppressed_by"] == "cn.connected_calls_per_debtor_day"
