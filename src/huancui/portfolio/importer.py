"""The import use case: validate a delivery, compute delinquency, store the snapshot all-or-nothing.

Flow: stage (DuckDB) → validate → [refuse | quarantine rejects] → delinquency → Parquet written to a
temporary folder → one database transaction replaces the as-of snapshot, swaps the Parquet folder in,
records the audit event and commits. Any failure before the commit leaves the previous state intact.
"""

from __future__ import annotations

import csv
import getpass
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from huancui.access.audit import record
from huancui.access.crypto import FieldCipher
from huancui.access.pii import encrypt_batches
from huancui.kit.database import migrate, unit_of_work
from huancui.kit.digest import sha256_of
from huancui.kit.errors import InvalidInput
from huancui.kit.settings import Settings
from huancui.kit.sql import ident, lit
from huancui.portfolio.contract import FILES_BY_NAME
from huancui.portfolio.delinquency import compute_delinquency
from huancui.portfolio.findings import Finding, Severity, summarise
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.portfolio.repository import PortfolioRepository
from huancui.portfolio.snapshot_store import discard, swap_in, write_snapshot
from huancui.portfolio.staging import ROW, Staging, stage_delivery
from huancui.portfolio.tables import SnapshotRow
from huancui.portfolio.validation import shown, validate

Progress = Callable[[str, int], None]
_DB_BATCH = 50_000

CUSTOMER_SELECT = """
    SELECT customer_id, name, national_id, phone, email, birth_date, province, city, timezone,
           credit_grade, monthly_income AS monthly_income_fen, employment_status,
           preferred_language, consent_sms, consent_email, consent_call,
           DATE '{as_of}' AS first_seen_on, DATE '{as_of}' AS last_seen_on
    FROM valid_customers ORDER BY customer_id
"""
ACCOUNT_SELECT = """
    SELECT account_id, customer_id, product, product_name, open_date, currency,
           credit_limit AS credit_limit_fen, loan_amount AS loan_amount_fen,
           CAST(term_months AS INTEGER) AS term_months,
           CAST(round(annual_rate * 1000000) AS BIGINT) AS annual_rate_ppm, status, branch,
           guarantor_customer_id, DATE '{as_of}' AS first_seen_on, DATE '{as_of}' AS last_seen_on
    FROM valid_accounts ORDER BY account_id
"""


class DeliveryRejected(InvalidInput):
    """The delivery broke the contract; nothing was stored."""

    def __init__(self, findings: list[Finding], *, limit: int) -> None:
        self.findings = findings
        errors = [f for f in findings if f.severity is Severity.ERROR]
        lines = summarise(findings, limit=limit)
        super().__init__(
            f"delivery refused, nothing stored: {len(errors)} error(s)\n" + "\n".join(lines)
        )


@dataclass(frozen=True)
class ImportResult:
    as_of: date
    snapshot_id: int
    replaced: bool
    accounts: int
    spells: int
    rejected_rows: int
    warnings: list[Finding]
    files: dict[str, dict[str, Any]]
    seconds: float
    quarantine_file: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _batches(con: duckdb.DuckDBPyConnection, query: str) -> Iterator[pa.RecordBatch]:
    reader = con.sql(query).to_arrow_reader(_DB_BATCH)
    yield from reader


def _open_duckdb(settings: Settings, workdir: Path) -> duckdb.DuckDBPyConnection:
    # In memory, spilling to the scratch folder beyond the limit: no table is written to disk
    # unless memory runs short.
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = {lit(settings.duckdb_memory_limit)}")
    con.execute(f"SET threads = {int(settings.duckdb_threads)}")
    con.execute(f"SET temp_directory = {lit(str(workdir / 'spill'))}")
    con.execute("SET preserve_insertion_order = false")
    return con


def write_rejects(con: duckdb.DuckDBPyConnection, staging: Staging, target: Path) -> int:
    """The refused rows with their reasons (personal data masked), one line per problem."""
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "row", "column", "problem", "values"])
        for name, staged in staging.files.items():
            spec = FILES_BY_NAME[name]
            parts = ", ".join(
                f"{lit(c + '=')} || {shown(f's.{ident(c)}', spec.column(c))}"
                for c in staged.columns
            )
            rows = con.execute(
                f"SELECT f._row, f.col, f.message, concat_ws('; ', {parts}) "
                f"FROM findings f JOIN {staged.table} s ON s.{ROW} = f._row "
                f"WHERE f.file = {lit(name)} ORDER BY f._row, f.col"
            ).fetchall()
            for row, col, message, values in rows:
                writer.writerow([staged.display, row, col, message, values])
                count += 1
    return count


