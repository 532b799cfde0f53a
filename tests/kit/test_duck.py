"""The process's DuckDB (kit/duck.py): connections keep their own relations, and nightly plans
that share it in one process, even at the same time, each get their own plan."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import duckdb
import pytest

from huancui.kit import duck
from tests.contact.builders import Planner, Snapshot

AS_OF = date(2026, 11, 27)


def test_connections_keep_their_own_temporary_relations() -> None:
    first, second = duck.connection(), duck.connection()
    try:
        first.execute("CREATE TEMP TABLE mine AS SELECT 1 AS x")
        second.execute("CREATE TEMP TABLE mine AS SELECT 2 AS x")
        assert first.execute("SELECT x FROM mine").fetchall() == [(1,)]
        assert second.execute("SELECT x FROM mine").fetchall() == [(2,)]
    finally:
        first.close()
    assert second.execute("SELECT x FROM mine").fetchall() == [(2,)]
    second.close()
    with duck.connection() as third, pytest.raises(duckdb.CatalogException):
        third.execute("SELECT x FROM mine")


def test_another_spill_directory_gets_no_shared_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duck, "_DATABASE", [])  # a fresh process database for this test
    monkeypatch.setattr(duck, "_SPILL", [])
    con = duck.plan_connection(memory_limit="256MB", threads=1, spill=tmp_path / "a")
    assert con is not None
    setting = "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    limit, spill = con.execute(setting).fetchone() or (None, None)
    assert str(limit).startswith("244") and spill == str(tmp_path / "a")  # 256 MB in MiB
    con.close()
    assert duck.plan_connection(memory_limit="256MB", threads=1, spill=tmp_path / "b") is None


def snapshot(accounts: int, grade: str) -> Snapshot:
    snap = Snapshot()
    for n in range(accounts):
        snap.customer(f"C{n}")
        snap.account(f"A{n}", f"C{n}", credit_grade=grade, days_past_due=5 + n)
    return snap


def test_plans_at_the_same_time_get_their_own_relations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duck, "_DATABASE", [])  # every plan below shares this test's database
    monkeypatch.setattr(duck, "_SPILL", [])
    cases = {"small": snapshot(3, "A"), "large": snapshot(40, "D")}
    alone = {
        name: Planner().plan(snap, tmp_path / f"alone-{name}", pack="cn", as_of=AS_OF)
        for name, snap in cases.items()
    }
    assert len(alone["small"]) < len(alone["large"])
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            (name, i): pool.submit(
                Planner().plan, snap, tmp_path / f"together-{name}-{i}", pack="cn", as_of=AS_OF
            )
            for name, snap in cases.items()
            for i in range(4)
        }
        together = {key: future.result() for key, future in futures.items()}
    for (name, _), rows in together.items():
        assert rows == alone[name]
    assert len(duck._DATABASE) == 1 and len(duck._SPILL) == 1
