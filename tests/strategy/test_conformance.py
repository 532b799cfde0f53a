"""DuckDB and Spark give the same plan: every column, every row, in the same order.

One synthetic portfolio of 50,000 accounts is generated and imported through the real code once
per test session; the plan is then written by both engines for the default strategy under the
`cn` and `us-reg-f` packs, and for a variant with more experiments, an account-ordering priority
that meets every rewrite of strategy/spark.py (inf and NaN included), a gap in the segments, a
pack with tight frequency caps, vulnerable customers and no contact history file, and for a
strategy whose segment and priority read a model score file (NULL for unscored accounts). Each case first
checks that the plan is far from trivial, so that agreement cannot come from empty output.

Needs Java: skipped without `java` on the PATH, except in CI (CI=true), where that fails.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from huancui.contact.policy import PACKS_DIR, CompliancePack, load_pack
from huancui.kit.settings import Settings
from huancui.portfolio.importer import import_delivery
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.portfolio.synthetic.generate import generate_portfolio
from huancui.strategy.engines import DuckDBEngine
from huancui.strategy.loader import parse_strategy
from huancui.strategy.pipeline import build_query
from huancui.strategy.spec import Strategy
from tests.strategy.conftest import DEFAULT_STRATEGY

pytestmark = pytest.mark.spark

AS_OF = date(2026, 11, 27)
ACCOUNTS = 50_000
REL_TOL = 1e-9

# The variant's priority: exact division of decimals and of a column that is often 0 (inf, and NaN
# for 0 / 0), integer and fractional `//`, `%`, ln, log10 and round, all feeding the cap ranking.
VARIANT_PRIORITY = (
    "arrears_fen / 100.0 * (1 + days_past_due / 30.0)"
    " + paid_30d_fen / (days_past_due % 3)"
    " + ln(1 + arrears_fen // 100) - log(1 + days_past_due)"
    " + round((arrears_fen / 100.0) // 7, 2)"
)
VARIANT_CHALLENGERS: list[dict[str, Any]] = [
    {
        "experiment": "standard_contact_mix",
        "arm": "call_heavy",
        "segment": "standard",  # every stage of the segment
        "traffic_share": 0.25,
        "treatment": {"channels": ["call", "sms", "email"], "tone": "firm", "cadence_days": 1},
    },
    {
        "experiment": "standard_contact_mix",
        "arm": "letter_only",
        "segment": "standard",
        "traffic_share": 0.15,
        "treatment": {"channels": ["letter"], "template": "letter.gentle_notice", "queue": "mail"},
    },
    {
        "experiment": "high_risk_late_order",
        "arm": "legal_first",
        "segment": "high_risk",
        "stage": "late",
        "traffic_share": 0.5,
        "treatment": {"channels": ["legal", "visit"]},
    },
]


def _cap(rule: str, channel: str, scope: str, *, days: int, most: int) -> dict[str, Any]:
    text = f"At most {most} {channel} attempts per {scope} in {days} days (conformance test)."
    return {"id": rule, "channel": channel, "scope": scope, "counts": "attempts", "days": days,
            "max": most, "text_en": text, "text_zh": "一致性测试用的频率上限。"}  # fmt: skip


# Frequency caps tight enough that the plan's own calls compete, highest priority first.
VARIANT_CAPS = [
    _cap("test.one_call_per_debtor_day", "call", "debtor", days=1, most=1),
    _cap("test.one_sms_per_debt_3d", "sms", "debt", days=3, most=1),
    _cap("test.no_letter_per_debtor_day", "letter", "debtor", days=1, most=0),
]


# -- fixtures ------------------------------------------------------------------------------------


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[Any]:
    """The Spark engine, its session started once; skipped without Java (failed in CI)."""
    if shutil.which("java") is None:
        if _in_ci():
            pytest.fail("the Spark conformance suite needs Java 17 in CI (no `java` on PATH)")
        pytest.skip("the Spark engine needs Java 17 (no `java` on PATH)")
    from huancui.strategy.spark import SparkEngine, get_spark, stop_spark

    started = time.perf_counter()
    get_spark()
    print(f"\nSpark start-up: {time.perf_counter() - started:.1f} s")
    yield SparkEngine(Settings())
    stop_spark()


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The imported snapshot folder of a 50,000-account synthetic portfolio (built once)."""
    root = tmp_path_factory.mktemp("conformance")
    home = root / "home"
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'huancui.db'}")
    generate_portfolio(accounts=ACCOUNTS, months=13, seed=3, as_of=AS_OF, out=root / "delivery")
    result = import_delivery(
        directory=root / "delivery", as_of=AS_OF, settings=settings, policy=DelinquencyPolicy()
    )
    assert result.accounts == ACCOUNTS
    return settings.snapshots_dir / AS_OF.isoformat()


