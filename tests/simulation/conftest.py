"""A small synthetic world shared by the simulator's tests (generated and snapshotted once)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from huancui.contact.policy import load_pack
from huancui.kit.settings import Settings
from huancui.portfolio.policy import DelinquencyPolicy, load_policy
from huancui.simulation.behaviour import Behaviour, load_behaviour
from huancui.simulation.loop import (
    Dispatch,
    RunOutcome,
    WorldSource,
    prepare_world,
    run_strategy,
)
from huancui.strategy.spec import Strategy

ROOT = Path(__file__).resolve().parents[2]
START = date(2026, 11, 27)
ACCOUNTS = 3_000


@pytest.fixture(scope="session")
def sim_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simulation")


@pytest.fixture(scope="session")
def sim_settings(sim_work: Path) -> Settings:
    return Settings(home=sim_work / "home")


@pytest.fixture(scope="session")
def policy() -> DelinquencyPolicy:
    return load_policy(None)


@pytest.fixture(scope="session")
def behaviour() -> Behaviour:
    return load_behaviour().behaviour


@pytest.fixture(scope="session")
def world_source(sim_work: Path, sim_settings: Settings, policy: DelinquencyPolicy) -> WorldSource:
    return prepare_world(
        accounts=ACCOUNTS, seed=7, as_of=START, work=sim_work, settings=sim_settings, policy=policy
    )


class Runner:
    def __init__(
        self,
        source: WorldSource,
        settings: Settings,
        policy: DelinquencyPolicy,
        work: Path,
    ) -> None:
        self.source, self.settings, self.policy, self.work = source, settings, policy, work

    def __call__(
        self,
        strategy: Strategy,
        *,
        days: int,
        behaviour: Behaviour | None = None,
        name: str = "test",
        pack: str = "cn",
        dispatch: Dispatch | None = None,
        scores: Path | None = None,
    ) -> RunOutcome:
        return run_strategy(
            source=self.source,
            strategy=strategy,
            name=name,
            pack=load_pack(pack).pack,
            behaviour=behaviour or load_behaviour().behaviour,
            policy=self.policy,
            days=days,
            settings=self.settings,
            engine_name="duckdb",
            work=self.work,
            dispatch=dispatch,
            scores=scores,
        )


@pytest.fixture(scope="session")
def simulate_run(
    world_source: WorldSource, sim_settings: Settings, policy: DelinquencyPolicy, sim_work: Path
) -> Runner:
    return Runner(world_source, sim_settings, policy, sim_work)
