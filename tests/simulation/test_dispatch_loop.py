"""Staff capacity in the closed loop: planned calls and visits cut to what the staff can make by a
dispatch policy, every candidate logged with its reward, and nothing changed without one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from huancui.analytics.dispatch import LOG_SCHEMA, RESOURCES, check_log
from huancui.kit.errors import InvalidInput
from huancui.kit.settings import Settings
from huancui.monitoring.data import load_channel_costs
from huancui.simulation.kpis import run_kpis
from huancui.simulation.loop import DECISION_REWARD_DAYS, WORK, Dispatch, RunOutcome
from huancui.simulation.runner import from_scenario_file, resolve_dispatch
from huancui.simulation.world import World
from huancui.strategy.loader import load_strategy

from ..conftest import Cli
from .conftest import ROOT, Runner

DEFAULT = load_strategy(ROOT / "strategies" / "default.yaml").strategy
assert DEFAULT is not None
CAPACITY = {"call": 6, "visit": 4}
LOG_DAYS = DECISION_REWARD_DAYS + 2  # the windows of the first three nights close
COSTS, _ = load_channel_costs(None)


def _made_per_day(outcome: RunOutcome) -> dict[str, np.ndarray]:
    """Calls and visits the world delivered, per simulated day (its own contact records)."""
    contacts = pa.concat_tables(outcome.world.contacts)
    made = contacts.filter(pc.starts_with(contacts.column("contact_id"), "SIM"))
    day = pc.cast(pc.cast(made.column("contacted_at"), pa.timestamp("us")), pa.date32())
    counts = (
        pa.table({"day": day, "channel": made.column("channel")})
        .group_by(["day", "channel"])
        .aggregate([([], "count_all")])
    )
    return {
        channel: np.asarray(
            counts.filter(pc.equal(counts.column("channel"), channel))
            .column("count_all")
            .to_numpy()
        )
        for channel in ("call", "visit")
    }


@pytest.fixture(scope="module")
def random_run(simulate_run: Runner) -> RunOutcome:
    return simulate_run(
        DEFAULT,
        days=LOG_DAYS,
        name="dispatch-random",
        dispatch=Dispatch(capacity=CAPACITY, policy="random"),
    )


def test_the_dispatch_reads_the_worlds_scores_as_decision_features(
    simulate_run: Runner, tmp_path: Path
) -> None:
    """A score folder reaches both the plan and the dispatch: the decision log carries each
    scored account's score (NaN for accounts the file leaves out)."""
    accounts = pq.read_table(simulate_run.source.snapshot / "accounts.parquet")
    ids = accounts.column("account_id").to_pylist()
    score = {a: (i % 100) / 100 for i, a in enumerate(ids) if i % 3}
    pq.write_table(
        pa.table(
            {
                "account_id": list(score),
                "score_willingness": list(score.values()),
                "scorecard_willingness": list(score.values()),
                "reasons": ["test"] * len(score),
                "model_version": pa.array([1] * len(score), pa.int32()),
            }
        ),
        tmp_path / "willingness.parquet",
    )
    outcome = simulate_run(
        DEFAULT,
        days=DECISION_REWARD_DAYS + 1,
        name="dispatch-scores",
        dispatch=Dispatch(capacity=CAPACITY, policy="balance"),
        scores=tmp_path,
    )
    assert outcome.decisions is not None and outcome.decisions.num_rows > 0
    logged = outcome.decisions.to_pylist()
    for row in logged:
        expected = score.get(row["account_id"])
        if expected is None:
            assert np.isnan(row["score_willingness"])
        else:
            assert row["score_willingness"] == pytest.approx(expected)
    assert any(row["account_id"] in score for row in logged)


def test_a_valuation_of_the_worlds_hidden_state_can_drive_the_dispatch(
    simulate_run: Runner,
) -> None:
    """Research scripts (scripts/dispatch_headroom.py) rank by what the world knows: here the
    smallest arrears first, the reverse of the balance rule, and the log shows it was followed."""
    seen: list[int] = []

    def smallest_first(world: World, idx: np.ndarray) -> np.ndarray:
        seen.append(idx.size)
        value = 1e9 / (1.0 + world.arrears[idx].astype(np.float64))
        return np.column_stack([np.zeros(idx.size), value, value])

    outcome = simulate_run(
        DEFAULT,
        days=DECISION_REWARD_DAYS + 1,
        name="dispatch-hidden",
        dispatch=Dispatch(capacity=CAPACITY, policy="optimised", world_value=smallest_first),
    )
    assert seen and outcome.decisions is not None and outcome.decisions.num_rows > 0
    log = outcome.decisions
    for night in set(log.column("day").to_pylist()):
        rows = log.filter(pc.equal(log.column("day"), night)).to_pylist()
        called = [r["arrears_fen"] for r in rows if r["treatment"] == "call"]
        passed = [
            r["arrears_fen"] for r in rows if r["treatment"] == "automated" and r["allowed_call"]
            and not r["allowed_visit"]
        ]  # fmt: skip
        if called and passed:
            assert max(called) <= min(passed)