@pytest.fixture(scope="session")
def variant_snapshot(snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The snapshot with every 40th delinquent account held as vulnerable and no contacts file."""
    folder = tmp_path_factory.mktemp("variant-snapshot")
    for name in ("accounts", "customers"):
        shutil.copyfile(snapshot / f"{name}.parquet", folder / f"{name}.parquet")
    holds = pq.read_table(snapshot / "holds.parquet")
    con = duckdb.connect()
    chosen = [
        row
        for row in con.execute(
            f"""
            SELECT account_id, customer_id FROM (
                SELECT account_id, customer_id, row_number() OVER (ORDER BY account_id) AS n
                FROM '{snapshot / "accounts.parquet"}'
                WHERE days_past_due >= 1 AND NOT charged_off
            ) WHERE n % 40 = 0
            """
        ).fetchall()
    ]
    con.close()
    extra = pa.table(
        {
            "hold_id": [f"HV{i:05d}" for i in range(len(chosen))],
            "account_id": [account for account, _ in chosen],
            "hold_type": ["vulnerable"] * len(chosen),
            "channel": pa.nulls(len(chosen), pa.string()),
            "start_date": [date(2026, 11, 1)] * len(chosen),
            "end_date": pa.nulls(len(chosen), pa.date32()),
            "reason": ["conformance test"] * len(chosen),
            # An imported holds file names each account's customer (snapshot_store).
            "customer_id": [customer for _, customer in chosen],
        }
    ).cast(holds.schema)
    pq.write_table(pa.concat_tables([holds, extra]), folder / "holds.parquet")
    return folder


def default_strategy() -> Strategy:
    loaded = parse_strategy(DEFAULT_STRATEGY.read_text(encoding="utf-8"), source="default.yaml")
    assert loaded.valid, loaded.errors
    assert loaded.strategy is not None
    return loaded.strategy


def variant_strategy() -> Strategy:
    data = yaml.safe_load(DEFAULT_STRATEGY.read_text(encoding="utf-8"))
    assert data["challengers"], "the default strategy runs an experiment"
    data["name"] = "conformance_variant"
    data["segments"][-1]["condition"] = "days_past_due <= 120"  # no catch-all: some match nothing
    data["priority"] = VARIANT_PRIORITY
    data["challengers"] = [*data["challengers"], *VARIANT_CHALLENGERS]
    loaded = parse_strategy(yaml.safe_dump(data, allow_unicode=True), source="variant.yaml")
    assert loaded.valid, loaded.errors
    assert loaded.strategy is not None
    return loaded.strategy


def variant_pack(folder: Path) -> CompliancePack:
    data = yaml.safe_load((PACKS_DIR / "cn.yaml").read_text(encoding="utf-8"))
    data["name"] = "cn-tight"
    data["frequency_caps"] = VARIANT_CAPS
    path = folder / "cn-tight.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_pack(path).pack


def scored_strategy() -> Strategy:
    """The default with the prime segment and the priority driven by a model score."""
    data = yaml.safe_load(DEFAULT_STRATEGY.read_text(encoding="utf-8"))
    data["name"] = "conformance_scored"
    data["segments"][0]["condition"] = "coalesce(score_pay_30d, 0) >= 0.6 AND days_past_due <= 30"
    data["priority"] = "arrears_fen * (1 - coalesce(score_pay_30d, 0.5)) + coalesce(score_roll, 0)"
    loaded = parse_strategy(yaml.safe_dump(data, allow_unicode=True), source="scored.yaml")
    assert loaded.valid, loaded.errors
    assert loaded.strategy is not None
    return loaded.strategy


@pytest.fixture(scope="session")
def score_folder(snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pay_30d score for four in five delinquent accounts (the rest NULL), as `model score`
    writes it; the values come from a hash, so they spread over [0, 1)."""
    folder = tmp_path_factory.mktemp("scores")
    con = duckdb.connect()
    table = con.sql(
        f"""
        SELECT account_id,
               (hash(account_id) % 10000) / 10000.0 AS score_pay_30d,
               0.5 AS scorecard_pay_30d, 'test' AS reasons, CAST(1 AS INTEGER) AS model_version
        FROM '{snapshot / "accounts.parquet"}'
        WHERE days_past_due >= 1 AND hash(account_id) % 5 <> 0
        """
    ).to_arrow_table()
    con.close()
    pq.write_table(table, folder / "pay_30d.parquet")
    return folder


@dataclass(frozen=True)
class Case:
    strategy: str  # "default", "variant" or "scored"
    pack: str  # a shipped pack, or "cn-tight"
    variant_snapshot: bool = False


CASES = {
    "default-cn": Case("default", "cn"),
    "default-us-reg-f": Case("default", "us-reg-f"),
    "variant-cn-tight": Case("variant", "cn-tight", variant_snapshot=True),
    "scored-cn": Case("scored", "cn"),
}
STRATEGIES = {"default": default_strategy, "variant": variant_strategy, "scored": scored_strategy}


# -- comparison ----------------------------------------------------------------------------------


def _same_double(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)


def assert_same_table(duck: pa.Table, spark: pa.Table, *, key: str = "account_id") -> None:
    """Same column names and types, same rows in the same order (doubles to 1e-9 relative)."""
    assert spark.column_names == duck.column_names
    types = {n: (duck.schema.field(n).type, spark.schema.field(n).type) for n in duck.column_names}
    assert {n: t for n, t in types.items() if t[0] != t[1]} == {}, "column types differ"
    assert spark.num_rows == duck.num_rows
    keys = duck.column(key).to_pylist()
    for name in duck.column_names:
        left, right = duck.column(name).to_pylist(), spark.column(name).to_pylist()
        if pa.types.is_floating(types[name][0]):
            bad = [
                i
                for i, (a, b) in enumerate(zip(left, right, strict=True))
                if not _same_double(a, b)
            ]
        else:
            bad = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
        examples = [(i, keys[i], left[i], right[i]) for i in bad[:5]]
        assert not bad, f"{name}: {len(bad)} rows differ (row, {key}, duckdb, spark): {examples}"


def distinct(table: pa.Table, column: str) -> set[Any]:
    return set(pc.unique(table.column(column)).to_pylist()) - {None}


def count(table: pa.Table, mask: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(pc.fill_null(mask, False), pa.int64())).as_py() or 0)


