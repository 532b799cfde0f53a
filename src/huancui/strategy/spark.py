"""The Spark engine: the plan SQL, transpiled from DuckDB's dialect, on a SparkSession.

One SparkSession per process, started on first use and reused (`get_spark`, `stop_spark`): master
from HUANCUI_SPARK_MASTER (default `local[2]`), driver memory from HUANCUI_SPARK_DRIVER_MEMORY
(default 2g), driver JVM options from HUANCUI_SPARK_JAVA_OPTIONS (default: the JIT's first tier
only), session time zone UTC (the SQL compares UTC instants and local dates from the reference
tables, never the JVM's zone), 4 shuffle partitions, ANSI mode, no UI, no progress bar, log4j at
ERROR. Each plan runs in a fresh child session (`SparkSession.newSession`): its own temp views,
the shared SparkContext.

`write_plan` registers the relations the query names (strategy/pipeline.py) as temp views of the
same names: the snapshot's Parquet files, an empty relation of the right columns for a missing
optional file, and the reference tables from Arrow (dates as DateType, UTC instants as
TimestampType). It runs the transpiled SQL and writes ONE Parquet file with DuckDB's column names,
types (DATE, string, INTEGER/BIGINT, DOUBLE) and row order (`ORDER BY account_id, channel_no`, a
total order: an account's actions are numbered). Column nullability is each engine's own, and so
are the file's bytes (writer, row groups): equal plans need not have equal file hashes.

The statement runs CTE by CTE (`spark_plan`): each top-level CTE becomes a temp view, and one read
more than once (the guard reads `strategy_actions`, `dated`, `history`, `screened`, … several times)
is computed once (`localCheckpoint`). Spark inlines every deterministic CTE at each reference: run
whole, the 50,000-account plan had 60 file scans, 13 window sorts and took about twice as long.

sqlglot transpiles DuckDB → Spark SQL; `spark_sql` first rewrites what it would translate to a
different meaning, so the two engines give the same plan (tests/strategy/test_conformance.py):

- `CAST(('0x' || hex) AS BIGINT)`, DuckDB's hex parse (strategy/assignment.uniform_sql), becomes
  `CAST(conv(hex, 16, 10) AS BIGINT)`.
- `a / b` is IEEE double division in DuckDB (x / 0 = ±inf, 0 / 0 = NaN; decimals divide as
  doubles). Spark divides decimals as decimals (rounded to 6 places) and fails on a zero divisor
  (ANSI), so both operands are cast to DOUBLE and a possibly-zero divisor is guarded.
- `a // b` truncates only integers in DuckDB (7.5 // 2 = 3.75) and non-integers divide. Where
  the rewrite depends on a type (`//`, `round`), DuckDB itself is asked: DESCRIBE of the operands
  over empty relations with the same columns.
- `round(x, d)` of a double rounds its exact binary value in DuckDB (round(2.675, 2) = 2.67, as
  2.675 is 2.67499999…) but its shortest decimal form in Spark (2.68): written out exactly.
- `ln(x)`, `log(x)` (base 10 in DuckDB, base e in Spark) and `log(b, x)`: DuckDB gives -inf at 0
  and NaN below, Spark NULL; both are kept as DuckDB has them.
- sqlglot itself handles sha256 → sha2(…, 256), NULLS ordering (DuckDB sorts NULLs last, Spark
  first), VALUES CTEs with column lists, `||`, `concat_ws` (both skip NULLs) and the types.
  `date - integer` is a date in both. A construct sqlglot cannot express raises.

For a cluster: the driver collects the plan as Arrow (`toArrow`) and pyarrow writes the file,
fine up to a few million rows on a local[2] session. On a cluster the snapshot must sit on storage
the executors read (HDFS, S3, …), and the plan would be written by the executors instead
(`df.write.parquet(dir)`, sorted with `orderBy`, giving a folder of part files in order) or
streamed with `toLocalIterator` into a ParquetWriter, so the driver never holds the whole plan;
the reference tables are small and are shipped from the driver either way. Local checkpoints live
on the executors, so a lost executor fails the run: on a cluster use `checkpoint()` with a reliable
checkpoint folder (or `persist`). The JVM's memory then comes from spark-submit/cluster settings
rather than from this module.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from huancui.kit.errors import HuancuiError
from huancui.kit.settings import Settings
from huancui.strategy.pipeline import SNAPSHOT_RELATIONS, PlanQuery

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER_ENV = "HUANCUI_SPARK_MASTER"
DEFAULT_MASTER = "local[2]"
MEMORY_ENV = "HUANCUI_SPARK_DRIVER_MEMORY"
DEFAULT_MEMORY = "2g"
JAVA_OPTIONS_ENV = "HUANCUI_SPARK_JAVA_OPTIONS"
# The JIT's first tier only: a plan is many short Spark jobs over freshly generated code, and the
# optimising tier's compile threads cost more than they win (about 40% less CPU per plan here).
DEFAULT_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1"
SHUFFLE_PARTITIONS = 4

_SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS),
    # DuckDB fails on overflow and bad casts; so does Spark in ANSI mode (its default in 4.x).
    "spark.sql.ansi.enabled": "true",
}
_CONF: dict[str, str] = {
    **_SESSION_CONF,
    "spark.app.name": "huancui",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.structuredLogging.enabled": "false",
}
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
# PySpark's gateway counts as a shell; without a level of its own Spark announces "Setting
# default log level to WARN" on stderr.
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""

_lock = threading.Lock()
_session: SparkSession | None = None


class SparkUnavailable(HuancuiError):
    """Spark cannot start here (no pyspark, or no Java)."""


def get_spark() -> SparkSession:
    """The process's SparkSession, started on first use (see the module doc)."""
    global _session
    with _lock:
        if _session is None:
            _session = _start()
        return _session