def test_no_day_has_more_calls_or_visits_than_the_staff_can_make(
    simulate_run: Runner, random_run: RunOutcome
) -> None:
    balance = simulate_run(
        DEFAULT,
        days=10,
        name="dispatch-cap",
        dispatch=Dispatch(capacity=CAPACITY, policy="balance"),
    )
    for outcome in (balance, random_run):
        made = _made_per_day(outcome)
        for channel, per_day in made.items():
            assert per_day.max() <= CAPACITY[channel], (outcome.strategy, channel, per_day)
        # The capacity binds: some planned work was deferred, and on some day the staff were full.
        assert outcome.capacity is not None
        assert outcome.capacity["call_deferred"] > 0 and outcome.capacity["visit_deferred"] > 0
        assert (made["call"] == CAPACITY["call"]).any()
        kpis = run_kpis(outcome.world, COSTS, capacity=outcome.capacity)
        assert kpis["calls_made"] == made["call"].sum()
        assert kpis["calls_deferred"] == outcome.capacity["call_deferred"]


def test_the_loop_counts_the_channels_dispatch_allocates() -> None:
    assert WORK == RESOURCES


def test_without_dispatch_the_loop_makes_every_planned_contact_as_before(
    simulate_run: Runner,
) -> None:
    plain = simulate_run(DEFAULT, days=8, name="dispatch-none")
    assert plain.decisions is None and plain.capacity is None
    assert "dispatch" not in plain.seconds
    assert run_kpis(plain.world, COSTS)["calls_deferred"] == 0
    # Capacity above anything planned: the dispatch step changes no contact and no outcome.
    ample = simulate_run(
        DEFAULT,
        days=8,
        name="dispatch-ample",
        dispatch=Dispatch(capacity={"call": 100_000, "visit": 100_000}, policy="balance"),
    )
    assert ample.capacity is not None and ample.capacity["call_deferred"] == 0
    for field in dataclasses.fields(plain.world.tally):
        a, b = getattr(plain.world.tally, field.name), getattr(ample.world.tally, field.name)
        assert np.array_equal(a, b), field.name
    assert plain.world.daily == ample.world.daily


def test_the_decision_log_holds_every_candidate_with_its_reward_once_the_window_closes(
    random_run: RunOutcome,
) -> None:
    log = random_run.decisions
    assert log is not None and log.num_rows > 0
    assert log.schema.equals(LOG_SCHEMA)
    check_log(log)  # what train_uplift reads
    start = random_run.world.start
    # Only the nights whose 14-day window closed before the end of the run are kept.
    assert sorted(set(log.column("day").to_pylist())) == [start, start + 1, start + 2]
    assert log.column("reward_fen").null_count == 0
    reward = log.column("reward_fen").to_numpy()
    assert (reward >= 0).all() and (reward > 0).any()
    propensity = log.column("propensity").to_numpy()
    assert ((propensity > 0) & (propensity <= 1)).all()
    treatment = np.asarray(log.column("treatment").to_pylist())
    call_ok = log.column("allowed_call").to_numpy(zero_copy_only=False)
    visit_ok = log.column("allowed_visit").to_numpy(zero_copy_only=False)
    assert (call_ok | visit_ok).all()  # a candidate has a planned call or visit
    assert call_ok[treatment == "call"].all() and visit_ok[treatment == "visit"].all()
    for day in (start, start + 1, start + 2):  # one row per candidate and night
        ids = log.filter(pc.equal(log.column("day"), day)).column("account_id")
        assert pc.count_distinct(ids).as_py() == len(ids)
        chosen = treatment[log.column("day").to_numpy() == day]
        assert (chosen == "call").sum() <= CAPACITY["call"]
        assert (chosen == "visit").sum() <= CAPACITY["visit"]


