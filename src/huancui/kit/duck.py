"""One in-memory DuckDB per process, for the nightly plan and the small queries around it.

Opening a DuckDB database costs about 0.03 s (0.06 s for the first in a process) and closing one
that has run a plan about 0.05 s; a nightly plan used to open three, and the simulator opens one
a night. A connection to an open database costs nothing (`cursor()`), and each keeps its own
temporary tables and views, registered Arrow tables and session settings (time zone), so runs in
one process do not see each other's relations. Memory limit, threads and the spill directory are
the database's: the latest plan's settings hold for all, and a plan that wants another spill
directory once one has been used gets a database of its own (DuckDB cannot switch it).
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from huancui.kit.sql import lit

_LOCK = threading.Lock()
_DATABASE: list[duckdb.DuckDBPyConnection] = []
_SPILL: list[Path] = []


def _database() -> duckdb.DuckDBPyConnection:
    if not _DATABASE:
        _DATABASE.append(duckdb.connect())
    return _DATABASE[0]


def connection() -> duckdb.DuckDBPyConnection:
    """A new connection (close it) to the process's in-memory DuckDB."""
    with _LOCK:
        return _database().cursor()


def plan_connection(
    *, memory_limit: str, threads: int, spill: Path
) -> duckdb.DuckDBPyConnection | None:
    """A new connection (close it) to the process's DuckDB with these limits, spilling to `spill`;
    None if the database already spills elsewhere (open a database of your own then)."""
    with _LOCK:
        database = _database()
        if not _SPILL:
            database.execute(f"SET temp_directory = {lit(str(spill))}")
            _SPILL.append(spill)
        elif _SPILL[0] != spill:
            return None
        con = database.cursor()
    con.execute(f"SET memory_limit = {lit(memory_limit)}")
    con.execute(f"SET threads = {int(threads)}")
    return con
