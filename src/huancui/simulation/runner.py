"""`simulate`: strategies × seeds through the closed loop, KPIs with intervals across seeds, and
(optionally) offline policy evaluation of the strategies' challenger arms checked against the
simulator's own ground truth.

Seeds pair the strategies: seed k builds one world (generator seed k) and drives the behaviour's
common random numbers, so strategy A and B on seed k meet the same customers with the same luck,
and differences are read pairwise (kpis.summarise).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huancui.contact.policy import load_pack
from huancui.kit.errors import InvalidInput, NotFound
from huancui.kit.settings import Settings
from huancui.monitoring.data import load_channel_costs
from huancui.portfolio.policy import load_policy
from huancui.simulation.behaviour import load_behaviour
from huancui.simulation.kpis import KPIS, run_kpis, summarise
from huancui.simulation.loop import (
    FEATURES,
    REWARD_DAYS,
    Dispatch,
    RunOutcome,
    WorldSource,
    WorldValue,
    experiment_cells,
    prepare_world,
    run_strategy,
)
from huancui.simulation.ope import LoggedDecisions, evaluate_policy
from huancui.strategy.loader import load_strategy, parse_strategy
from huancui.strategy.spec import Strategy

if TYPE_CHECKING:
    from huancui.analytics.dispatch import UpliftModel

Progress = Callable[[str], None]
OnOutcome = Callable[[RunOutcome], None]
ScoreModels = Mapping[str, tuple[Any, dict[str, Any]]]  # target → (trained pair, metadata)
CHAMPION = "champion"
MIN_LOGGED = 20  # accounts with a full 30-day outcome an offline estimate needs at least


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Capacity(_Frozen):
    """Calls and visits the staff can make a day."""

    call: int = Field(ge=0)
    visit: int = Field(ge=0)


class DispatchSpec(_Frozen):
    """A scenario's `dispatch:` block: staff capacity and the policy that shares it out
    (analytics/dispatch.py). `optimised` ranks by the registered uplift model, the newest
    version unless `model_version` names one."""

    capacity: Capacity
    policy: Literal["balance", "optimised", "random", "holdout"]
    model_version: int | None = Field(default=None, ge=1)
    # Whether a call's or visit's unit cost counts against its value when choosing. False: the
    # staff are paid anyway, so `optimised` fills the capacity by expected value alone.
    staff_cost: bool = True


@dataclass(frozen=True)
class Contender:
    """A strategy to simulate, with the names a report shows, and its staff capacity if any.
    `uplift` is an uplift model handed in directly (scripts); without it `optimised` loads the
    registered one."""

    name: str
    title_en: str
    title_zh: str
    source: str
    strategy: Strategy
    dispatch: DispatchSpec | None = None
    uplift: UpliftModel | None = None
    world_value: WorldValue | None = None  # research: see simulation/loop.Dispatch

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "name": self.name,
            "title_en": self.title_en,
            "title_zh": self.title_zh,
            "source": self.source,
        }
        if self.dispatch is not None:
            shown["dispatch"] = self.dispatch.model_dump(mode="json")
        return shown


def _checked(path: Path) -> Strategy:
    loaded = load_strategy(path)
    if loaded.strategy is None:
        first = loaded.findings[0]
        raise InvalidInput(f"{path}:{first.line}: {first.message}")
    return loaded.strategy


def from_strategy_file(path: Path) -> Contender:
    strategy = _checked(path)
    return Contender(path.stem, strategy.name, strategy.name, str(path), strategy)


def from_scenario_file(path: Path) -> Contender:
    """A scenario: a name, titles, a description and the strategy file it runs."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: cannot read the scenario ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: a scenario is a mapping with name, titles and strategy")
    missing = [k for k in ("name", "title_en", "title_zh", "strategy") if not data.get(k)]
    if missing:
        raise InvalidInput(f"{path}: field {missing[0]} is required")
    strategy_path = (path.parent / str(data["strategy"])).resolve()
    dispatch = None
    if data.get("dispatch") is not None:
        try:
            dispatch = DispatchSpec.model_validate(data["dispatch"])
        except ValidationError as exc:
            problems = "; ".join(
                f"dispatch.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInput(f"{path}: {problems}") from None
    return Contender(
        str(data["name"]),
        str(data["title_en"]),
        str(data["title_zh"]),
        str(path),
        _checked(strategy_path),
        dispatch,
    )


def resolve_dispatch(
    contender: Contender, *, settings: Settings, costs_fen: dict[str, int]
) -> Dispatch | None:
    """The contender's dispatch for the loop, the uplift model loaded for `optimised`."""
    spec = contender.dispatch
    if spec is None:
        return None
    model = contender.uplift
    if model is None and spec.policy == "optimised" and contender.world_value is None:
        model = load_uplift_model(settings, version=spec.model_version, user=contender.source)
    return Dispatch(
        capacity=spec.capacity.model_dump(),
        policy=spec.policy,
        model=model,
        costs_fen=costs_fen if spec.staff_cost else None,
        world_value=contender.world_value,
    )


def load_uplift_model(settings: Settings, *, version: int | None, user: str) -> UpliftModel:
    """The registered uplift model (HUANCUI_HOME/models/uplift/vN), the newest without `version`."""
    from huancui.analytics.registry import load_uplift

    try:
        model, _ = load_uplift(settings.home, version)
    except NotFound as exc:
        raise InvalidInput(
            f"{user}: dispatch policy optimised needs an uplift model ({exc}); train and register"
            " one with `huancui model uplift --log FILE` (a decision log of a random-dispatch run:"
            " huancui simulate --decisions-log FILE)"
        ) from None
    return model


@dataclass
class DecisionLogs:
    """The decision logs of a simulation's runs, each row marked with its strategy and seed."""

    tables: list[pa.Table] = field(default_factory=list)

    def add(self, outcome: RunOutcome) -> None:
        if outcome.decisions is None:
            return
        rows = outcome.decisions.num_rows
        marked = outcome.decisions.add_column(
            0, "strategy", pa.array([outcome.strategy] * rows, pa.string())
        ).add_column(1, "seed", pa.array(np.full(rows, outcome.seed, dtype=np.int64)))
        self.tables.append(marked)

    def table(self) -> pa.Table:
        if not self.tables:
            raise InvalidInput("no run had a dispatch: block, so there is no decision log")
        return pa.concat_tables(self.tables)

    def write(self, path: Path) -> None:
        pq.write_table(self.table(), path)


def with_arm(strategy: Strategy, experiment: str, arm: str | None) -> Strategy:
    """The strategy as it would be if everyone in the experiment's cells got `arm` (None: the
    champion): the arm's changes are written into those cells' treatments, and the experiment's
    challengers removed. The simulator's truth for offline policy evaluation."""
    data = strategy.model_dump(mode="json", exclude_none=True)
    challengers = [c for c in strategy.challengers if c.experiment == experiment]
    chosen = next((c for c in challengers if c.arm == arm), None)
    if arm is not None and chosen is None:
        raise InvalidInput(f"experiment {experiment} has no arm {arm}")
    if chosen is not None:
        change = chosen.treatment.model_dump(mode="json", exclude_unset=True)
        for treatment in data["treatments"]:
            if chosen.segment not in (None, treatment["segment"]):
                continue
            if chosen.stage not in (None, treatment["stage"]):
                continue
            treatment.update(change)
    data["challengers"] = [c for c in data.get("challengers", []) if c["experiment"] != experiment]
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    parsed = parse_strategy(text, source=f"{strategy.name} with {experiment}={arm or CHAMPION}")
    if parsed.strategy is None:
        raise InvalidInput(f"{experiment}/{arm}: {parsed.findings[0].message}")
    return parsed.strategy


def world_scores(source: WorldSource, models: ScoreModels, work: Path) -> Path:
    """The world's first-day score files, one per target, written once per world and models."""
    from huancui.analytics.service import write_scores

    key = hashlib.sha256(
        json.dumps(
            {t: m[1].get("data_sha256") for t, m in sorted(models.items())}, sort_keys=True
        ).encode()
    ).hexdigest()[:12]
    folder = work / f"scores-{source.snapshot.parent.parent.name}-{key}"
    for target, (pair, metadata) in models.items():
        if not (folder / f"{target}.parquet").exists():
            write_scores(
                source.snapshot, as_of=source.as_of, target=target, pair=pair,
                metadata=metadata, lang="en", out=folder,
            )  # fmt: skip
    return folder


def simulate(
    contenders: Sequence[Contender],
    *,
    accounts: int,
    days: int,
    seeds: Sequence[int],
    start: date,
    work: Path,
    settings: Settings,
    engine: str = "duckdb",
    behaviour_path: Path | None = None,
    ope: bool = False,
    on_progress: Progress | None = None,
    on_outcome: OnOutcome | None = None,
    score_models: ScoreModels | None = None,
) -> dict[str, Any]:
    """Run every contender on every seed; the result dict of docs/simulation.md. `on_outcome`
    sees each contender's run (world, experiment and decision logs) before it is dropped.
    `score_models` (target → trained pair and metadata, analytics.service.fit) score each world's
    first day, as `huancui model score` would; the plans and the dispatch read those scores every
    night (they are not re-scored as the world moves)."""
    if not contenders:
        raise InvalidInput("--strategy or --scenario: name at least one strategy to simulate")
    names = [c.name for c in contenders]
    if len(set(names)) != len(names):
        raise InvalidInput(f"strategies need distinct names; got {', '.join(names)}")
    if accounts < 100 or days < 1 or not seeds:
        raise InvalidInput("--accounts must be at least 100, --days at least 1, --seeds at least 1")
    started = time.perf_counter()
    notify = on_progress or (lambda message: None)
    behaviour = load_behaviour(behaviour_path)
    policy = load_policy(settings.delinquency_policy)
    pack = load_pack(settings.compliance_pack)
    costs, _ = load_channel_costs(None)
    dispatches = {
        c.name: resolve_dispatch(c, settings=settings, costs_fen=costs.fen()) for c in contenders
    }
    work.mkdir(parents=True, exist_ok=True)
    per_run: dict[str, dict[int, dict[str, Any]]] = {c.name: {} for c in contenders}
    daily: dict[str, list[list[Any]]] = {c.name: [] for c in contenders}
    logs: dict[str, list[pa.Table]] = {c.name: [] for c in contenders}
    run_seconds: list[float] = []
    phases: dict[str, float] = {}
    prepare_seconds: list[float] = []

    def one(
        contender: Contender,
        strategy: Strategy,
        name: str,
        seed: int,
        cells: dict[str, tuple[str | None, str | None]] | None = None,
    ) -> RunOutcome:
        mark = time.perf_counter()
        source = prepare_world(
            accounts=accounts, seed=seed, as_of=start, work=work, settings=settings, policy=policy
        )
        scores = world_scores(source, score_models, work) if score_models else None
        prepare_seconds.append(time.perf_counter() - mark)
        mark = time.perf_counter()
        outcome = run_strategy(
            source=source,
            strategy=strategy,
            name=name,
            pack=pack.pack,
            behaviour=behaviour.behaviour,
            policy=policy,
            days=days,
            settings=settings,
            engine_name=engine,
            work=work,
            on_day=notify,
            cells=cells,
            dispatch=dispatches[contender.name],
            scores=scores,
        )
        run_seconds.append(time.perf_counter() - mark)
        for phase, seconds in outcome.seconds.items():
            phases[phase] = phases.get(phase, 0.0) + seconds
        return outcome

    for seed in seeds:
        for contender in contenders:
            outcome = one(contender, contender.strategy, contender.name, seed)
            if on_outcome is not None:
                on_outcome(outcome)
            per_run[contender.name][seed] = run_kpis(
                outcome.world, costs, capacity=outcome.capacity
            )
            daily[contender.name].append(outcome.world.daily)
            logs[contender.name].append(outcome.experiments)
    results, differences = summarise(per_run, names)
    result: dict[str, Any] = {
        "simulation": {
            "accounts": accounts,
            "days": days,
            "seeds": list(seeds),
            "start": start.isoformat(),
            "engine": engine,
            "pack": pack.pack.name if hasattr(pack.pack, "name") else settings.compliance_pack,
            "behaviour": {"file": behaviour.source, "sha256": behaviour.sha256},
            "seconds": {},
        },
        "strategies": [c.as_json() for c in contenders],
        "kpis": [k.as_json() for k in KPIS],
        "results": results,
        "differences": differences,
        "daily": {name: _daily(series) for name, series in daily.items()},
    }
    if ope:
        result["ope"] = _offline_evaluation(contenders, logs, seeds, one)
    result["simulation"]["seconds"] = {
        "total": round(time.perf_counter() - started, 1),
        "per_run_mean": round(float(np.mean(run_seconds)), 1),
        "runs": len(run_seconds),
        "worlds_prepared": round(float(np.sum(prepare_seconds)), 1),
        # Summed over runs: reading the world, writing its snapshot files, the engine's plans,
        # the world's days.
        "phases": {k: round(v, 1) for k, v in phases.items()},
    }
    return result


def _daily(series: list[list[Any]]) -> dict[str, list[Any]]:
    """Per day, the mean across seeds; collected and complaints cumulative."""
    days = min(len(s) for s in series)

    def mean(field: str, cumulative: bool = False) -> list[float]:
        values = np.array([[getattr(f, field) for f in s[:days]] for s in series], dtype=float)
        if cumulative:
            values = values.cumsum(axis=1)
        return [round(float(v), 2) for v in values.mean(axis=0)]

    return {
        "day": [f.day.isoformat() for f in series[0][:days]],
        "delinquent_accounts": mean("delinquent_accounts"),
        "dpd30_accounts": mean("dpd30_accounts"),
        "collected_fen": mean("collected_fen", cumulative=True),
        "complaints": mean("complaints", cumulative=True),
        "in_pause": mean("in_pause"),
        "contacts": mean("contacts"),
    }


def _rewarded(table: pa.Table, experiment: str) -> pa.Table:
    rows = table.filter(pc.equal(table.column("experiment"), experiment))
    return rows.filter(rows.column("reward_fen").is_valid())


def _offline_evaluation(
    contenders: Sequence[Contender],
    logs: dict[str, list[pa.Table]],
    seeds: Sequence[int],
    one: Callable[..., RunOutcome],
) -> list[dict[str, Any]]:
    """For each challenger arm: IPW, SNIPW and DR estimates of 'everyone in the cells gets this
    arm' from the logged run, and the truth from running exactly that strategy on the same seeds."""
    rows: list[dict[str, Any]] = []
    for contender in contenders:
        experiments = sorted({c.experiment for c in contender.strategy.challengers})
        for experiment in experiments:
            arms = [CHAMPION] + [
                c.arm for c in contender.strategy.challengers if c.experiment == experiment
            ]
            cells = experiment_cells(contender.strategy)
            logged = pa.concat_tables([_rewarded(t, experiment) for t in logs[contender.name]])
            if logged.num_rows < MIN_LOGGED:
                rows.append(
                    {
                        "strategy": contender.name,
                        "experiment": experiment,
                        "skipped": f"only {logged.num_rows} accounts entered the cells at least"
                        f" {REWARD_DAYS} days before the end; {MIN_LOGGED} are needed"
                        " (more --accounts or --days)",
                    }
                )
                continue
            action = np.asarray(pc.index_in(logged.column("arm"), value_set=pa.array(arms)))
            decisions = LoggedDecisions(
                features=np.column_stack([logged.column(f).to_numpy() for f in FEATURES]),
                action=action,
                propensity=logged.column("propensity").to_numpy(),
                reward=logged.column("reward_fen").to_numpy(),
                arms=len(arms),
            )
            truths: dict[str, dict[str, Any]] = {}
            for index, arm in enumerate(arms):
                variant = with_arm(contender.strategy, experiment, None if index == 0 else arm)
                name = f"{contender.name}--{experiment}-{arm}"
                pooled = [
                    _rewarded(
                        one(contender, variant, name, seed, cells=cells).experiments, experiment
                    )
                    .column("reward_fen")
                    .to_numpy()
                    for seed in seeds
                ]
                truths[arm] = _pooled_mean(np.concatenate(pooled))
            for index, arm in enumerate(arms[1:], start=1):
                estimates = evaluate_policy(decisions, np.full(decisions.n, index), seed=0)
                share = float(
                    next(
                        c.traffic_share
                        for c in contender.strategy.challengers
                        if c.experiment == experiment and c.arm == arm
                    )
                )
                rows.append(
                    {
                        "strategy": contender.name,
                        "experiment": experiment,
                        "arm": arm,
                        "metric": "recovered_30d_fen",
                        "logged_share": share,
                        "n": decisions.n,
                        **{
                            method: _estimate_json(estimates[method])
                            for method in ("ipw", "snipw", "dr")
                        },
                        "truth": _truth_json(truths[arm]),
                        "champion_truth": _truth_json(truths[CHAMPION]),
                    }
                )
    return rows


def _pooled_mean(rewards: np.ndarray) -> dict[str, Any]:
    """The truth: mean reward of every account entering the cells on the same seeds, with a
    normal 95 % interval over accounts (the population the logged estimates describe)."""
    if rewards.size < 2:
        return {"mean": None, "low": None, "high": None}
    mean = float(rewards.mean())
    half = 1.959964 * float(rewards.std(ddof=1)) / float(np.sqrt(rewards.size))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": int(rewards.size)}


def _estimate_json(estimate: Any) -> dict[str, float]:
    return {"value": estimate.value, "low": estimate.low, "high": estimate.high}


def _truth_json(summary: dict[str, Any]) -> dict[str, float | None]:
    return {
        "value": summary["mean"],
        "low": summary["low"],
        "high": summary["high"],
        "n": summary.get("n"),
    }
