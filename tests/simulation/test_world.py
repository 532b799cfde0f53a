"""The simulated world: faithful to the snapshot, planned on by the production engine, money kept
exact, holds honoured, deterministic, and outcomes that move with the behaviour model."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from huancui.contact.policy import load_pack
from huancui.kit.settings import Settings
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.simulation.behaviour import Behaviour
from huancui.simulation.loop import WorldSource
from huancui.simulation.runner import from_scenario_file
from huancui.simulation.world import CHARGED_OFF, OPEN, TOLERANCE_FEN, load_world
from huancui.strategy.engines import DuckDBEngine
from huancui.strategy.loader import load_strategy
from huancui.strategy.pipeline import CONTACTS_SCHEMA, build_query

from .conftest import ROOT, START, Runner

DEFAULT = load_strategy(ROOT / "strategies" / "default.yaml").strategy
assert DEFAULT is not None


def _world(source: WorldSource, behaviour: Behaviour, policy: DelinquencyPolicy):  # type: ignore[no-untyped-def]
    return load_world(
        snapshot=source.snapshot,
        truth=source.truth,
        as_of=source.as_of,
        behaviour=behaviour,
        policy=policy,
        seed=source.seed,
    )


def test_the_first_day_snapshot_is_the_imported_one(
    world_source: WorldSource, behaviour: Behaviour, policy: DelinquencyPolicy
) -> None:
    world = _world(world_source, behaviour, policy)
    imported = pq.read_table(world_source.snapshot / "accounts.parquet").sort_by("account_id")
    written = world.accounts_table()
    assert written.schema == imported.schema
    for name in imported.column_names:
        assert written.column(name).equals(imported.column(name)), name


def test_the_engine_plans_on_the_world_as_on_the_imported_snapshot(
    world_source: WorldSource,
    behaviour: Behaviour,
    policy: DelinquencyPolicy,
    sim_settings: Settings,
    tmp_path: Path,
) -> None:
    """The loop hands the engine files it writes itself; on the first night they must give the
    plan `huancui run` would make from the imported snapshot."""
    world = _world(world_source, behaviour, policy)
    copy = tmp_path / "snapshot"
    copy.mkdir()
    for name in ("customers.parquet", "holds.parquet"):
        shutil.copyfile(world_source.snapshot / name, copy / name)
    pq.write_table(world.accounts_table(), copy / "accounts.parquet")
    pq.write_table(world.contacts_table(60).cast(CONTACTS_SCHEMA), copy / "contacts.parquet")
    pack = load_pack("cn").pack
    engine = DuckDBEngine(sim_settings)
    plans = []
    for folder in (world_source.snapshot, copy):
        query = build_query(strategy=DEFAULT, pack=pack, snapshot=folder, as_of=START)
        target = tmp_path / f"plan-{len(plans)}.parquet"
        engine.write_plan(query, target)
        plans.append(pq.read_table(target).drop_columns(["idempotency_key"]))
    assert plans[0].num_rows > 100
    assert (
        plans[0]
        .sort_by([("account_id", "ascending"), ("channel", "ascending")])
        .equals(plans[1].sort_by([("account_id", "ascending"), ("channel", "ascending")]))
    )


def test_money_is_exact_and_conserved(simulate_run: Runner) -> None:
    outcome = simulate_run(DEFAULT, days=25, name="conserved")
    world, t = outcome.world, outcome.world.tally
    assert t.collected.sum() > 0
    # Every fen owed is either still owed, collected, or a remainder within the tolerance.
    owed = t.opening_arrears + t.arrears_added
    assert np.array_equal(owed - t.collected - t.written_off, world.arrears)
    assert (world.arrears >= 0).all() and (world.balance >= 0).all()
    assert (t.written_off <= TOLERANCE_FEN * (t.cured + 30)).all()
    assert int(t.by_source.sum()) == int(t.collected.sum())
    for array in (world.arrears, world.balance, t.collected, t.opening_arrears):
        assert array.dtype == np.int64
    # Nothing is collected from accounts closed before the start.
    assert t.collected[~t.start_open & (world.status != CHARGED_OFF)].sum() == 0


def test_the_same_seed_gives_the_same_run(simulate_run: Runner) -> None:
    first = simulate_run(DEFAULT, days=12, name="again-a")
    second = simulate_run(DEFAULT, days=12, name="again-b")
    for field in dataclasses.fields(first.world.tally):
        a = getattr(first.world.tally, field.name)
        b = getattr(second.world.tally, field.name)
        assert np.array_equal(a, b), field.name
    assert first.world.daily == second.world.daily
    assert first.experiments.equals(second.experiments)


def test_paused_and_promised_accounts_are_not_contacted(simulate_run: Runner) -> None:
    """缓催 pauses and promises reach the guard as the case plane's holds: no planned contact
    lands on a held account while its hold runs."""
    outcome = simulate_run(DEFAULT, days=30, name="holds")
    world = outcome.world
    holds = pa.concat_tables(world.holds)
    kinds = set(holds.column("hold_type").to_pylist())
    assert {"hardship", "arrangement"} <= kinds, kinds
    contacts = world.contacts_table(60)
    simulated = contacts.filter(pc.starts_with(contacts.column("contact_id"), "SIM"))
    days = pc.cast(pc.cast(simulated.column("contacted_at"), pa.timestamp("us")), pa.date32())
    joined = pa.table({"account_id": simulated.column("account_id"), "day": days}).join(
        holds.select(["account_id", "hold_type", "start_date", "end_date"]), "account_id"
    )
    inside = pc.and_(
        pc.greater_equal(joined.column("day"), joined.column("start_date")),
        pc.less_equal(joined.column("day"), joined.column("end_date")),
    )
    assert joined.num_rows > 0  # held accounts were contacted before or after their holds
    assert pc.sum(pc.cast(inside, pa.int64())).as_py() in (0, None)


def test_pressure_moves_only_those_who_can_pay_but_will_not(
    simulate_run: Runner, behaviour: Behaviour
) -> None:
    """The behaviour model, not the code, decides outcomes: switch firmness's effect off and the
    able-but-unwilling pay less under hard collection, while the unable barely change."""
    harsh = from_scenario_file(ROOT / "scenarios" / "uniform-harsh.yaml").strategy
    payment = behaviour.payment.model_copy(
        update={"pressure_effect_unwilling": 0.0, "pressure_effect_willing": 0.0}
    )
    conversation = behaviour.conversation.model_copy(update={"firm_tone_able_unwilling_boost": 0.0})
    pressure = behaviour.pressure.model_copy(update={"litigation_floor": 0.0})
    muted = behaviour.model_copy(
        update={"payment": payment, "conversation": conversation, "pressure": pressure}
    )
    on = simulate_run(harsh, days=40, name="pressure-on")
    off = simulate_run(harsh, days=40, behaviour=muted, name="pressure-off")
    world = on.world
    a_eff = world.ability[world.cust]
    will = world.willingness[world.cust]
    worked = world.tally.ever_delinquent & world.tally.start_open
    able_unwilling = (a_eff > 0.0) & (will < 0.0) & worked
    unable = (a_eff < -1.0) & worked
    assert able_unwilling.sum() >= 10
    gain = (
        on.world.tally.collected[able_unwilling].sum()
        - off.world.tally.collected[able_unwilling].sum()
    )
    assert gain > 0
    per_able = gain / able_unwilling.sum()
    per_unable = (
        on.world.tally.collected[unable].sum() - off.world.tally.collected[unable].sum()
    ) / max(unable.sum(), 1)
    assert per_able > 2 * abs(per_unable)


def test_charge_off_follows_the_delinquency_policy(simulate_run: Runner) -> None:
    outcome = simulate_run(DEFAULT, days=30, name="charge-off")
    world = outcome.world
    newly = world.tally.charged_off_in_window
    assert newly.any()
    assert (world.status[newly] == CHARGED_OFF).all()
    dpd = world.days_past_due()
    card = world.is_card & (world.status == OPEN)
    assert (dpd[card] < 180).all() and (dpd[~world.is_card & (world.status == OPEN)] < 120).all()


@pytest.mark.spark
def test_spark_and_duckdb_drive_the_world_alike(
    world_source: WorldSource,
    sim_settings: Settings,
    policy: DelinquencyPolicy,
    behaviour: Behaviour,
    sim_work: Path,
) -> None:
    from huancui.simulation.loop import run_strategy

    runs = [
        run_strategy(
            source=world_source,
            strategy=DEFAULT,
            name=f"engine-{engine}",
            pack=load_pack("cn").pack,
            behaviour=behaviour,
            policy=policy,
            days=3,
            settings=sim_settings,
            engine_name=engine,
            work=sim_work,
        )
        for engine in ("duckdb", "spark")
    ]
    assert runs[0].world.tally.attempts.sum() > 0
    for field in ("collected", "attempts", "right_party", "promises", "complaints", "pauses"):
        assert np.array_equal(
            getattr(runs[0].world.tally, field), getattr(runs[1].world.tally, field)
        ), field
