"""Turn numpy columns into Arrow columns whose CSV text is exactly what the data contract asks for.

Money is written from integer fen through a decimal128 view (no float ever touches it), IDs and
timestamps are assembled as fixed-width ASCII bytes, so a million rows cost milliseconds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from huancui.portfolio.contract import FileSpec

SHANGHAI_OFFSET = "+08:00"


def ascii_strings(chars: np.ndarray) -> pa.Array:
    """A string column from an (n, width) uint8 matrix of ASCII codes, without copying per row."""
    n, width = chars.shape
    data = np.ascontiguousarray(chars, dtype=np.uint8).reshape(-1)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    ).cast(pa.string())


def digit_codes(values: np.ndarray, *, width: int) -> np.ndarray:
    """ASCII codes of the zero-padded decimal digits of non-negative integers, shape (n, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values.astype(np.int64)[:, None] // powers) % 10 + ord("0")).astype(np.uint8)


def literal_codes(text: str, *, n: int) -> np.ndarray:
    """The ASCII codes of one literal repeated on n rows."""
    codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.broadcast_to(codes, (n, codes.size))


def prefixed_ids(prefix: str, numbers: np.ndarray, *, width: int) -> pa.Array:
    """IDs such as C000001234: a literal prefix and a zero-padded number."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(numbers.astype(np.int64)), pa.string()), width=width, padding="0"
    )
    return pc.binary_join_element_wise(prefix, digits, "")


def _scaled_decimal(units: np.ndarray, *, precision: int, scale: int) -> pa.Array:
    # decimal128 stores a 128-bit little-endian integer; the high word is the sign extension.
    low = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty((low.shape[0], 2), dtype=np.int64)
    words[:, 0] = low
    words[:, 1] = low >> 63
    return pa.Array.from_buffers(
        pa.decimal128(precision, scale), low.shape[0], [None, pa.py_buffer(words)]
    )


def money(fen: np.ndarray, *, valid: np.ndarray | None = None) -> pa.Array:
    """Yuan with exactly two decimals (e.g. 1150.00) from integer fen; rows not valid are empty."""
    column = _scaled_decimal(fen, precision=18, scale=2)
    return column if valid is None else _mask(column, valid=valid)


def rate(basis_points: np.ndarray) -> pa.Array:
    """An annual rate as a fraction with four decimals (1825 bp -> 0.1825)."""
    return _scaled_decimal(basis_points, precision=8, scale=4)


def dates(days: np.ndarray, *, valid: np.ndarray | None = None) -> pa.Array:
    """YYYY-MM-DD from days since 1970-01-01."""
    column = pa.array(days.astype(np.int32), type=pa.date32())
    return column if valid is None else _mask(column, valid=valid)


def integers(values: np.ndarray, *, valid: np.ndarray | None = None) -> pa.Array:
    column = pa.array(values.astype(np.int64))
    return column if valid is None else _mask(column, valid=valid)


def timestamps(days: np.ndarray, *, minute_of_day: np.ndarray) -> pa.Array:
    """ISO 8601 local time at +08:00, e.g. 2026-10-28T10:15:00+08:00."""
    n = int(days.shape[0])
    year, month, day_of_month = date_parts(days)
    parts = [
        digit_codes(year, width=4),
        literal_codes("-", n=n),
        digit_codes(month, width=2),
        literal_codes("-", n=n),
        digit_codes(day_of_month, width=2),
        literal_codes("T", n=n),
        digit_codes(minute_of_day // 60, width=2),
        literal_codes(":", n=n),
        digit_codes(minute_of_day % 60, width=2),
        literal_codes(":00" + SHANGHAI_OFFSET, n=n),
    ]
    return ascii_strings(np.hstack(parts))


def labels(
    vocabulary: tuple[str, ...], index: np.ndarray, *, valid: np.ndarray | None = None
) -> pa.Array:
    """Codes or names picked from a vocabulary by index; rows not valid are empty."""
    column = pa.array(vocabulary, type=pa.string()).take(pa.array(index.astype(np.int64)))
    return column if valid is None else _mask(column, valid=valid)


def booleans(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(bool), type=pa.bool_())


def _mask(column: pa.Array, *, valid: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(valid.astype(bool)), column, pa.scalar(None, column.type))


def date_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day of month) of days since 1970-01-01."""
    day = days.astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    year = day.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day_of_month = (day - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day_of_month


def contract_table(spec: FileSpec, columns: dict[str, pa.Array]) -> pa.Table:
    """A table with exactly the contract's columns in its order, or a clear error."""
    if tuple(columns) != spec.column_names:
        raise ValueError(
            f"{spec.name}.csv columns {tuple(columns)} differ from the contract's "
            f"{spec.column_names}; build the columns in contract order"
        )
    return pa.table(columns)
