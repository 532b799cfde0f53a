"""Reading a delivery's files (CSV or Parquet) into DuckDB staging views of text, row numbers kept.

Every value is staged as text so that one set of SQL checks covers both formats and every bad value
can be reported with its row. Files are streamed in batches, so memory stays flat for large deliveries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from huancui.portfolio.contract import FILES, FileSpec
from huancui.portfolio.encoding import EncodingProblem, detect_encoding
from huancui.portfolio.findings import Finding, Severity

ROW = "_row"  # staging column holding the spreadsheet row number
_BLOCK_SIZE = 8 << 20
_PARQUET_BATCH = 256_000

Progress = Callable[[str, int], None]


@dataclass
class StagedFile:
    """A file that was found and staged (possibly with findings)."""

    spec: FileSpec
    path: Path
    display: str
    table: str
    columns: tuple[str, ...]  # contract columns present in the file
    rows: int = 0
    encoding: str = ""


@dataclass
class Staging:
    files: dict[str, StagedFile] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)  # files missing or unusable as a whole


def locate(directory: Path, spec: FileSpec) -> Path | Finding | None:
    """The file for `spec` in the delivery directory, a finding if ambiguous or missing."""
    candidates = [directory / f"{spec.name}.{ext}" for ext in ("csv", "parquet")]
    present = [p for p in candidates if p.is_file()]
    if len(present) > 1:
        return Finding(f"{spec.name}.*", 0, "", "both CSV and Parquet delivered; keep one of them")
    if present:
        return present[0]
    if spec.required:
        return Finding(
            f"{spec.name}.csv",
            0,
            "",
            f"file is missing: expected {spec.name}.csv or {spec.name}.parquet in {directory}",
        )
    return None


def stage_delivery(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    *,
    workdir: Path,
    on_progress: Progress | None = None,
) -> Staging:
    """Stage every contract file found in `directory` as `stage_<name>` (files in `workdir`)."""
    staging = Staging()
    if not directory.is_dir():
        staging.findings.append(Finding(str(directory), 0, "", "delivery directory not found"))
        return staging
    for spec in FILES:
        located = locate(directory, spec)
        if located is None:
            continue
        if isinstance(located, Finding):
            staging.findings.append(located)
            staging.unreadable.add(spec.name)
            continue
        staged = _stage_file(con, spec, located, staging.findings, workdir, on_progress)
        if staged is None:
            staging.unreadable.add(spec.name)
        else:
            staging.files[spec.name] = staged
    return staging


def _stage_file(
    con: duckdb.DuckDBPyConnection,
    spec: FileSpec,
    path: Path,
    findings: list[Finding],
    workdir: Path,
    on_progress: Progress | None,
) -> StagedFile | None:
    display = path.name
    if path.stat().st_size == 0:
        findings.append(Finding(display, 0, "", "file is empty: expected a header row"))
        return None
    if path.suffix == ".parquet":
        return _stage_parquet(con, spec, path, findings, workdir, on_progress)
    return _stage_csv(con, spec, path, findings, workdir, on_progress)


def _check_header(
    spec: FileSpec, display: str, header: list[str], findings: list[Finding]
) -> tuple[str, ...] | None:
    """Contract columns present in the file; findings for missing, duplicate and unknown ones."""
    names = [h.strip() for h in header]
    seen: set[str] = set()
    ok = True
    for name in names:
        if name in seen:
            findings.append(Finding(display, 1, name, "column appears twice in the header"))
            ok = False
        seen.add(name)
    for col in spec.columns:
        if col.required and col.name not in seen:
            findings.append(
                Finding(display, 1, col.name, f"required column is missing ({col.label_zh})")
            )
            ok = False
    known = set(spec.column_names)
    for name in names:
        if name not in known:
            findings.append(
                Finding(display, 1, name, "unknown column ignored", severity=Severity.WARNING)
            )
    if not ok:
        return None
    return tuple(c for c in spec.column_names if c in seen)


class _StageTable:
    """One file's batches, written to an Arrow IPC file and memory-mapped into DuckDB as a view.

    Writing IPC is close to a memory copy and the mapped file is paged in by the OS as queries scan
    it, so staging is fast and keeps resident memory low even for tens of millions of rows.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, *, name: str, columns: tuple[str, ...], workdir: Path
    ) -> None:
        self.con = con
        self.name = name
        self.path = workdir / f"{name}.arrow"
        self.schema = pa.schema([(ROW, pa.int64()), *((c, pa.string()) for c in columns)])
        self.sink = pa.OSFile(str(self.path), "wb")
        self.writer = ipc.new_file(self.sink, self.schema)

    def append(self, rows: np.ndarray, values: list[pa.Array]) -> None:
        arrays = [pa.array(rows, type=pa.int64()), *values]
        self.writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))

    def publish(self) -> None:
        self.close()
        self.con.register(self.name, ipc.open_file(pa.memory_map(str(self.path))).read_all())

    def close(self) -> None:
        if not self.sink.closed:
            self.writer.close()
            self.sink.close()