def stop_spark() -> None:
    """Stop the process's SparkSession, if one was started (tests; the end of a process)."""
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None


def _start() -> SparkSession:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(
            "the Spark engine needs pyspark: pip install 'huancui[spark]'"
        ) from None
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin", "java").exists()):
        raise SparkUnavailable("the Spark engine needs Java 17 or newer (no `java` found)")
    master = os.environ.get(MASTER_ENV) or DEFAULT_MASTER
    builder = SparkSession.builder.master(master).config(
        "spark.driver.memory", os.environ.get(MEMORY_ENV) or DEFAULT_MEMORY
    )
    for key, value in _CONF.items():
        builder = builder.config(key, value)
    extra = os.environ.get(JAVA_OPTIONS_ENV, DEFAULT_JAVA_OPTIONS)
    with _quiet_log4j() as options:
        builder = builder.config("spark.driver.extraJavaOptions", f"{options} {extra}".strip())
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def _quiet_log4j() -> Iterator[str]:
    """JVM options pointing log4j at an ERROR-only configuration, read while the JVM starts."""
    folder = Path(tempfile.mkdtemp(prefix="huancui-spark-"))
    try:
        config = folder / "log4j2.properties"
        config.write_text(_LOG4J2, encoding="utf-8")
        yield f"-Dlog4j2.configurationFile={config.as_uri()}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class SparkEngine:
    name = "spark"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def write_plan(self, query: PlanQuery, target: Path) -> None:
        plan = spark_plan(query)
        session = get_spark().newSession()
        for key, value in _SESSION_CONF.items():
            session.conf.set(key, value)
        register(session, query)
        for step in plan.steps:
            frame = session.sql(step.sql)
            if step.columns:
                frame = frame.toDF(*step.columns)
            if step.materialise:
                frame = frame.localCheckpoint(eager=True)
            frame.createOrReplaceTempView(step.name)
        table = _as_duckdb_types(session.sql(plan.sql).toArrow())
        partial = target.with_name(f".{target.name}.partial")
        try:
            pq.write_table(table, partial, compression="zstd")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)


def register(session: SparkSession, query: PlanQuery) -> None:
    """Temp views of the relations the plan SQL reads, under the names it uses."""
    for relation, name in SNAPSHOT_RELATIONS.items():
        path = query.file(name)
        if path is None:
            frame = session.createDataFrame(query.empty(name))
        else:
            frame = session.read.parquet(str(path))
        frame.createOrReplaceTempView(relation)
    for score in query.scores:
        session.read.parquet(str(score.path)).createOrReplaceTempView(score.relation)
    for relation, table in _references(query).items():
        session.createDataFrame(table).createOrReplaceTempView(relation)


def _references(query: PlanQuery) -> dict[str, pa.Table]:
    return {
        "snap_holds": query.holds,
        "ref_days": query.refs.days,
        "ref_windows": query.refs.windows,
        "ref_local_days": query.refs.local_days,
    }


