"""Validation of a staged delivery against the data contract, as set-based SQL in DuckDB.

Phase 1 checks each value's text (required, format, codes); phase 2 converts to typed tables and
checks ranges, dates against the as-of date, row rules, duplicate keys and references. Rows with an
error are listed in `rejected`; a reference to a rejected row is itself an error, so a quarantined
import never keeps a payment whose account was refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from huancui.kit.sql import ident, lit
from huancui.portfolio.contract import FILES, Column, ColumnType
from huancui.portfolio.findings import Finding, Severity
from huancui.portfolio.staging import ROW, StagedFile, Staging

DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
EARLIEST_DATE = "1900-01-01"
TRUE_WORDS = ("true", "t", "1", "y", "yes", "是")
FALSE_WORDS = ("false", "f", "0", "n", "no", "否")
MONEY_PATTERN = r"^[+-]?[0-9]{1,15}(\.[0-9]{1,2})?$"
_SHOWN_CHARS = 40


@dataclass(frozen=True)
class RowRule:
    """A rule over one typed row: `condition` true means the row is wrong."""

    file: str
    column: str
    condition: str
    message: str  # SQL expression giving the message


# Rules across columns of one row; written against the typed table.
ROW_RULES: tuple[RowRule, ...] = (
    RowRule(
        "customers",
        "national_id",
        "national_id IS NOT NULL AND substr('10X98765432', CAST(list_sum(list_transform("
        "range(17), lambda i: CAST(substr(national_id, i + 1, 1) AS INTEGER) * "
        "[7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2][i + 1])) % 11 AS BIGINT) + 1, 1) "
        "<> substr(national_id, 18, 1)",
        "'check character does not match (GB 11643 checksum); the number is mistyped'",
    ),
    RowRule(
        "customers",
        "timezone",
        "timezone IS NOT NULL AND timezone NOT IN (SELECT name FROM _tz_names)",
        "format('''{}'' is not a known IANA time zone', timezone)",
    ),
    RowRule(
        "accounts",
        "credit_limit",
        "product = 'credit_card' AND credit_limit IS NULL",
        "'required for credit cards'",
    ),
    RowRule(
        "accounts",
        "loan_amount",
        "product = 'instalment_loan' AND loan_amount IS NULL",
        "'required for instalment loans'",
    ),
    RowRule(
        "accounts",
        "term_months",
        "product = 'instalment_loan' AND term_months IS NULL",
        "'required for instalment loans'",
    ),
    RowRule(
        "dues",
        "statement_date",
        "statement_date IS NOT NULL AND due_date IS NOT NULL AND statement_date > due_date",
        "format('statement date {} is after the due date {}', statement_date, due_date)",
    ),
    RowRule(
        "holds",
        "end_date",
        "end_date IS NOT NULL AND start_date IS NOT NULL AND end_date < start_date",
        "format('end date {} is before the start date {}', end_date, start_date)",
    ),
    RowRule(
        "holds",
        "channel",
        "hold_type = 'channel_opt_out' AND channel IS NULL",
        "'required when hold_type is channel_opt_out'",
    ),
    RowRule(
        "feedback",
        "score",
        "kind IN ('survey', 'portal_rating') AND score IS NULL",
        "format('required when kind is {}: a score from 1 to 5', kind)",
    ),
    RowRule(
        "feedback",
        "score",
        "kind = 'complaint' AND score IS NOT NULL",
        "format('must be empty when kind is complaint (got {}); complaints carry no score', score)",
    ),
)


@dataclass
class Validation:
    """Outcome of validating a staged delivery: findings and, per file, the rows to refuse."""

    findings: list[Finding]
    rejected_rows: int

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]


def shown(expr: str, column: Column) -> str:
    """SQL for the value as it may appear in a message: personal data masked, long text cut."""
    if column.pii:
        return (
            f"CASE WHEN length({expr}) > 7 THEN left({expr}, 3) || repeat('*', length({expr}) - 7)"
            f" || right({expr}, 4) ELSE repeat('*', length({expr})) END"
        )
    return f"left({expr}, {_SHOWN_CHARS})"


def text_checks(column: Column, *, v: str = "v") -> list[tuple[str, str]]:
    """(condition, message) pairs over the trimmed text `v`, first match reported."""
    q = f"'''' || {shown(v, column)} || ''''"
    checks: list[tuple[str, str]] = []
    if column.required:
        checks.append((f"{v} = ''", lit("required value is empty")))
    nonempty = f"{v} <> '' AND "
    match column.type:
        case ColumnType.STRING:
            if column.max_length:
                checks.append(
                    (
                        f"{nonempty}length({v}) > {column.max_length}",
                        lit(f"longer than {column.max_length} characters"),
                    )
                )
            if column.pattern:
                checks.append(
                    (
                        f"{nonempty}NOT regexp_full_match({v}, {lit(column.pattern)})",
                        f"{q} || {lit(' is not valid: expected ' + column.pattern_hint)}",
                    )
                )
        case ColumnType.INTEGER:
            checks.append(
                (
                    f"{nonempty}NOT regexp_full_match({v}, '[+-]?[0-9]{{1,18}}')",
                    f"{q} || ' is not a whole number'",
                )
            )
        case ColumnType.MONEY:
            checks.append(
                (
                    f"{nonempty}regexp_full_match({v}, '[+-]?[0-9]+\\.[0-9]{{3,}}')",
                    f"{q} || ' has more than two decimals; amounts are yuan to the fen'",
                )
            )
            checks.append(
                (
                    f"{nonempty}NOT regexp_matches({v}, {lit(MONEY_PATTERN)})",
                    f"{q} || ' is not an amount: write yuan like 1234.50, without currency "
                    "sign or thousands separator'",
                )
            )
        case ColumnType.RATE:
            checks.append(
                (
                    f"{nonempty}NOT regexp_full_match({v}, '[0-9]{{1,6}}(\\.[0-9]{{1,6}})?')",
                    f"{q} || ' is not a rate: write a fraction such as 0.18 for 18 %'",
                )
            )
        case ColumnType.DATE:
            checks.append(
                (
                    f"{nonempty}try_strptime({v}, {_formats()}) IS NULL",
                    f"{q} || ' is not a date: expected YYYY-MM-DD'",
                )
            )
        case ColumnType.TIMESTAMP:
            checks.append(
                (
                    f"{nonempty}(TRY_CAST({v} AS TIMESTAMPTZ) IS NULL OR NOT "
                    f"regexp_matches({v}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$'))",
                    f"{q} || ' is not a timestamp with UTC offset: expected e.g. "
                    "2026-10-28T10:15:00+08:00'",
                )
            )
        case ColumnType.BOOLEAN:
            words = ", ".join(lit(w) for w in TRUE_WORDS + FALSE_WORDS)
            checks.append(
                (
                    f"{nonempty}lower({v}) NOT IN ({words})",
                    f"{q} || ' is not true or false'",
                )
            )
        case ColumnType.ENUM:
            codes = ", ".join(lit(c.lower()) for c in column.values)
            allowed = ", ".join(column.values)
            if len(allowed) > 120:
                allowed = allowed[:117] + "..."
            checks.append(
                (
                    f"{nonempty}lower({v}) NOT IN ({codes})",
                    f"{q} || {lit(' is not one of: ' + allowed)}",
                )
            )
    return checks


def _formats() -> str:
    return "[" + ", ".join(lit(f) for f in DATE_FORMATS) + "]"


def source_text(staged: StagedFile, column: Column) -> str:
    """Trimmed text of a column, with the contract default for absent or empty optional values."""
    if column.name not in staged.columns:
        return lit(column.default) if column.default is not None else "''"
    text = f"trim({ident(column.name)})"
    if column.default is not None:
        return f"coalesce(nullif({text}, ''), {lit(column.default)})"
    return text


def typed_expr(column: Column, text: str) -> str:
    """SQL converting trimmed text to the column's type; NULL when empty or invalid."""
    v = f"nullif({text}, '')"
    match column.type:
        case ColumnType.STRING:
            return v
        case ColumnType.INTEGER:
            return f"TRY_CAST({v} AS BIGINT)"
        case ColumnType.MONEY:
            return (
                f"CASE WHEN regexp_matches({v}, {lit(MONEY_PATTERN)}) "
                f"THEN CAST(TRY_CAST({v} AS DECIMAL(18, 2)) * 100 AS BIGINT) END"
            )
        case ColumnType.RATE:
            return f"TRY_CAST({v} AS DECIMAL(14, 8))"
        case ColumnType.DATE:
            return f"CAST(try_strptime({v}, {_formats()}) AS DATE)"
        case ColumnType.TIMESTAMP:
            return f"TRY_CAST({v} AS TIMESTAMPTZ)"
        case ColumnType.BOOLEAN:
            trues = ", ".join(lit(w) for w in TRUE_WORDS)
            falses = ", ".join(lit(w) for w in FALSE_WORDS)
            return (
                f"CASE WHEN lower({v}) IN ({trues}) THEN TRUE "
                f"WHEN lower({v}) IN ({falses}) THEN FALSE END"
            )
        case ColumnType.ENUM:
            whens = " ".join(f"WHEN {lit(c.lower())} THEN {lit(c)}" for c in column.values)
            return f"CASE lower({v}) {whens} END"
    raise AssertionError(column.type)