def _stage_csv(
    con: duckdb.DuckDBPyConnection,
    spec: FileSpec,
    path: Path,
    findings: list[Finding],
    workdir: Path,
    on_progress: Progress | None,
) -> StagedFile | None:
    display = path.name
    encoding = detect_encoding(path)
    if isinstance(encoding, EncodingProblem):
        findings.append(Finding(display, encoding.row, "", encoding.message))
        return None
    header = _read_csv_header(path, encoding)
    if header is None:
        findings.append(Finding(display, 0, "", "file is empty: expected a header row"))
        return None
    columns = _check_header(spec, display, header, findings)
    if columns is None:
        return None
    table = f"stage_{spec.name}"
    skipped: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = int(row.number) if row.number is not None else 0
        skipped.append(number)
        findings.append(
            Finding(
                display,
                number,
                "",
                f"row has {row.actual_columns} fields, expected {row.expected_columns}"
                + (" (truncated line?)" if row.actual_columns < row.expected_columns else ""),
            )
        )
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            use_threads=False, block_size=_BLOCK_SIZE, encoding=encoding
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header},
            include_columns=list(columns),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    staged = StagedFile(spec, path, display, table, columns, encoding=encoding)
    out = _StageTable(con, name=table, columns=columns, workdir=workdir)
    try:
        for batch in reader:
            rows = _spreadsheet_rows(staged.rows, batch.num_rows, skipped)
            out.append(rows, [batch.column(c) for c in columns])
            staged.rows += batch.num_rows
            if on_progress is not None:
                on_progress(display, staged.rows)
    except pa.ArrowInvalid as exc:
        out.close()
        findings.append(Finding(display, staged.rows + len(skipped) + 2, "", _csv_error(exc)))
        return None
    if not _quotes_balanced(path):
        # The parser closes an open quote at end of file silently; a cut-off file must not pass.
        last_row = staged.rows + len(skipped) + 1
        findings.append(
            Finding(display, last_row, "", "file ends inside a quoted field (file truncated?)")
        )
        out.close()
        return None
    out.publish()
    return staged


def _quotes_balanced(path: Path) -> bool:
    """Every quoted CSV field holds an even number of '"' (opening, closing, doubled escapes).

    Byte 0x22 never occurs inside a multi-byte UTF-8 or GB18030 character, so bytes can be counted.
    """
    count = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_BLOCK_SIZE):
            count += chunk.count(b'"')
    return count % 2 == 0


def _csv_error(exc: Exception) -> str:
    text = str(exc)
    if "quote" in text.lower() or "end of file" in text.lower():
        return "unterminated quoted field at the end of the file (file truncated?)"
    return f"cannot be parsed as CSV: {text}"


def _read_csv_header(path: Path, encoding: str) -> list[str] | None:
    with path.open("r", encoding="utf-8-sig" if encoding == "utf-8" else encoding) as fh:
        first = fh.readline()
    if not first.strip():
        return None
    parsed = pacsv.read_csv(
        pa.py_buffer(first.encode("utf-8")),
        read_options=pacsv.ReadOptions(autogenerate_column_names=True),
    )
    return [str(parsed.column(i)[0]) for i in range(parsed.num_columns)]


def _spreadsheet_rows(done: int, count: int, skipped: list[int]) -> np.ndarray:
    """Spreadsheet row numbers of records done..done+count, given the rows skipped as invalid.

    A valid record with 0-based index i sits on row i + 2 (the header is row 1) plus the number of
    invalid rows before it; `skipped` holds the invalid rows' own spreadsheet numbers.
    """
    index = np.arange(done, done + count, dtype=np.int64)
    if not skipped:
        return index + 2
    ordered = np.sort(np.asarray(skipped, dtype=np.int64))
    # Where each skipped row would sit in the valid-record index space.
    slots = ordered - 2 - np.arange(len(ordered))
    return index + 2 + np.searchsorted(slots, index, side="right")


def _stage_parquet(
    con: duckdb.DuckDBPyConnection,
    spec: FileSpec,
    path: Path,
    findings: list[Finding],
    workdir: Path,
    on_progress: Progress | None,
) -> StagedFile | None:
    display = path.name
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        findings.append(Finding(display, 0, "", f"not a readable Parquet file: {exc}"))
        return None
    columns = _check_header(spec, display, parquet.schema_arrow.names, findings)
    if columns is None:
        return None
    table = f"stage_{spec.name}"
    staged = StagedFile(spec, path, display, table, columns, encoding="parquet")
    out = _StageTable(con, name=table, columns=columns, workdir=workdir)
    for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH, columns=list(columns)):
        # Parquet has no header row: row numbers are 1-based record numbers.
        rows = np.arange(staged.rows + 1, staged.rows + 1 + batch.num_rows, dtype=np.int64)
        out.append(rows, [_as_text(batch.column(c)) for c in columns])
        staged.rows += batch.num_rows
        if on_progress is not None:
            on_progress(display, staged.rows)
    out.publish()
    return staged


def _as_text(values: pa.Array) -> pa.Array:
    """Typed Parquet values as the text a CSV would carry; nulls become empty strings."""
    if pa.types.is_timestamp(values.type) and values.type.tz is not None:
        values = values.cast(pa.timestamp(values.type.unit, tz="UTC"))
    text = values.cast(pa.string())
    return text.fill_null("")
