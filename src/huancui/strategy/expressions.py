"""Rule expressions: SQL conditions and arithmetic over the rule columns, parsed and allow-listed.

A rule is parsed with sqlglot, every node is checked against an allow-list (no subqueries, no
statements, only documented columns and a few pure functions) and its type inferred, so a bad rule
fails when the strategy is validated rather than in the middle of a nightly run.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from huancui.strategy.columns import COLUMNS_BY_NAME, Kind

DIALECT = "duckdb"


class ExpressionError(ValueError):
    """A rule expression that cannot be used; the message says what and, if it can, what instead."""


# Operators and functions a rule may use, as they are documented in docs/strategy.md.
ALLOWED_SYNTAX: tuple[tuple[str, str], ...] = (
    ("+ - * / // %", "arithmetic on numbers (`/` divides exactly: 7 / 2 = 3.5)"),
    ("= <> != < <= > >=", "comparison of two values of one kind"),
    ("AND OR NOT", "boolean logic"),
    ("x IN (a, b, …)", "membership in a list of literals or expressions"),
    ("x BETWEEN a AND b", "a ≤ x ≤ b"),
    ("x IS [NOT] NULL", "test for a missing value (dates, scores)"),
    ("CASE WHEN … THEN … ELSE … END", "choice; every branch must give the same kind"),
    ("COALESCE(x, y, …)", "the first value that is not NULL"),
    ("LEAST(x, …) GREATEST(x, …)", "smallest / largest of numbers"),
    ("ABS(x) ROUND(x[, digits])", "absolute value, rounding"),
    ("LN(x) LOG(x) LOG(base, x)", "natural and base-10 (or given base) logarithm"),
    ("literals", "numbers, 'text', DATE-like text '2026-01-31', TRUE, FALSE, NULL"),
)

_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod)
_COMPARISON = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_NUMERIC_FUNCTIONS = (exp.Abs, exp.Round, exp.Ln, exp.Log)
_VARIADIC = (exp.Coalesce, exp.Least, exp.Greatest)

_NULL: Kind | None = None  # NULL fits any kind


def compile_condition(text: str) -> str:
    """A boolean rule (segment condition) as normalised DuckDB SQL; raises ExpressionError."""
    return _compile(text, expect=Kind.BOOLEAN)


def compile_number(text: str) -> str:
    """A numeric rule (priority) as normalised DuckDB SQL; raises ExpressionError."""
    return _compile(text, expect=Kind.NUMBER)


def _compile(text: str, *, expect: Kind) -> str:
    tree = _parse(text)
    kind = _infer(tree)
    if kind is not None and kind is not expect:
        raise ExpressionError(f"must be a {expect} expression but gives a {kind}")
    return _normalise(tree).sql(dialect=DIALECT)


def with_null_columns(sql: str, columns: Iterable[str]) -> str:
    """Compiled rule SQL with each of `columns` replaced by a NULL DOUBLE (a score column no file
    fills), so that the engine folds what cannot hold: `coalesce(score_ew, 0) >= 0.08` becomes
    false before any row is read, and a filter around it can be pushed into the scan."""
    names = {c.lower() for c in columns}
    if not names:
        return sql
    tree = sqlglot.parse_one(sql, read=DIALECT)

    def null(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and node.name.lower() in names:
            return exp.cast(exp.null(), exp.DataType.build("DOUBLE"))
        return node

    return tree.transform(null).sql(dialect=DIALECT)


def _parse(text: str) -> exp.Expr:
    if not text.strip():
        raise ExpressionError("is empty")
    try:
        statements = [s for s in sqlglot.parse(text, read=DIALECT) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at column {first['col']}" if first.get("col") else ""
        description = str(first.get("description", exc)).split(". Line")[0]
        raise ExpressionError(f"is not valid SQL{where}: {description}") from None
    except TokenError as exc:
        raise ExpressionError(f"is not valid SQL: {exc}") from None
    if len(statements) != 1:
        raise ExpressionError("must be one expression, not several statements")
    return statements[0]


def _normalise(tree: exp.Expr) -> exp.Expr:
    """Column names in their documented (lower-case, unquoted) spelling."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column):
            return exp.column(node.name.lower())
        return node

    return tree.transform(fix)


def suggest_column(name: str) -> str | None:
    """The documented column someone most likely meant: initials first ('dpd'), then spelling."""
    lowered = name.lower()
    by_initials = [c for c in COLUMNS_BY_NAME if "".join(p[0] for p in c.split("_")) == lowered]
    if by_initials:
        return by_initials[0]
    close = difflib.get_close_matches(lowered, COLUMNS_BY_NAME, n=1, cutoff=0.6)
    if close:
        return close[0]
    contains = [c for c in COLUMNS_BY_NAME if lowered in c]
    return contains[0] if len(lowered) >= 3 and contains else None


def _column_kind(node: exp.Column) -> Kind:
    if node.table:
        raise ExpressionError(
            f"column '{node.sql(dialect=DIALECT)}' must not name a table; write '{node.name}'"
        )
    column = COLUMNS_BY_NAME.get(node.name.lower())
    if column is None:
        hint = suggest_column(node.name)
        tail = f" (did you mean {hint}?)" if hint else " (see docs/strategy.md for the columns)"
        raise ExpressionError(f"unknown column '{node.name}'{tail}")
    return column.kind


def _infer(node: exp.Expr) -> Kind | None:
    """The kind of value `node` gives (None for NULL); raises on anything not allow-listed."""
    for types, rule in _RULES:
        if isinstance(node, types):
            return rule(node)
    raise _refusal(node)