def typed_checks(column: Column, *, as_of: date) -> list[tuple[str, str]]:
    """(condition, message) pairs over the typed value `x`, which is not NULL."""
    x = ident(column.name)
    checks: list[tuple[str, str]] = []
    if column.type is ColumnType.MONEY:
        shown_x = f"format('{{:.2f}}', {x} / 100.0)"
        if column.positive:
            checks.append((f"{x} <= 0", f"{shown_x} || ' must be above zero'"))
        if column.minimum is not None:
            checks.append(
                (
                    f"{x} < {column.minimum * 100}",
                    f"{shown_x} || ' is negative; amounts cannot be below zero'"
                    if column.minimum == 0
                    else f"{shown_x} || {lit(f' is below {column.minimum}')}",
                )
            )
        if column.maximum is not None:
            checks.append(
                (
                    f"{x} > {column.maximum * 100}",
                    f"{shown_x} || {lit(f' yuan is absurd for a retail account (limit {column.maximum}); fen delivered as yuan?')}",
                )
            )
    elif column.type in (ColumnType.INTEGER, ColumnType.RATE):
        shown_x = f"CAST({x} AS VARCHAR)"
        if column.type is ColumnType.RATE:  # 18.00000000 → 18
            shown_x = f"rtrim(rtrim({shown_x}, '0'), '.')"
        if column.minimum is not None:
            checks.append(
                (f"{x} < {column.minimum}", f"{shown_x} || {lit(f' is below {column.minimum}')}")
            )
        if column.maximum is not None:
            hint = " (rates are fractions: 0.18 for 18 %)" if column.type is ColumnType.RATE else ""
            checks.append(
                (
                    f"{x} > {column.maximum}",
                    f"{shown_x} || {lit(f' is above {column.maximum}{hint}')}",
                )
            )
    elif column.type is ColumnType.DATE:
        checks.append((f"{x} < DATE '{EARLIEST_DATE}'", f"{x} || ' is implausibly early'"))
        if column.not_after_as_of:
            checks.append(
                (
                    f"{x} > DATE '{as_of.isoformat()}'",
                    f"{x} || ' is after the as-of date {as_of.isoformat()}'",
                )
            )
    elif column.type is ColumnType.TIMESTAMP and column.not_after_as_of:
        # The bank's business day ends at midnight Beijing time (UTC+08:00).
        end = f"TIMESTAMPTZ '{as_of.isoformat()} 00:00:00+08:00' + INTERVAL 1 DAY"
        checks.append(
            (
                f"{x} >= {end}",
                f"strftime({x}, '%Y-%m-%dT%H:%M:%SZ') || "
                f"{lit(f' is after the as-of date {as_of.isoformat()}')}",
            )
        )
    return checks