def relation_schemas(query: PlanQuery) -> dict[str, pa.Schema]:
    """The columns of every relation the plan SQL reads, by the name it reads it under."""
    schemas: dict[str, pa.Schema] = {}
    for relation, name in SNAPSHOT_RELATIONS.items():
        path = query.file(name)
        schemas[relation] = query.empty(name).schema if path is None else pq.read_schema(path)
    for score in query.scores:
        schemas[score.relation] = pq.read_schema(score.path)
    for relation, table in _references(query).items():
        schemas[relation] = table.schema
    return schemas


def _as_duckdb_types(table: pa.Table) -> pa.Table:
    """Plain string/binary columns as DuckDB writes them (Arrow may hand over large ones)."""
    fields = []
    for field in table.schema:
        kind = field.type
        if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            kind = pa.string()
        elif pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
            kind = pa.binary()
        fields.append(field.with_type(kind))
    return table.cast(pa.schema(fields))


# ---------------------------------------------------------------------------------------------
# DuckDB SQL → Spark SQL


@dataclass(frozen=True)
class SparkStep:
    """One CTE of the plan SQL as a temp view; `materialise`: computed once, not inlined."""

    name: str
    columns: tuple[str, ...]
    sql: str
    materialise: bool


@dataclass(frozen=True)
class SparkPlan:
    """The plan SQL for Spark as its CTEs, in order, and the final SELECT over them."""

    steps: tuple[SparkStep, ...]
    sql: str


def spark_sql(query: PlanQuery) -> str:
    """The query's SQL in Spark's dialect, one statement with the same meaning (module doc)."""
    return transpile(query.sql, relation_schemas(query))


def transpile(sql: str, relations: Mapping[str, pa.Schema]) -> str:
    """DuckDB SQL over `relations` (name → columns) as Spark SQL with the same meaning."""
    return _generate(_transpiled(sql, relations))


def spark_plan(query: PlanQuery) -> SparkPlan:
    """`spark_sql` split at its top-level CTEs (see the module doc on materialising)."""
    relations = relation_schemas(query)
    tree = _transpiled(query.sql, relations)
    with_ = tree.args.get("with_")
    ctes: list[exp.CTE] = list(with_.expressions) if with_ is not None else []
    tree.set("with_", None)
    taken = {relation.lower() for relation in relations}
    steps = []
    for i, cte in enumerate(ctes):
        name = cte.alias_or_name
        if name.lower() in taken:
            raise ValueError(f"CTE '{name}' has the name of a relation the plan SQL reads")
        readers = [later.this for later in ctes[i + 1 :]] + [tree]
        uses = sum(_reads(reader, name) for reader in readers)
        alias = cte.args.get("alias")
        columns = tuple(c.name for c in alias.columns) if alias is not None else ()
        steps.append(SparkStep(name, columns, _generate(cte.this), materialise=uses > 1))
    return SparkPlan(tuple(steps), _generate(tree))


def _generate(tree: exp.Expr) -> str:
    return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)


def _reads(tree: exp.Expr, name: str) -> int:
    """How often `tree` names the relation `name` (a CTE of the enclosing statement)."""
    return sum(
        1
        for table in tree.find_all(exp.Table)
        if table.name.lower() == name.lower() and not table.args.get("db")
    )