def _refusal(node: exp.Expr) -> ExpressionError:
    if isinstance(node, (exp.Query, exp.Exists)):
        return ExpressionError("subqueries are not allowed; a rule sees one account's columns")
    if isinstance(node, exp.Star):
        return ExpressionError("'*' is not allowed; name the columns")
    if isinstance(node, exp.Anonymous):
        return ExpressionError(f"unknown function '{node.name}'")
    if isinstance(node, exp.Func):
        return ExpressionError(f"function '{node.sql_name()}' is not allowed in rules")
    if not isinstance(node, exp.Condition):
        return ExpressionError("must be an expression, not a SQL statement")
    return ExpressionError(
        f"'{node.key.upper()}' is not allowed in rules (docs/strategy.md lists what is)"
    )


def _expect(node: exp.Expr, kind: Kind, *, role: str) -> None:
    got = _infer(node)
    if got is not None and got is not kind:
        raise ExpressionError(
            f"{role} needs a {kind} but '{node.sql(dialect=DIALECT)}' gives a {got}"
        )


def _same_kind(nodes: Iterable[exp.Expr], *, role: str) -> Kind | None:
    """All nodes must give one kind (text literals may stand for dates); returns it."""
    seen: Kind | None = None
    first = ""
    for node in nodes:
        kind = _infer(node)
        if kind is None:
            continue
        if seen is None:
            seen, first = kind, node.sql(dialect=DIALECT)
            continue
        if kind is not seen and not _date_vs_text(seen, kind):
            raise ExpressionError(
                f"{role} mixes a {seen} ('{first}') with a {kind} ('{node.sql(dialect=DIALECT)}')"
            )
        if seen is Kind.TEXT:
            seen = kind  # a date compared with '2026-01-31' is a date comparison
    return seen


def _date_vs_text(a: Kind, b: Kind) -> bool:
    return {a, b} == {Kind.DATE, Kind.TEXT}


def _literal(node: exp.Literal) -> Kind:
    return Kind.TEXT if node.is_string else Kind.NUMBER


def _arithmetic(node: exp.Expr) -> Kind:
    for side in (node.this, node.expression):
        _expect(side, Kind.NUMBER, role=f"'{node.sql(dialect=DIALECT)}'")
    return Kind.NUMBER


def _negation(node: exp.Neg) -> Kind:
    _expect(node.this, Kind.NUMBER, role="a minus sign")
    return Kind.NUMBER


def _comparison(node: exp.Expr) -> Kind:
    _same_kind((node.this, node.expression), role=f"'{node.sql(dialect=DIALECT)}'")
    return Kind.BOOLEAN


def _logic(node: exp.Expr) -> Kind:
    sides = [node.this] if isinstance(node, exp.Not) else [node.this, node.expression]
    for side in sides:
        _expect(side, Kind.BOOLEAN, role=f"{node.key.upper()}")
    return Kind.BOOLEAN


def _is(node: exp.Is) -> Kind:
    _infer(node.this)
    if not isinstance(node.expression, (exp.Null, exp.Boolean)):
        raise ExpressionError("IS must be followed by NULL, TRUE or FALSE")
    return Kind.BOOLEAN


def _in(node: exp.In) -> Kind:
    if node.args.get("query") is not None or node.args.get("unnest") is not None:
        raise ExpressionError("subqueries are not allowed; a rule sees one account's columns")
    _same_kind([node.this, *node.expressions], role="IN")
    return Kind.BOOLEAN


def _between(node: exp.Between) -> Kind:
    _same_kind((node.this, node.args["low"], node.args["high"]), role="BETWEEN")
    return Kind.BOOLEAN


def _case(node: exp.Case) -> Kind | None:
    operand = node.this
    results: list[exp.Expr] = []
    for branch in node.args.get("ifs") or []:
        if operand is not None:
            _same_kind((operand, branch.this), role="CASE … WHEN")
        else:
            _expect(branch.this, Kind.BOOLEAN, role="CASE WHEN")
        results.append(branch.args["true"])
    if node.args.get("default") is not None:
        results.append(node.args["default"])
    return _same_kind(results, role="CASE")


def _numeric_function(node: exp.Func) -> Kind:
    for arg in (node.this, node.expression):
        if arg is not None:
            _expect(arg, Kind.NUMBER, role=f"{node.sql_name()}")
    return Kind.NUMBER


def _variadic(node: exp.Func) -> Kind | None:
    kind = _same_kind([node.this, *node.expressions], role=node.sql_name())
    if not isinstance(node, exp.Coalesce) and kind not in (None, Kind.NUMBER, Kind.DATE):
        raise ExpressionError(f"{node.sql_name()} compares numbers or dates, not a {kind}")
    return kind


_RULES: tuple[
    tuple[type[exp.Expr] | tuple[type[exp.Expr], ...], Callable[..., Kind | None]], ...
] = (
    (exp.Column, _column_kind),
    (exp.Literal, _literal),
    (exp.Boolean, lambda _: Kind.BOOLEAN),
    (exp.Null, lambda _: _NULL),
    (exp.Paren, lambda node: _infer(node.this)),
    (_ARITHMETIC, _arithmetic),
    (exp.Neg, _negation),
    (_COMPARISON, _comparison),
    ((exp.And, exp.Or, exp.Not), _logic),
    (exp.Is, _is),
    (exp.In, _in),
    (exp.Between, _between),
    (exp.Case, _case),
    (_NUMERIC_FUNCTIONS, _numeric_function),
    (_VARIADIC, _variadic),
)


def render_syntax_table() -> str:
    """Markdown table of the allowed operators and functions, as docs/strategy.md shows it."""
    lines = ["| syntax | meaning |", "|---|---|"]
    lines += [f"| `{syntax}` | {meaning} |" for syntax, meaning in ALLOWED_SYNTAX]
    return "\n".join(lines) + "\n"