class Validator:
    """Runs both phases over the staged files in contract order (parents before children)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, staging: Staging, *, as_of: date) -> None:
        self.con = con
        self.staging = staging
        self.as_of = as_of
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _tz_names AS SELECT name FROM pg_timezone_names()"
        )
        con.execute(
            "CREATE OR REPLACE TABLE findings (file VARCHAR, _row BIGINT, col VARCHAR, "
            "message VARCHAR)"
        )

    def run(self) -> Validation:
        findings: list[Finding] = []
        for spec in FILES:
            staged = self.staging.files.get(spec.name)
            if staged is None:
                continue
            self._check_text(staged)
            self._make_typed(staged)
            self._check_typed(staged)
            self._check_rules(staged)
            self._check_duplicates(staged)
            self._check_references(staged)
            self._make_valid(staged)
            findings.extend(self._row_count_findings(staged))
        rows = self.con.execute(
            "SELECT file, _row, col, message FROM findings ORDER BY file, _row, col"
        ).fetchall()
        displays = {s.spec.name: s.display for s in self.staging.files.values()}
        findings.extend(Finding(displays[f], int(r), c, m) for f, r, c, m in rows)
        rejected = self.con.execute("SELECT count(DISTINCT (file, _row)) FROM findings").fetchone()
        return Validation(findings=findings, rejected_rows=int(rejected[0]) if rejected else 0)

    def _insert(self, file: str, column: str, select_from: str, message: str, where: str) -> None:
        self.con.execute(
            f"INSERT INTO findings SELECT {lit(file)}, {ROW}, {lit(column)}, {message} "
            f"FROM {select_from} WHERE {where}"
        )

    def _insert_per_column(self, file: str, source: str, cases: dict[str, str]) -> None:
        """Evaluate every column's CASE (NULL when fine) in one scan; record the non-NULL ones."""
        if not cases:
            return
        columns = ", ".join(f"{case} AS {ident(col)}" for col, case in cases.items())
        any_bad = " OR ".join(f"{ident(col)} IS NOT NULL" for col in cases)
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE _bad AS SELECT * FROM "
            f"(SELECT {ROW}, {columns} FROM {source}) WHERE {any_bad}"
        )
        names = ", ".join(ident(col) for col in cases)
        self.con.execute(
            f"INSERT INTO findings SELECT {lit(file)}, {ROW}, col, message "
            f"FROM (UNPIVOT _bad ON {names} INTO NAME col VALUE message)"
        )

    def _check_text(self, staged: StagedFile) -> None:
        cases = {}
        for column in staged.spec.columns:
            checks = text_checks(column, v=ident(column.name))
            if column.name in staged.columns and checks:
                whens = " ".join(f"WHEN {cond} THEN {msg}" for cond, msg in checks)
                cases[column.name] = f"CASE {whens} END"
        trimmed = ", ".join(f"trim({ident(c)}) AS {ident(c)}" for c in staged.columns)
        source = f"(SELECT {ROW}, {trimmed} FROM {staged.table})"
        self._insert_per_column(staged.spec.name, source, cases)

    def _make_typed(self, staged: StagedFile) -> None:
        exprs = ", ".join(
            f"{typed_expr(c, source_text(staged, c))} AS {ident(c.name)}"
            for c in staged.spec.columns
        )
        self.con.execute(
            f"CREATE OR REPLACE TABLE typed_{staged.spec.name} AS "
            f"SELECT {ROW}, {exprs} FROM {staged.table}"
        )

    def _check_typed(self, staged: StagedFile) -> None:
        cases = {}
        for column in staged.spec.columns:
            checks = typed_checks(column, as_of=self.as_of)
            if checks:
                whens = " ".join(f"WHEN {cond} THEN {msg}" for cond, msg in checks)
                cases[column.name] = f"CASE WHEN {ident(column.name)} IS NULL THEN NULL {whens} END"
        self._insert_per_column(staged.spec.name, f"typed_{staged.spec.name}", cases)

    def _check_rules(self, staged: StagedFile) -> None:
        table = f"typed_{staged.spec.name}"
        for rule in ROW_RULES:
            if rule.file == staged.spec.name:
                # A value already reported as unreadable is NULL here: say so once, not twice.
                fresh = (
                    f"{ROW} NOT IN (SELECT {ROW} FROM findings "
                    f"WHERE file = {lit(rule.file)} AND col = {lit(rule.column)})"
                )
                where = f"({rule.condition}) AND {fresh}"
                self._insert(rule.file, rule.column, table, rule.message, where)

    def _check_duplicates(self, staged: StagedFile) -> None:
        spec = staged.spec
        keys = ", ".join(ident(k) for k in spec.key)
        not_null = " AND ".join(f"{ident(k)} IS NOT NULL" for k in spec.key)
        shown_key = " || ', ' || ".join(
            f"{lit(k + '=')} || CAST({ident(k)} AS VARCHAR)" for k in spec.key
        )
        # Group first: only the (rare) duplicated keys are joined back to their rows.
        table = f"typed_{spec.name}"
        source = (
            f"(SELECT t.{ROW}, {shown_key} AS key_text, d.rows "
            f"FROM {table} t JOIN (SELECT {keys}, list({ROW} ORDER BY {ROW}) AS rows FROM {table} "
            f"WHERE {not_null} GROUP BY {keys} HAVING count(*) > 1) d USING ({keys}))"
        )
        message = (
            "'duplicate key ' || key_text || ': also on row(s) ' || "
            "array_to_string(list_filter(rows, lambda r: r <> _row)[1:5], ', ')"
        )
        self._insert(spec.name, spec.key[-1], source, message, "true")

    def _check_references(self, staged: StagedFile) -> None:
        for fk in staged.spec.foreign_keys:
            target_file = self.staging.files.get(fk.target_file)
            if target_file is None:
                continue
            col = ident(fk.column)
            target = ident(fk.target_column)
            quoted = f"'''' || {col} || ''''"
            missing = lit(f" does not exist in {target_file.display}")
            rejected = lit(f" is a rejected row of {target_file.display} (see its errors)")
            message = (
                f"{quoted} || CASE WHEN {col} IN (SELECT {target} FROM typed_{fk.target_file}) "
                f"THEN {rejected} ELSE {missing} END"
            )
            where = (
                f"{col} IS NOT NULL AND {col} NOT IN "
                f"(SELECT {target} FROM valid_{fk.target_file} WHERE {target} IS NOT NULL)"
            )
            self._insert(staged.spec.name, fk.column, f"typed_{staged.spec.name}", message, where)

    def _make_valid(self, staged: StagedFile) -> None:
        name = staged.spec.name
        has_findings = self.con.execute(
            f"SELECT count(*) > 0 FROM findings WHERE file = {lit(name)}"
        ).fetchone()
        if has_findings is not None and not has_findings[0]:
            # The usual case: every row passed, so no copy is needed.
            self.con.execute(f"CREATE OR REPLACE VIEW valid_{name} AS SELECT * FROM typed_{name}")
            return
        self.con.execute(
            f"CREATE OR REPLACE TABLE valid_{name} AS SELECT * FROM typed_{name} WHERE {ROW} NOT IN"
            f" (SELECT {ROW} FROM findings WHERE file = {lit(name)})"
        )

    def _row_count_findings(self, staged: StagedFile) -> list[Finding]:
        spec = staged.spec
        if staged.rows < spec.min_rows:
            return [Finding(staged.display, 0, "", "has a header but no data rows")]
        if staged.rows == 0:
            return [Finding(staged.display, 0, "", "has no data rows", severity=Severity.WARNING)]
        return []


def validate(con: duckdb.DuckDBPyConnection, staging: Staging, *, as_of: date) -> Validation:
    """Validate staged files; leaves `valid_<file>` tables with the rows that passed."""
    return Validator(con, staging, as_of=as_of).run()