def assert_not_trivial(plan: pa.Table, case: Case) -> None:
    """The plan exercises the guard and the strategy broadly, so agreement means something."""
    assert plan.num_rows > 2_000
    assert len(distinct(plan, "account_id")) > 1_500
    assert {"prime", "standard", "high_risk"} <= distinct(plan, "segment")
    assert {"early", "contact", "late"} <= distinct(plan, "stage")
    assert len(distinct(plan, "channel")) >= 5
    assert distinct(plan, "status") == {"planned", "suppressed"}
    assert len(distinct(plan, "suppressed_by")) >= 4
    assert {"champion", "sms_and_email"} <= distinct(plan, "arm")
    assert len(distinct(plan, "idempotency_key")) > 2_000
    if case.strategy == "scored":
        # Prime comes from the score alone here, and unscored accounts get the NULL default.
        assert count(plan, pc.equal(plan.column("segment"), "prime")) > 500
    if case.strategy == "variant":
        assert {"call_heavy", "letter_only", "legal_first"} <= distinct(plan, "arm")
        assert count(plan, pc.is_null(plan.column("segment"))) > 10  # no segment matched
        assert count(plan, pc.equal(plan.column("queue"), "specialist_care")) > 10
        caps = {rule for rule in distinct(plan, "suppressed_by") if rule.startswith("test.")}
        assert len(caps) >= 2, caps
        priority = plan.column("priority")
        assert count(plan, pc.is_nan(priority)) > 10
        assert count(plan, pc.is_inf(priority)) > 10
        assert count(plan, pc.is_finite(priority)) > 1_000