def _transpiled(sql: str, relations: Mapping[str, pa.Schema]) -> exp.Expr:
    """DuckDB SQL as a sqlglot tree, rewritten for Spark's meanings."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    types = _operand_types(tree, relations)
    # Bottom-up (reversed pre-order), so a rewritten node's operands are rewritten already.
    for node in reversed(list(tree.dfs())):
        new = _rewrite(node, types)
        if new is not node:
            node.replace(new)
    return tree


def _rewrite(node: exp.Expr, types: Mapping[int, tuple[str, ...]]) -> exp.Expr:
    if isinstance(node, exp.Cast):
        digits = _hex_digits(node)
        if digits is not None:
            conv = _call("CONV", digits, exp.Literal.number(16), exp.Literal.number(10))
            return exp.Cast(this=conv, to=exp.DataType.build("BIGINT"))
    elif isinstance(node, exp.IntDiv):
        if all(kind in _INTEGRAL for kind in types[id(node)]):
            return node  # sqlglot writes `DIV`: truncating, an error on 0, as in DuckDB
        # DuckDB divides non-integers as doubles here, and fails on a zero divisor as Spark does.
        return exp.paren(exp.Div(this=_double(node.this), expression=_double(node.expression)))
    elif isinstance(node, exp.Div):
        return _ieee_divide(node.this, node.expression)
    elif isinstance(node, exp.Round) and types.get(id(node)) == ("DOUBLE",):
        places = _integer(node.args["decimals"])
        if places is None:
            raise ValueError(f"{node.sql('duckdb')}: only a literal number of digits is supported")
        return _duckdb_round(node.this, places)
    elif isinstance(node, exp.Ln):
        return _duckdb_log(node.this, "LN")
    elif isinstance(node, exp.Log):
        if node.expression is None:
            return _duckdb_log(node.this, "LOG10")
        # DuckDB's log(b, x) is log10(x) / log10(b).
        return _ieee_divide(_duckdb_log(node.expression, "LOG10"), _duckdb_log(node.this, "LOG10"))
    return node


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=[a.copy() for a in args])


def _hex_digits(cast: exp.Cast) -> exp.Expr | None:
    """`x` of DuckDB's hex parse `CAST(('0x' || x) AS <integer type>)`, else None."""
    if not cast.to.is_type(*exp.DataType.INTEGER_TYPES):
        return None
    inner = cast.this.unnest()
    if not isinstance(inner, exp.DPipe):
        return None
    prefix = inner.this
    if isinstance(prefix, exp.Literal) and prefix.is_string and prefix.name.lower() == "0x":
        digits: exp.Expr = inner.expression
        return digits
    return None


def _double(node: exp.Expr) -> exp.Expr:
    return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))


def _special(value: str) -> exp.Expr:
    return exp.Cast(this=exp.Literal.string(value), to=exp.DataType.build("DOUBLE"))


def _ieee_divide(dividend: exp.Expr, divisor: exp.Expr) -> exp.Expr:
    """DuckDB's `/`: double division; x / 0 is ±inf (the sign of the 0 counts), 0 / 0 NaN."""
    left, right = _double(dividend), _double(divisor)
    quotient = exp.Div(this=left, expression=right)
    literal = divisor.unnest()
    if isinstance(literal, exp.Literal) and literal.is_number and float(literal.name) != 0:
        return exp.paren(quotient)
    # POWER(±0.0, -1) is ±inf in Java, and x * ±inf is what IEEE gives for x / ±0.
    by_zero = exp.Mul(this=left.copy(), expression=_call("POWER", right, exp.Literal.number(-1)))
    zero = exp.EQ(this=right.copy(), expression=exp.Literal.number(0))
    return exp.paren(exp.Case(ifs=[exp.If(this=zero, true=by_zero)], default=quotient))


def _duckdb_log(value: exp.Expr, function: str) -> exp.Expr:
    """A logarithm as DuckDB has it: -inf at 0 and NaN below 0 (Spark gives NULL for both)."""
    cases = [
        (exp.Is(this=value.copy(), expression=exp.Null()), exp.Null()),
        (exp.GT(this=value.copy(), expression=exp.Literal.number(0)), _call(function, value)),
        (exp.EQ(this=value.copy(), expression=exp.Literal.number(0)), _special("-Infinity")),
    ]
    ifs = [exp.If(this=condition, true=result) for condition, result in cases]
    return exp.paren(exp.Case(ifs=ifs, default=_special("NaN")))


_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two 26-bit halves
_EXACT = 2.0**52  # below this a double has a fractional part, and half-integers are exact


def _split(value: float) -> tuple[float, float]:
    c = _SPLITTER * value
    high = c - (c - value)
    return high, value - high


def _dbl(value: float) -> str:
    return f"CAST('{value!r}' AS DOUBLE)"


def _product_error(a: str, b: float) -> str:
    """Spark SQL for the rounding error of `a * b` (Dekker's TwoProduct: exact, no overflow)."""
    high = f"(({a} * {_dbl(_SPLITTER)}) - (({a} * {_dbl(_SPLITTER)}) - {a}))"
    low = f"({a} - {high})"
    b_high, b_low = (_dbl(v) for v in _split(b))
    return (
        f"(((({high} * {b_high}) - ({a} * {_dbl(b)})) + ({high} * {b_low}))"
        f" + ({low} * {b_high})) + ({low} * {b_low})"
    )


