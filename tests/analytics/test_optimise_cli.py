"""`huancui model uplift` and `huancui optimise` end to end on a generated, planned portfolio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from huancui.access.tables import AuditEventRow
from huancui.analytics.dispatch import DECISION_FEATURES, LOG_SCHEMA, TREATMENTS, decision_features
from huancui.contact.tables import WorkItemRow
from huancui.kit.database import unit_of_work
from huancui.portfolio.snapshot_store import snapshot_dir

from .conftest import Planned

CAPACITY = "call=5,visit=3"


def write_log(planned: Planned, path: Path) -> Path:
    """A randomised decision log over the snapshot's accounts: a call earns 4,000 fen past 30
    days overdue, a visit 30,000 fen on arrears above the median (the costs are 300 and 12,000)."""
    accounts = pq.read_table(
        snapshot_dir(planned.home / "snapshots", planned.as_of) / "accounts.parquet"
    )
    features = decision_features(accounts)
    rng = np.random.default_rng(0)
    rows = features.shape[0]
    share = np.array([0.5, 0.3, 0.2])
    arm = rng.choice(3, size=rows, p=share)
    dpd = features[:, DECISION_FEATURES.index("days_past_due")]
    arrears = features[:, DECISION_FEATURES.index("arrears_fen")]
    reward = rng.normal(5_000, 2_000, rows)
    reward += np.where(arm == 1, 4_000.0 * (dpd > 30), 0.0)
    reward += np.where(arm == 2, 30_000.0 * (arrears > np.median(arrears)), 0.0)
    table = pa.table(
        {
            "account_id": accounts.column("account_id"),
            "day": np.zeros(rows, dtype=np.int64),
            **{name: features[:, i] for i, name in enumerate(DECISION_FEATURES)},
            "treatment": [TREATMENTS[a] for a in arm],
            "propensity": share[arm],
            "reward_fen": reward,
            "allowed_call": np.ones(rows, bool),
            "allowed_visit": np.ones(rows, bool),
        },
        schema=LOG_SCHEMA,
    )
    pq.write_table(table, path)
    return path


def staffed_items(planned: Planned) -> list[WorkItemRow]:
    with unit_of_work(planned.database_url) as session:
        return list(
            session.scalars(
                select(WorkItemRow).where(WorkItemRow.channel.in_(("call", "visit")))
            ).all()
        )


def allocation_events(planned: Planned) -> list[AuditEventRow]:
    with unit_of_work(planned.database_url) as session:
        return list(
            session.scalars(
                select(AuditEventRow).where(AuditEventRow.action == "allocation.applied")
            ).all()
        )


def test_balance_works_without_a_model_and_optimised_says_how_to_train_one(
    planned: Planned,
) -> None:
    day = planned.as_of.isoformat()
    ranked = planned.cli("optimise", "--as-of", day, "--capacity", CAPACITY, "--policy", "balance",
                         "--json")  # fmt: skip
    assert ranked.exit_code == 0, ranked.output
    result = json.loads(ranked.stdout)
    assert result["used"] == {"call": 5, "visit": 3} and result["expected_net_fen"] is None
    assert result["candidates"]["accounts"] > 8 and result["model_version"] is None
    refused = planned.cli("optimise", "--as-of", day, "--capacity", CAPACITY)
    assert refused.exit_code != 0 and "huancui model uplift --log" in refused.output
    bad = planned.cli("optimise", "--as-of", day, "--capacity", "call=abc,visit=1")
    assert bad.exit_code == 2 and "call='abc' is not a whole number" in bad.output
    half = planned.cli("optimise", "--as-of", day, "--capacity", "call=3")
    assert half.exit_code == 2 and "visit=N" in half.output


def test_uplift_model_drives_the_allocation_and_apply_defers_the_rest_once(
    planned: Planned, tmp_path: Path
) -> None:
    day = planned.as_of.isoformat()
    log = write_log(planned, tmp_path / "decisions.parquet")
    trained = planned.cli("model", "uplift", "--log", str(log), "--json")
    assert trained.exit_code == 0, trained.output
    model = json.loads(trained.stdout)
    assert model["version"] == 1 and model["treatments"]["visit"]["qini_z"] > 3
    metadata = json.loads(Path(model["artifact"], "metadata.json").read_text(encoding="utf-8"))
    assert metadata["kind"] == "uplift" and len(metadata["data_sha256"]) == 64

    done = planned.cli("optimise", "--as-of", day, "--capacity", CAPACITY, "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["model_version"] == 1 and result["solver_status"] == "optimal"
    assert result["used"]["call"] <= 5 and result["used"]["visit"] <= 3
    assert result["expected_net_fen"] >= result["balance_expected_net_fen"]
    allocation = pq.read_table(result["file"])
    assert allocation.num_rows == result["candidates"]["accounts"]
    assert {"account_id", "treatment", "propensity", "value_fen", "balance_treatment"} <= set(
        allocation.column_names
    )

    before = {i.work_item_id: i.status for i in staffed_items(planned)}
    applied = planned.cli("optimise", "--as-of", day, "--capacity", CAPACITY, "--apply",
                          "--actor", "dispatcher", "--json")  # fmt: skip
    assert applied.exit_code == 0, applied.output
    counts = json.loads(applied.stdout)["applied"]
    given = dict(
        zip(
            allocation.column("account_id").to_pylist(),
            allocation.column("treatment").to_pylist(),
            strict=True,
        )
    )
    items = staffed_items(planned)
    for item in items:
        if before[item.work_item_id] != "open":
            continue
        if given.get(item.account_id) == item.channel:
            assert item.status == "open"
        else:
            assert item.status == "deferred" and f"capacity allocation {day}" in (
                item.status_reason or ""
            )
    deferred = sum(i.status == "deferred" for i in items)
    assert counts == {"deferred": deferred, "reopened": 0} and deferred > 0
    assert sum(i.status == "open" for i in items) == sum(result["used"].values())
    (event,) = allocation_events(planned)
    assert event.actor == "dispatcher" and event.entity_id == day

    again = planned.cli("optimise", "--as-of", day, "--capacity", CAPACITY, "--apply", "--json")
    assert json.loads(again.stdout)["applied"] == {"deferred": 0, "reopened": 0}
    assert len(allocation_events(planned)) == 1

    shown = planned.cli("optimise", "--as-of", day, "--capacity", CAPACITY)
    assert shown.exit_code == 0, shown.output
    assert "solver optimal" in shown.output and "yuan" in shown.output

    # The text report gives the held-out Qini in yuan, as the effects are, beside arrears alone.
    again_trained = planned.cli("model", "uplift", "--log", str(log))
    assert again_trained.exit_code == 0, again_trained.output
    visit = model["treatments"]["visit"]
    assert (
        f"Qini {visit['qini_coefficient'] / 100:,.2f} yuan per account (arrears alone "
        f"{visit['qini_average_only'] / 100:,.2f} yuan" in again_trained.output
    )
