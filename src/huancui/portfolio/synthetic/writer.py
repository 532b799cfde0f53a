"""Streams blocks of rows into the delivery's CSV files and the truth's Parquet files.

CSV text: UTF-8, a header of the contract's column names, no quoting (no generated value holds a
comma, quote or line break), empty fields for absent optional values.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from huancui.portfolio.contract import FILES

TRUTH_DIR = "truth"
_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="none")


class DeliveryWriter:
    """Open every delivery file once, append blocks, close them all at the end.

    A block's files are written by background threads (Arrow releases the GIL) while the caller
    computes the next block; each file gets one task per block and blocks never overlap, so the
    bytes do not depend on thread timing.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: dict[str, int] = {spec.name: 0 for spec in FILES}
        self._sinks: dict[str, pa.NativeFile] = {}
        self._csv: dict[str, pa_csv.CSVWriter] = {}
        self._parquet: dict[str, pq.ParquetWriter] = {}
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._pending: list[Future[None]] = []

    def __enter__(self) -> DeliveryWriter:
        (self.out / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
        for spec in FILES:
            sink = pa.OSFile(str(self.out / f"{spec.name}.csv"), "wb")
            sink.write((",".join(spec.column_names) + "\n").encode("utf-8"))
            self._sinks[spec.name] = sink
        return self

    def write_block(self, *, delivery: dict[str, pa.Table], truth: dict[str, pa.Table]) -> None:
        """Queue one block's tables; waits for the previous block's files to be written first."""
        self.wait()
        self._pending = [
            self._pool.submit(self.write, name, table) for name, table in delivery.items()
        ]
        self._pending += [
            self._pool.submit(self.write_truth, name, table) for name, table in truth.items()
        ]

    def wait(self) -> None:
        for task in self._pending:
            task.result()
        self._pending = []

    def write(self, name: str, table: pa.Table) -> None:
        if name not in self._csv:
            self._csv[name] = pa_csv.CSVWriter(
                self._sinks[name], table.schema, write_options=_CSV_OPTIONS
            )
        self._csv[name].write_table(table)
        self.rows[name] += table.num_rows

    def write_truth(self, name: str, table: pa.Table) -> None:
        if name not in self._parquet:
            path = self.out / TRUTH_DIR / f"{name}.parquet"
            self._parquet[name] = pq.ParquetWriter(str(path), table.schema, compression="zstd")
        self._parquet[name].write_table(table)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown()
            self._close()

    def _close(self) -> None:
        for writer in self._csv.values():
            writer.close()
        for sink in self._sinks.values():
            sink.close()
        for parquet in self._parquet.values():
            parquet.close()