def _duckdb_round(value: exp.Expr, digits: int) -> exp.Expr:
    """DuckDB's round(double, d): the double's exact binary value rounded half away from zero
    (round(2.675, 2) = 2.67, as 2.675 is 2.67499999…). Spark rounds the shortest decimal form
    (2.68), so x * 10^d is rounded here with its exact rounding error (TwoProduct) breaking the
    ties. Exact while |x| * 10^d < 2^52; beyond, x itself (d >= 0) or Spark's rounding."""
    if abs(digits) > 22:
        raise ValueError(f"round(…, {digits}): at most 22 digits are supported")
    scale = 10.0 ** abs(digits)
    m, limit = _dbl(scale), _dbl(_EXACT)
    if digits >= 0:
        # t = x * m exactly = p + error; only a half-integer p needs the error's sign.
        p = f"(__x__ * {m})"
        error = _product_error("__x__", scale)
        r = f"ROUND({p}, 0)"
        sql = f"""CASE
            WHEN NOT ABS({p}) < {limit} THEN __x__
            WHEN ABS({p} - {r}) = 0.5 AND ({error}) > 0 THEN ({p} + 0.5) / {m}
            WHEN ABS({p} - {r}) = 0.5 AND ({error}) < 0 THEN ({p} - 0.5) / {m}
            ELSE {r} / {m}
        END"""
    else:
        # t = x / m exactly; q = fl(t) lies above t when x - q * m < 0 (exact: Sterbenz).
        q = f"(__x__ / {m})"
        r = f"ROUND({q}, 0)"
        below = f"((__x__ - ({q} * {m})) - ({_product_error(q, scale)}))"
        sql = f"""CASE
            WHEN NOT ABS({q}) < {limit} THEN {r} * {m}
            WHEN ABS({q} - {r}) = 0.5 AND {below} > 0 THEN ({q} + 0.5) * {m}
            WHEN ABS({q} - {r}) = 0.5 AND {below} < 0 THEN ({q} - 0.5) * {m}
            ELSE {r} * {m}
        END"""
    template = sqlglot.parse_one(sql, read="spark")
    x = _double(value)
    for column in list(template.find_all(exp.Column)):
        if column.name == "__x__":
            column.replace(x.copy())
    return exp.paren(template)


def _integer(node: exp.Expr | None) -> int | None:
    """The value of an integer literal (maybe negated or in parentheses), else None."""
    if node is None:
        return 0
    node = node.unnest()
    if isinstance(node, exp.Neg):
        inner = _integer(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Literal) and node.is_int:
        return int(node.name)
    return None


# DuckDB's integer types, as DESCRIBE names them.
_INTEGRAL = frozenset(
    f"{sign}{size}"
    for sign in ("", "U")
    for size in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
)


def _operand_types(
    tree: exp.Expr, relations: Mapping[str, pa.Schema]
) -> dict[int, tuple[str, ...]]:
    """DuckDB's types of the operands of each `//` and `round(x, d)` in the tree, by node id."""
    nodes = [
        node
        for node in tree.find_all(exp.IntDiv, exp.Round)
        if isinstance(node, exp.IntDiv) or node.args.get("decimals") is not None
    ]
    if not nodes:
        return {}
    con = duckdb.connect()
    try:
        for relation, schema in relations.items():
            con.register(relation, schema.empty_table())
        return {id(node): _describe(con, tree, node) for node in nodes}
    finally:
        con.close()


def _describe(con: duckdb.DuckDBPyConnection, tree: exp.Expr, node: exp.Expr) -> tuple[str, ...]:
    """DESCRIBE a node's operands in the SELECT that holds them, with the statement's CTEs."""
    operands = [node.this] + ([node.expression] if isinstance(node, exp.IntDiv) else [])
    select = node.find_ancestor(exp.Select)
    if select is None:
        raise ValueError(f"cannot type the operands of {node.sql('duckdb')}")
    probe = select.copy()
    probe.set("expressions", [exp.alias_(o.copy(), f"o{i}") for i, o in enumerate(operands)])
    for key in ("distinct", "having", "qualify", "order", "limit", "offset"):
        probe.set(key, None)
    ctes = tree.args.get("with_")
    if ctes is not None and probe.args.get("with_") is None:
        probe.set("with_", ctes.copy())
    try:
        described = con.execute(f"DESCRIBE {probe.sql(dialect='duckdb')}").fetchall()
    except duckdb.Error as exc:
        raise ValueError(f"cannot type the operands of {node.sql('duckdb')}: {exc}") from None
    return tuple(str(row[1]).upper() for row in described)