def import_delivery(
    *,
    directory: Path,
    as_of: date,
    settings: Settings,
    policy: DelinquencyPolicy,
    actor: str | None = None,
    note: str | None = None,
    quarantine: Path | None = None,
    max_errors: int = 50,
    on_progress: Progress | None = None,
) -> ImportResult:
    """Validate and load `directory` as the snapshot for `as_of`; raises DeliveryRejected."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    # Before any work: without a key the personal fields could not be stored.
    cipher = FieldCipher.from_settings(settings)
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="import-", dir=settings.scratch_dir))
    con = _open_duckdb(settings, workdir)
    try:
        staging, findings, rejected, errors = _prepare(
            con,
            directory=directory,
            as_of=as_of,
            policy=policy,
            workdir=workdir,
            quarantine=quarantine,
            max_errors=max_errors,
            on_progress=on_progress,
            timings=timings,
            started=started,
        )
        files = {
            name: {
                "file": staged.display,
                "sha256": sha256_of(staged.path),
                "rows": staged.rows,
                "encoding": staged.encoding,
            }
            for name, staged in staging.files.items()
        }
        result = _store(
            con,
            directory=directory,
            as_of=as_of,
            settings=settings,
            cipher=cipher,
            policy=policy,
            actor=actor or getpass.getuser(),
            note=note,
            files=files,
            rejected=rejected,
            on_progress=on_progress,
            timings=timings,
        )
        return ImportResult(
            as_of=as_of,
            snapshot_id=result[0],
            replaced=result[1],
            accounts=result[2],
            spells=result[3],
            rejected_rows=rejected,
            warnings=[f for f in findings if f.severity is Severity.WARNING],
            files=files,
            seconds=time.perf_counter() - started,
            quarantine_file=quarantine if errors else None,
            timings=timings,
        )
    finally:
        con.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _prepare(
    con: duckdb.DuckDBPyConnection,
    *,
    directory: Path,
    as_of: date,
    policy: DelinquencyPolicy,
    workdir: Path,
    quarantine: Path | None,
    max_errors: int,
    on_progress: Progress | None,
    timings: dict[str, float],
    started: float,
) -> tuple[Staging, list[Finding], int, list[Finding]]:
    """Stage and validate the delivery, then compute the delinquency state (`account_state`,
    `snapshot_accounts`); raises DeliveryRejected. Returns staging, findings, rejected rows and
    the error findings (quarantined when a quarantine file is given)."""
    staging = stage_delivery(con, directory, workdir=workdir, on_progress=on_progress)
    timings["read"] = time.perf_counter() - started
    _notify(on_progress, "validating", 0)
    findings = list(staging.findings)
    rejected = 0
    if not staging.unreadable:
        validation = validate(con, staging, as_of=as_of)
        findings.extend(validation.findings)
        rejected = validation.rejected_rows
    timings["validate"] = time.perf_counter() - started - timings["read"]
    errors = [f for f in findings if f.severity is Severity.ERROR]
    fatal = bool(staging.unreadable) or any(f.row == 0 for f in errors)
    if errors and (fatal or quarantine is None):
        raise DeliveryRejected(findings, limit=max_errors)
    if errors and quarantine is not None:
        write_rejects(con, staging, quarantine)
    _notify(on_progress, "computing delinquency", 0)
    mark = time.perf_counter()
    compute_delinquency(con, as_of=as_of, policy=policy)
    con.execute(
        "CREATE OR REPLACE TABLE snapshot_accounts AS SELECT s.*, a.product_name, a.open_date,"
        " a.credit_limit AS credit_limit_fen, a.loan_amount AS loan_amount_fen, a.term_months,"
        " CAST(round(a.annual_rate * 1000000) AS BIGINT) AS annual_rate_ppm, a.branch,"
        " a.guarantor_customer_id FROM account_state s JOIN valid_accounts a USING (account_id)"
    )
    timings["delinquency"] = time.perf_counter() - mark
    return staging, findings, rejected, errors


def build_snapshot_files(
    *, directory: Path, as_of: date, settings: Settings, policy: DelinquencyPolicy, root: Path
) -> Path:
    """The batch plane's half of an import: validate `directory` and write the snapshot's Parquet
    files under `root` (as `root/AS_OF/`), without touching the case plane. For tools that need a
    snapshot of a delivery but no system of record (the simulator); raises DeliveryRejected."""
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="snapshot-", dir=settings.scratch_dir))
    con = _open_duckdb(settings, workdir)
    try:
        _prepare(
            con,
            directory=directory,
            as_of=as_of,
            policy=policy,
            workdir=workdir,
            quarantine=None,
            max_errors=50,
            on_progress=None,
            timings={},
            started=time.perf_counter(),
        )
        manifest = {"as_of": as_of.isoformat(), "source": str(directory.resolve())}
        prepared = write_snapshot(con, root=root, as_of=as_of, manifest=manifest)
        with swap_in(prepared, root=root, as_of=as_of) as final:
            return final
    finally:
        con.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _notify(on_progress: Progress | None, stage: str, count: int) -> None:
    if on_progress is not None:
        on_progress(stage, count)


def _store(
    con: duckdb.DuckDBPyConnection,
    *,
    directory: Path,
    as_of: date,
    settings: Settings,
    cipher: FieldCipher,
    policy: DelinquencyPolicy,
    actor: str,
    note: str | None,
    files: dict[str, dict[str, Any]],
    rejected: int,
    on_progress: Progress | None,
    timings: dict[str, float],
) -> tuple[int, bool, int, int]:
    mark = time.perf_counter()
    counted = con.execute("SELECT count(*) FROM account_state").fetchone()
    accounts = int(counted[0]) if counted else 0
    manifest = {
        "as_of": as_of.isoformat(),
        "source": str(directory.resolve()),
        "files": files,
        "policy": policy.model_dump(mode="json"),
        "accounts": accounts,
        "rejected_rows": rejected,
    }
    prepared = write_snapshot(con, root=settings.snapshots_dir, as_of=as_of, manifest=manifest)
    timings["parquet"] = time.perf_counter() - mark
    mark = time.perf_counter()
    url = settings.resolved_database_url
    migrate(url)
    # The Parquet folder is swapped in first and put back if the transaction fails, so the batch
    # plane and the case plane change together.
    try:
        with (
            swap_in(prepared, root=settings.snapshots_dir, as_of=as_of),
            unit_of_work(url) as session,
        ):
            repo = PortfolioRepository(session)
            old = repo.snapshot_for(as_of)
            before = None
            if old is not None:
                before = {
                    "snapshot_id": old.snapshot_id,
                    "files": old.files,
                    "accounts": old.accounts,
                }
                repo.delete_snapshot(old)
            _notify(on_progress, "storing customers", 0)
            # Personal fields are encrypted on their way in: no clear value reaches the table.
            customers = _batches(con, CUSTOMER_SELECT.format(as_of=as_of.isoformat()))
            repo.upsert_customers(encrypt_batches(cipher, customers))
            _notify(on_progress, "storing accounts", 0)
            repo.upsert_accounts(_batches(con, ACCOUNT_SELECT.format(as_of=as_of.isoformat())))
            snapshot_id = repo.add_snapshot(
                SnapshotRow(
                    as_of=as_of,
                    imported_at=datetime.now(UTC),
                    imported_by=actor,
                    note=note,
                    source=str(directory.resolve()),
                    files=files,
                    policy=policy.model_dump(mode="json"),
                    accounts=accounts,
                    rejected_rows=rejected,
                )
            )
            _notify(on_progress, "storing account states", 0)
            repo.load_account_snapshots(
                snapshot_id,
                _batches(
                    con,
                    "SELECT * FROM account_state",
                ),
            )
            _notify(on_progress, "storing delinquency history", 0)
            spells = repo.load_spells(
                snapshot_id, _batches(con, "SELECT * FROM delinquency_spells")
            )
            record(
                session,
                actor=actor,
                action="portfolio.snapshot_replaced" if old else "portfolio.snapshot_imported",
                entity_type="snapshot",
                entity_id=as_of.isoformat(),
                before=before,
                after={
                    "snapshot_id": snapshot_id,
                    "files": files,
                    "accounts": accounts,
                    "rejected_rows": rejected,
                },
                reason=note,
            )
    except BaseException:
        discard(prepared)
        raise
    timings["database"] = time.perf_counter() - mark
    return snapshot_id, old is not None, accounts, spells