def test_random_dispatch_is_reproducible_for_a_seed(
    simulate_run: Runner, random_run: RunOutcome
) -> None:
    again = simulate_run(
        DEFAULT,
        days=LOG_DAYS,
        name="dispatch-random-again",
        dispatch=Dispatch(capacity=CAPACITY, policy="random"),
    )
    assert again.decisions is not None and random_run.decisions is not None
    first, second = random_run.decisions, again.decisions
    assert first.schema.equals(second.schema) and first.num_rows == second.num_rows
    for name in first.column_names:  # score features are NaN here, and NaN != NaN in equals
        a = first.column(name).to_numpy(zero_copy_only=False)
        b = second.column(name).to_numpy(zero_copy_only=False)
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    assert np.array_equal(again.world.tally.collected, random_run.world.tally.collected)


def test_the_shipped_holdout_scenario_is_the_experiment_uplift_learns_from() -> None:
    contender = from_scenario_file(ROOT / "scenarios" / "segmented-staffed-holdout.yaml")
    assert contender.dispatch is not None and contender.dispatch.policy == "holdout"


def test_a_scenario_carries_capacity_and_policy(tmp_path: Path) -> None:
    contender = from_scenario_file(ROOT / "scenarios" / "segmented-staffed-balance.yaml")
    assert contender.dispatch is not None
    assert contender.dispatch.policy == "balance"
    assert contender.dispatch.capacity.model_dump() == {"call": 40, "visit": 40}
    dispatch = resolve_dispatch(contender, settings=Settings(home=tmp_path), costs_fen={"call": 1})
    assert dispatch is not None and dispatch.capacity == {"call": 40, "visit": 40}
    assert dispatch.costs_fen == {"call": 1}
    # staff_cost: false leaves the contact's cost out of the choice (the staff are paid anyway).
    sunk = dataclasses.replace(
        contender, dispatch=contender.dispatch.model_copy(update={"staff_cost": False})
    )
    dispatch = resolve_dispatch(sunk, settings=Settings(home=tmp_path), costs_fen={"call": 1})
    assert dispatch is not None and dispatch.costs_fen is None


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{capacity: {call: -1, visit: 3}, policy: balance}", "dispatch.capacity.call"),
        ("{capacity: {call: 1, visit: 3}, policy: greedy}", "dispatch.policy"),
        ("{capacity: {call: 1, visit: 3, sms: 9}, policy: random}", "dispatch.capacity.sms"),
        ("{capacity: {call: 1}, policy: random}", "dispatch.capacity.visit"),
    ],
)
def test_a_bad_dispatch_block_is_refused_naming_the_field(
    tmp_path: Path, block: str, message: str
) -> None:
    path = tmp_path / "s.yaml"
    strategy = ROOT / "strategies" / "default.yaml"
    path.write_text(
        f"name: s\ntitle_en: S\ntitle_zh: S\nstrategy: {strategy}\ndispatch: {block}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match=message):
        from_scenario_file(path)


def test_optimised_without_a_registered_model_says_how_to_train_one(tmp_path: Path) -> None:
    contender = from_scenario_file(ROOT / "scenarios" / "segmented-staffed-optimised.yaml")
    with pytest.raises(InvalidInput, match="huancui model uplift --log"):
        resolve_dispatch(contender, settings=Settings(home=tmp_path), costs_fen={})


def test_simulate_writes_the_decision_log_of_every_run(sqlite_cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "decisions.parquet"
    scenario = tmp_path / "staffed.yaml"
    shipped = (ROOT / "scenarios" / "segmented-staffed-random.yaml").read_text(encoding="utf-8")
    scenario.write_text(  # capacity that binds in a world of 1,500 accounts
        shipped.replace("../strategies", str(ROOT / "strategies")).replace("40", "3"),
        encoding="utf-8",
    )
    result = sqlite_cli(
        "simulate", "--scenario", str(scenario),
        "--accounts", "1500", "--days", str(DECISION_REWARD_DAYS + 2), "--seeds", "2",
        "--decisions-log", str(log), "--json", "--work", str(tmp_path / "w"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    name = "segmented-staffed-random"
    assert data["strategies"][0]["dispatch"]["policy"] == "random"
    assert data["results"][name]["calls_deferred"]["mean"] > 0
    assert data["results"][name]["calls_made"]["mean"] > 0
    table = pq.read_table(log)
    assert set(table.column("seed").to_pylist()) == {1, 2}
    assert set(table.column("strategy").to_pylist()) == {name}
    check_log(table)


def test_decisions_log_without_a_dispatch_scenario_is_refused(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    result = sqlite_cli(
        "simulate", "--scenario", str(ROOT / "scenarios" / "segmented.yaml"),
        "--accounts", "500", "--days", "1", "--seeds", "1",
        "--decisions-log", str(tmp_path / "d.parquet"), "--work", str(tmp_path / "w"),
    )  # fmt: skip
    assert result.exit_code != 0
    assert "dispatch" in result.output
