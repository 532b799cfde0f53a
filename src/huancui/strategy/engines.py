"""Engines that run a PlanQuery: DuckDB (default, embedded) and Spark (local or a cluster).

An engine registers the relations the query names (strategy/pipeline.py) and writes the plan as
one Parquet file ordered by account and channel. Both run the very same SQL: Spark gets it
transpiled from DuckDB's dialect by sqlglot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import duckdb

from huancui.kit import duck
from huancui.kit.settings import Settings
from huancui.kit.sql import lit
from huancui.strategy.pipeline import SNAPSHOT_RELATIONS, PlanQuery

ENGINES = ("duckdb", "spark")


class Engine(Protocol):
    name: str

    def write_plan(self, query: PlanQuery, target: Path) -> None:
        """Run the query and write the plan to `target` (Parquet)."""


def duckdb_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A connection (close it) to an in-memory DuckDB for the plan, spilling to scratch_dir past
    `plan_memory_limit`: the process's own database (kit/duck.py) where it can, else a new one."""
    spill = settings.scratch_dir / "duckdb-plan"
    spill.mkdir(parents=True, exist_ok=True)
    con = duck.plan_connection(
        memory_limit=settings.plan_memory_limit, threads=settings.duckdb_threads, spill=spill
    )
    if con is None:
        con = duckdb.connect(
            config={
                "memory_limit": settings.plan_memory_limit,
                "threads": settings.duckdb_threads,
                "temp_directory": str(spill),
            }
        )
    con.execute("SET TimeZone = 'UTC'")
    return con


def register(con: duckdb.DuckDBPyConnection, query: PlanQuery) -> None:
    """Create the views and tables the plan SQL reads, temporary: the connection's own."""
    for relation, name in SNAPSHOT_RELATIONS.items():
        path = query.file(name)
        if path is None:
            con.register(f"{relation}_empty", query.empty(name))
            con.execute(f"CREATE OR REPLACE TEMP VIEW {relation} AS SELECT * FROM {relation}_empty")
        else:
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {relation} AS SELECT * FROM read_parquet({lit(str(path))})"
            )
    for score in query.scores:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {score.relation} AS"
            f" SELECT * FROM read_parquet({lit(str(score.path))})"
        )
    for relation, table in (
        ("snap_holds", query.holds),
        ("ref_days", query.refs.days),
        ("ref_windows", query.refs.windows),
        ("ref_local_days", query.refs.local_days),
    ):
        con.register(f"{relation}_arrow", table)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT * FROM {relation}_arrow")


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def write_plan(self, query: PlanQuery, target: Path) -> None:
        con = duckdb_connection(self.settings)
        # Ordered output: the file reads the same run after run.
        con.execute("SET preserve_insertion_order = true")
        try:
            register(con, query)
            con.execute(
                f"COPY ({query.sql}) TO {lit(str(target))} (FORMAT parquet, COMPRESSION zstd)"
            )
        finally:
            con.close()


def make_engine(name: str, settings: Settings) -> Engine:
    if name == "duckdb":
        return DuckDBEngine(settings)
    if name == "spark":
        from huancui.strategy.spark import SparkEngine

        return SparkEngine(settings)
    raise ValueError(f"unknown engine '{name}'; choose one of {', '.join(ENGINES)}")
