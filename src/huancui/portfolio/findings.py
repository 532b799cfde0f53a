"""What validation found: one record per problem, formatted as FILE:ROW:COLUMN: message."""

from __future__ import annotations

from dataclasses import dataclass

from huancui.kit.errors import Severity

__all__ = ["Finding", "Severity", "summarise"]


@dataclass(frozen=True, order=True)
class Finding:
    """A problem in a delivery. `row` is the spreadsheet row (header = 1), 0 for the whole file."""

    file: str
    row: int
    column: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = self.file
        if self.row:
            where += f":{self.row}"
        if self.column:
            where += f":{self.column}" if self.row else f"::{self.column}"
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}: {prefix}{self.message}"


def summarise(findings: list[Finding], *, limit: int) -> list[str]:
    """The first `limit` errors in file/row order, then how many more there are."""
    errors = sorted(f for f in findings if f.severity is Severity.ERROR)
    lines = [str(f) for f in errors[:limit]]
    if len(errors) > limit:
        rows = len({(f.file, f.row) for f in errors})
        lines.append(f"... and {len(errors) - limit} more errors ({len(errors)} in {rows} rows)")
    return lines
