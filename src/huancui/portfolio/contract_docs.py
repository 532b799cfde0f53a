"""Renders the data contract (contract.py) as the Markdown of docs/data-contract.md."""

from __future__ import annotations

from huancui.portfolio.contract import FILES, Column, ColumnType, FileSpec
from huancui.portfolio.validation import DATE_FORMATS, FALSE_WORDS, TRUE_WORDS

INTRO = """# Data contract — 数据接口规范

A delivery is one folder per as-of date holding the files below, each as `NAME.csv` or
`NAME.parquet` (not both). `huancui import DIR --as-of YYYY-MM-DD` checks every row against this
contract; this page is generated from `src/huancui/portfolio/contract.py` with
`huancui contract docs --out docs/data-contract.md`, so it cannot drift from the code.

## Formats
- **CSV**: comma-separated, header row first, fields quoted with `"` when they contain commas,
  quotes or line breaks. Encoding UTF-8 (with or without BOM) or GB18030 (GBK exports are GB18030
  subsets); a file mixing encodings is refused with the first row of each kind.
- **Parquet**: the same column names; typed columns (dates, decimals, integers, booleans) are
  accepted and checked the same way as their text form.
- Row numbers in messages are those a spreadsheet shows for CSV (header = row 1, first record = row
  2) and 1-based record numbers for Parquet.

## Types
| type | written as | stored as |
|---|---|---|
| string | text; surrounding spaces are trimmed | text |
| integer | digits, optional sign | 64-bit integer |
| money | yuan with at most two decimals, no currency sign or thousands separator: `1234.50` | integer fen (分): 123450 |
| rate | a decimal fraction with at most six decimals: `0.18` for 18 % a year | integer millionths (ppm) |
| date | DATE_FORMATS | date |
| timestamp | ISO 8601 with a UTC offset: `2026-10-28T10:15:00+08:00` | UTC timestamp |
| boolean | TRUE_WORDS / FALSE_WORDS (case-insensitive) | boolean |
| enum | one of the listed codes, case-insensitive | the code as listed |

An empty optional value takes its default where one is listed. Money above 50,000,000 yuan on a
retail account is refused as absurd (most often fen delivered as yuan).

## Checks, in order
1. File level (fatal even with `--quarantine`): file present, readable in one encoding, not empty,
   required columns present, no column named twice; unknown columns are ignored with a warning;
   `customers`, `accounts` and `dues` must have data rows.
2. Each value: required, type and format, allowed codes, length, pattern.
3. Each typed value: ranges (no negative money, rates 0–1), dates not after the as-of date where
   marked, no date before 1900.
4. Row rules: national ID checksum (GB 11643), known IANA time zone, product-specific columns,
   statement date not after due date, hold end not before start, channel for channel opt-outs,
   a score on every survey and portal rating and none on a complaint.
5. Keys: no duplicate key; every reference names an existing, accepted row (a payment for an
   unknown account is an error; so is one for an account that was itself refused).

Without `--quarantine` any error refuses the whole delivery and stores nothing (exit code 2). With
`--quarantine FILE` the valid rows are stored and the refused rows are written to FILE with their
reasons (personal data masked).
"""


def _constraints(column: Column) -> str:
    parts: list[str] = []
    if column.type is ColumnType.ENUM:
        parts.append("one of " + ", ".join(f"`{v}`" for v in column.values))
    if column.pattern_hint:
        parts.append(column.pattern_hint)
    if column.max_length:
        parts.append(f"≤ {column.max_length} chars")
    if column.positive:
        parts.append("> 0")
    if column.minimum is not None:
        parts.append(f"≥ {column.minimum}")
    if column.maximum is not None:
        parts.append(f"≤ {column.maximum:,}")
    if column.not_after_as_of:
        parts.append("not after as-of")
    if column.default is not None:
        parts.append(f"default `{column.default}`")
    if column.pii:
        parts.append("personal data (masked)")
    return "; ".join(parts)


def _file_section(spec: FileSpec) -> str:
    lines = [
        f"## `{spec.name}` — {spec.label_zh} ({'required' if spec.required else 'optional'})",
        "",
        spec.meaning,
        "",
        f"Key: {', '.join(f'`{k}`' for k in spec.key)}."
        + (
            " References: "
            + ", ".join(
                f"`{fk.column}` → `{fk.target_file}.{fk.target_column}`" for fk in spec.foreign_keys
            )
            + "."
            if spec.foreign_keys
            else ""
        ),
        "",
        "| column | 中文 | type | unit | required | meaning | example | rules |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in spec.columns:
        lines.append(
            f"| `{c.name}` | {c.label_zh} | {c.type.value} | {c.unit or ''} | "
            f"{'yes' if c.required else 'no'} | {c.meaning} | `{c.example}` | {_constraints(c)} |"
        )
    return "\n".join(lines) + "\n"


def _human(strptime_format: str) -> str:
    """'%Y-%m-%d' → 'YYYY-MM-DD'."""
    return strptime_format.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")


def render_contract() -> str:
    intro = (
        INTRO.replace("DATE_FORMATS", ", ".join(f"`{_human(f)}`" for f in DATE_FORMATS))
        .replace("TRUE_WORDS", " ".join(f"`{w}`" for w in TRUE_WORDS))
        .replace("FALSE_WORDS", " ".join(f"`{w}`" for w in FALSE_WORDS))
    )
    return intro + "\n" + "\n".join(_file_section(spec) for spec in FILES)