# -- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", list(CASES))
def test_duckdb_and_spark_write_the_same_plan(
    case_id: str,
    spark_engine: Any,
    snapshot: Path,
    variant_snapshot: Path,
    score_folder: Path,
    tmp_path: Path,
) -> None:
    case = CASES[case_id]
    strategy = STRATEGIES[case.strategy]()
    pack = load_pack(case.pack).pack if case.pack != "cn-tight" else variant_pack(tmp_path)
    folder = variant_snapshot if case.variant_snapshot else snapshot
    scores = score_folder if case.strategy == "scored" else None
    query = build_query(strategy=strategy, pack=pack, snapshot=folder, as_of=AS_OF, scores=scores)
    assert len(query.scores) == (1 if scores else 0)
    if case.variant_snapshot:
        assert query.file("contacts") is None  # the empty stand-in is used

    started = time.perf_counter()
    DuckDBEngine(Settings()).write_plan(query, tmp_path / "duckdb.parquet")
    duck_seconds = time.perf_counter() - started
    started = time.perf_counter()
    spark_engine.write_plan(query, tmp_path / "spark.parquet")
    spark_seconds = time.perf_counter() - started
    print(f"\n{case_id}: DuckDB {duck_seconds:.1f} s, Spark {spark_seconds:.1f} s")

    duck = pq.read_table(tmp_path / "duckdb.parquet")
    spark = pq.read_table(tmp_path / "spark.parquet")
    assert not pq.ParquetFile(tmp_path / "spark.parquet").metadata.created_by.startswith("DuckDB")
    assert_not_trivial(duck, case)
    assert_same_table(duck, spark)


# Expressions whose meaning differs between the dialects unless strategy/spark.py rewrites them,
# evaluated on edge values by both engines.
EXPRESSIONS = {
    "int_div": "i / j",
    "int_div_literal": "i / 30.0 + 1",
    "decimal_div": "i / 100.0 * (1 + j / 30.0)",
    "double_div": "f / j",
    "zero_div": "f / (j - j)",
    "floor_int": "i // 7",
    "floor_negative": "(0 - i) // 7",
    "floor_fraction": "(i / 2.0) // 3",
    "floor_decimal": "(i * 1.5) // 2",
    "modulo": "i % 7 + f % 2.5",
    "ln": "ln(i)",
    "log10": "log(i)",
    "log_base": "log(2, i + 1)",
    "round": "round(f, 2) + round(i / 3.0, 1)",
    "round_ties": "round(f * 10, 1) + round(f, -1) + round(i * 12.5, -1)",
    "least_greatest": "least(i, f) + greatest(j, 2.5)",
    "hex": "CAST(('0x' || substr(sha256('e:' || s), 1, 13)) AS BIGINT)",
    "sha": "substr(sha256(concat_ws('|', CAST(d AS VARCHAR), s, NULL, s)), 1, 32)",
    "date_minus_int": "d - j",
}


def test_rewritten_expressions_agree(spark_engine: Any) -> None:
    from huancui.strategy.spark import get_spark, transpile

    table = pa.table(
        {
            "n": pa.array(range(7), pa.int32()),
            "i": pa.array([0, 1, 7, -7, 30, 123456789, None], pa.int64()),
            "j": pa.array([0, 3, -2, 0, 30, 1, 5], pa.int32()),
            "f": pa.array([0.0, -1.5, 2.675, 1e300, 4.35, float("nan"), None], pa.float64()),
            "s": pa.array(["A0001", "", "ü", "x", None, "A0002", "z"], pa.string()),
            "d": pa.array([date(2026, 11, 28)] * 6 + [None], pa.date32()),
        }
    )
    columns = ", ".join(f"{sql} AS {name}" for name, sql in EXPRESSIONS.items())
    sql = f"SELECT n, {columns} FROM t ORDER BY n"
    con = duckdb.connect()
    con.register("t", table)
    duck = con.sql(sql).to_arrow_table()
    con.close()
    session = get_spark().newSession()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    session.createDataFrame(table).createOrReplaceTempView("t")
    spark = session.sql(transpile(sql, {"t": table.schema})).toArrow()
    # Integer results: INTEGER in DuckDB may be BIGINT in Spark (`DIV`); compare the values.
    for name in duck.column_names:
        expected, actual = duck.column(name).type, spark.column(name).type
        if pa.types.is_integer(expected) and pa.types.is_integer(actual):
            spark = spark.set_column(
                spark.column_names.index(name), name, spark.column(name).cast(expected)
            )
    assert_same_table(duck, spark, key="n")
