"""Features and labels: the catalogue, point-in-time correctness, hand-checked labels, and a check
against the generator's latent ability and willingness."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huancui.analytics.features import FEATURES, build_features
from huancui.analytics.labels import TARGETS, build_labels
from huancui.kit.errors import InvalidInput
from huancui.kit.sql import lit
from huancui.portfolio.policy import load_policy

from .conftest import World

FEATURE_DAY = date(2026, 9, 30)
LABEL_DAY = date(2026, 10, 28)  # + 30 days = the snapshot's as-of date
SHANGHAI = timedelta(hours=8)
RANK = {b.name: i for i, b in enumerate(load_policy(None).buckets)}


@pytest.fixture(scope="module")
def features_on_day(snapshot: Path) -> pa.Table:
    return build_features(snapshot, FEATURE_DAY)


def _rows(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def _copy_with(snapshot: Path, target: Path, queries: dict[str, str]) -> Path:
    """A copy of the snapshot folder where each named file is replaced by a query's result
    (the query sees the original file as `f`)."""
    shutil.copytree(snapshot, target)
    con = duckdb.connect()
    try:
        for name, query in queries.items():
            path = target / f"{name}.parquet"
            table = con.sql(
                f"WITH f AS (SELECT * FROM read_parquet({lit(str(snapshot / (name + '.parquet')))}))"
                f" {query}"
            ).to_arrow_table()
            pq.write_table(table, path)
    finally:
        con.close()
    return target


def _cut_after(snapshot: Path, target: Path, day: date) -> Path:
    """The snapshot as it would have looked on `day`: later rows deleted, later spell ends open."""
    d = f"DATE '{day.isoformat()}'"
    midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) - SHANGHAI
    return _copy_with(
        snapshot,
        target,
        {
            "dues": f"SELECT * FROM f WHERE due_date <= {d}",
            "payments": f"SELECT * FROM f WHERE paid_date <= {d}",
            "contacts": f"SELECT * FROM f WHERE contacted_at < TIMESTAMPTZ '{midnight.isoformat()}'",
            "holds": f"SELECT * FROM f WHERE start_date <= {d}",
            "delinquency_spells": "SELECT * REPLACE (CASE WHEN ended_on > "
            f"{d} THEN NULL ELSE ended_on END AS ended_on) FROM f WHERE started_on <= {d}",
        },
    )


# --- the catalogue -------------------------------------------------------------------------------


def test_every_feature_is_named_once_and_explained_in_english_and_chinese() -> None:
    names = [f.name for f in FEATURES]
    assert len(names) == len(set(names))
    assert 15 <= len(FEATURES) <= 25
    han = re.compile(r"[\u4e00-\u9fff]")
    for f in FEATURES:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f.name), f.name
        assert f.label_en and f.higher_means_en, f.name
        assert han.search(f.label_zh) and han.search(f.higher_means_zh), f.name


def test_build_features_returns_exactly_the_catalogue_columns_as_float64(
    features_on_day: pa.Table,
) -> None:
    expected = ["account_id", "customer_id", "as_of", *(f.name for f in FEATURES)]
    assert features_on_day.column_names == expected
    assert features_on_day.schema.field("as_of").type == pa.date32()
    for f in FEATURES:
        assert features_on_day.schema.field(f.name).type == pa.float64(), f.name
    assert set(features_on_day.column("as_of").to_pylist()) == {FEATURE_DAY}


def test_population_is_every_account_open_on_the_day_once(
    snapshot: Path, features_on_day: pa.Table
) -> None:
    ids = features_on_day.column("account_id").to_pylist()
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    accounts = {a["account_id"]: a for a in _rows(snapshot / "accounts.parquet")}
    charged_off_by = {
        s["account_id"]: s["started_on"]
        for s in _rows(snapshot / "delinquency_spells.parquet")
        if s["event"] == "charged_off"
    }
    for account_id in ids:
        a = accounts[account_id]
        assert a["open_date"] <= FEATURE_DAY
        assert charged_off_by.get(account_id, date.max) > FEATURE_DAY
    opened_later = [k for k, a in accounts.items() if a["open_date"] > FEATURE_DAY]
    assert not set(opened_later) & set(ids)
    # Still open then: charged off later, or a loan that matured after the day.
    later_charge_off = {k for k, d in charged_off_by.items() if d > FEATURE_DAY}
    assert later_charge_off & set(ids) == {
        k for k in later_charge_off if accounts[k]["open_date"] <= FEATURE_DAY
    }


def test_arrears_and_days_past_due_today_match_the_snapshot_on_its_own_date(
    snapshot: Path, world: World
) -> None:
    features = build_features(snapshot, world.as_of).to_pylist()
    accounts = {a["account_id"]: a for a in _rows(snapshot / "accounts.parquet")}
    for row in features:
        a = accounts[row["account_id"]]
        assert row["days_past_due"] == a["days_past_due"]
        assert row["arrears_yuan"] == a["arrears_fen"] / 100


# --- point in time -------------------------------------------------------------------------------


def test_features_on_a_day_ignore_every_row_dated_after_it(
    snapshot: Path, features_on_day: pa.Table, tmp_path: Path
) -> None:
    cut = _cut_after(snapshot, tmp_path / "cut", FEATURE_DAY)
    assert (
        pq.read_table(cut / "payments.parquet").num_rows
        < pq.read_table(snapshot / "payments.parquet").num_rows
    )
    assert build_features(cut, FEATURE_DAY).equals(features_on_day)


def test_a_contact_counts_on_its_shanghai_calendar_day(
    snapshot: Path, features_on_day: pa.Table, tmp_path: Path
) -> None:
    first, second = features_on_day.column("account_id").to_pylist()[:2]
    late_evening = datetime.combine(FEATURE_DAY, time(23, 30), tzinfo=UTC) - SHANGHAI
    just_after_midnight = late_evening + timedelta(hours=1)
    copy = _copy_with(
        snapshot,
        tmp_path / "copy",
        {
            "contacts": f"""
            SELECT * FROM f UNION ALL BY NAME
            SELECT * FROM (VALUES
                ('T1', '{first}', TIMESTAMPTZ '{late_evening.isoformat()}', 'call', true,
                 true, 'right_party', NULL),
                ('T2', '{second}', TIMESTAMPTZ '{just_after_midnight.isoformat()}', 'call', true,
                 true, 'right_party', NULL))
              t(contact_id, account_id, contacted_at, channel, connected, right_party, outcome,
                agent_id)
            """
        },
    )
    before = {r["account_id"]: r for r in features_on_day.to_pylist()}
    after = {r["account_id"]: r for r in build_features(copy, FEATURE_DAY).to_pylist()}
    assert after[first]["call_attempts_90d"] == before[first]["call_attempts_90d"] + 1
    assert after[second] == before[second]


_LATER = st.integers(min_value=1, max_value=(date(2026, 11, 27) - FEATURE_DAY).days)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    payments=st.lists(
        st.tuples(st.integers(0, 10_000), _LATER, st.integers(1, 10_000_000)), max_size=30
    ),
    contacts=st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.integers(0, 50 * 86_400),  # seconds after the next local midnight
            st.sampled_from(["call", "sms", "visit"]),
            st.booleans(),
            st.sampled_from(["promise", "right_party", "no_answer", "paid", "refusal"]),
        ),
        max_size=30,
    ),
)
def test_rows_dated_after_the_day_never_change_its_features(
    snapshot: Path,
    features_on_day: pa.Table,
    payments: list[tuple[int, int, int]],
    contacts: list[tuple[int, int, str, bool, str]],
) -> None:
    ids = features_on_day.column("account_id").to_pylist()
    midnight = datetime.combine(FEATURE_DAY + timedelta(days=1), time(), tzinfo=UTC) - SHANGHAI
    pay_rows = ", ".join(
        f"('X{i}', '{ids[a % len(ids)]}', DATE '{(FEATURE_DAY + timedelta(days=d)).isoformat()}',"
        f" {amount}, 'app')"
        for i, (a, d, amount) in enumerate(payments)
    )
    contact_rows = ", ".join(
        f"('Y{i}', '{ids[a % len(ids)]}', "
        f"TIMESTAMPTZ '{(midnight + timedelta(seconds=s)).isoformat()}', '{channel}', {rp}, "
        f"{rp}, '{outcome}', NULL)"
        for i, (a, s, channel, rp, outcome) in enumerate(contacts)
    )
    queries = {}
    if pay_rows:
        queries["payments"] = (
            "SELECT * FROM f UNION ALL SELECT * FROM (VALUES " + pay_rows + ") "
            "t(payment_id, account_id, paid_date, amount, channel)"
        )
    if contact_rows:
        queries["contacts"] = (
            "SELECT * FROM f UNION ALL BY NAME SELECT * FROM (VALUES " + contact_rows + ") "
            "t(contact_id, account_id, contacted_at, channel, connected, right_party, outcome, "
            "agent_id)"
        )
    with tempfile.TemporaryDirectory() as work:
        copy = _copy_with(snapshot, Path(work) / "copy", queries)
        assert build_features(copy, FEATURE_DAY).equals(features_on_day)


# --- labels --------------------------------------------------------------------------------------


def _bucket_on(spells: list[dict[str, Any]], day: date) -> dict[str, str]:
    """Each account's bucket on `day` straight from the snapshot's spells (absent: never late)."""
    found: dict[str, str] = {}
    for s in spells:
        started, ended = s["started_on"], s["ended_on"]
        assert isinstance(started, date)
        if started <= day and (ended is None or (isinstance(ended, date) and ended > day)):
            found[str(s["account_id"])] = str(s["bucket"])
    return found


@pytest.fixture(scope="module")
def label_day_features(snapshot: Path) -> dict[str, dict[str, Any]]:
    return {r["account_id"]: r for r in build_features(snapshot, LABEL_DAY).to_pylist()}


@pytest.fixture(scope="module")
def spells(snapshot: Path) -> list[dict[str, Any]]:
    return _rows(snapshot / "delinquency_spells.parquet")


def test_pay_30d_is_one_when_the_next_30_days_cover_the_oldest_unpaid_due(
    snapshot: Path,
    label_day_features: dict[str, dict[str, Any]],
    spells: list[dict[str, Any]],
) -> None:
    labels = dict(_pairs(build_labels(snapshot, LABEL_DAY, "pay_30d")))
    on_day = _bucket_on(spells, LABEL_DAY)
    past_due = {k for k in label_day_features if RANK[on_day.get(k, "M0")] > 0}
    assert set(labels) == past_due and len(labels) >= 30
    paid: defaultdict[str, int] = defaultdict(int)
    for p in _rows(snapshot / "payments.parquet"):
        if LABEL_DAY < p["paid_date"] <= LABEL_DAY + timedelta(days=30):
            paid[str(p["account_id"])] += int(p["amount"])
    due_on: defaultdict[tuple[str, date], int] = defaultdict(int)
    for d in _rows(snapshot / "dues.parquet"):
        amount = int(d["principal_due"]) + int(d["interest_due"]) + int(d["fee_due"])
        due_on[(str(d["account_id"]), d["due_date"])] += amount
    for account_id, label in labels.items():
        dpd = label_day_features[account_id]["days_past_due"]
        assert isinstance(dpd, float) and dpd > 0
        oldest = LABEL_DAY - timedelta(days=int(dpd))
        minimum = due_on[(account_id, oldest)]
        assert minimum > 0
        assert label == int(paid[account_id] >= minimum), account_id
    assert 0 < sum(labels.values()) < len(labels)


def test_roll_is_one_when_the_bucket_30_days_later_is_worse_or_charged_off(
    snapshot: Path,
    label_day_features: dict[str, dict[str, Any]],
    spells: list[dict[str, Any]],
) -> None:
    labels = dict(_pairs(build_labels(snapshot, LABEL_DAY, "roll")))
    on_day = _bucket_on(spells, LABEL_DAY)
    assert set(labels) == {k for k in label_day_features if RANK[on_day.get(k, "M0")] > 0}
    # 30 days on is the snapshot's own date: the accounts file holds the bucket then.
    accounts = {a["account_id"]: a for a in _rows(snapshot / "accounts.parquet")}
    for account_id, label in labels.items():
        a = accounts[account_id]
        worse = bool(a["charged_off"]) or RANK[str(a["bucket"])] > RANK[on_day[account_id]]
        assert label == int(worse), account_id
    assert 0 < sum(labels.values()) < len(labels)


def test_early_warning_is_one_when_a_current_account_falls_past_due_within_30_days(
    snapshot: Path,
    label_day_features: dict[str, dict[str, Any]],
    spells: list[dict[str, Any]],
) -> None:
    labels = dict(_pairs(build_labels(snapshot, LABEL_DAY, "early_warning")))
    on_day = _bucket_on(spells, LABEL_DAY)
    assert set(labels) == {k for k in label_day_features if RANK[on_day.get(k, "M0")] == 0}
    end = LABEL_DAY + timedelta(days=30)
    fell = {
        str(s["account_id"])
        for s in spells
        if s["bucket"] != "M0" and LABEL_DAY < s["started_on"] <= end
    }
    for account_id, label in labels.items():
        assert label == int(account_id in fell), account_id
    assert 0 < sum(labels.values()) < len(labels)


@pytest.mark.parametrize("target", TARGETS)
def test_labels_refuse_a_horizon_beyond_the_snapshot(snapshot: Path, target: str) -> None:
    with pytest.raises(InvalidInput, match="as_of"):
        build_labels(snapshot, LABEL_DAY + timedelta(days=1), target)
    with pytest.raises(InvalidInput, match="as_of"):
        build_labels(snapshot, LABEL_DAY, target, horizon_days=31)


def test_features_and_labels_refuse_what_they_cannot_compute(snapshot: Path, world: World) -> None:
    with pytest.raises(InvalidInput, match="as_of"):
        build_features(snapshot, world.as_of + timedelta(days=1))
    with pytest.raises(InvalidInput, match="target"):
        build_labels(snapshot, LABEL_DAY, "pay_60d")


def test_customers_more_able_and_willing_pay_more_often(snapshot: Path, truth: Path) -> None:
    traits = {
        r["customer_id"]: float(r["ability"]) + float(r["willingness"])
        for r in _rows(truth / "customers.parquet")
    }
    customer_of = {a["account_id"]: a["customer_id"] for a in _rows(snapshot / "accounts.parquet")}
    outcomes: list[tuple[float, int]] = []
    for day in (date(2026, 8, 31), date(2026, 9, 30), LABEL_DAY):
        for account_id, label in _pairs(build_labels(snapshot, day, "pay_30d")):
            outcomes.append((traits[customer_of[account_id]], label))
    median = sorted(t for t, _ in outcomes)[len(outcomes) // 2]
    high = [label for t, label in outcomes if t > median]
    low = [label for t, label in outcomes if t <= median]
    assert len(high) >= 30 and len(low) >= 30
    assert sum(high) / len(high) > sum(low) / len(low)


def _pairs(labels: pa.Table) -> list[tuple[str, int]]:
    assert labels.column_names == ["account_id", "label"]
    assert labels.schema.field("label").type == pa.int8()
    return list(
        zip(
            labels.column("account_id").to_pylist(), labels.column("label").to_pylist(), strict=True
        )
    )
