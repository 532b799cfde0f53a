"""The closed loop: every simulated night the production engine plans on the world's state, the
next day the world lives through that plan, and so on for the days asked.

    world (snapshot files) → strategy.pipeline.build_query + the engine (DuckDB or Spark, the
    very functions `huancui run` calls, with the same compliance pack) → plan.parquet
    → World.step: contacts delivered, customers respond, payments, promises, 缓催 pauses,
      complaints → the world's next snapshot …

What the loop does not do is the case plane's bookkeeping of a run (work items, outbox rows,
the audit trail): the world simulates their delivery instead. Holds the case plane would place
(缓催 pauses, promises in good standing, disputes) are handed to the guard as the case plane's
holds, exactly as contact/holds.for_run does for `huancui run`.

A world is made once per seed (`prepare_world`: the synthetic generator, then the importer's
validation and delinquency to Parquet) and reused by every strategy of that seed.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from huancui.contact.guard import HOLDS_SCHEMA
from huancui.contact.policy import CompliancePack
from huancui.kit.settings import Settings
from huancui.portfolio.importer import build_snapshot_files
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.portfolio.synthetic import generate_portfolio
from huancui.simulation.behaviour import Behaviour
from huancui.simulation.world import World, as_date, load_world
from huancui.strategy.engines import make_engine
from huancui.strategy.pipeline import CONTACTS_SCHEMA, build_query
from huancui.strategy.scores import join_scores, read_scores
from huancui.strategy.spec import Strategy

if TYPE_CHECKING:
    from huancui.analytics.dispatch import Candidates, Decision, UpliftModel

LOOKBACK_DAYS = 60  # contact history kept for the guard's caps and the strategy's cadence
HISTORY_MONTHS = 13
FEATURES = ("days_past_due", "arrears_yuan", "grade", "is_card", "cycles_delinquent")
REWARD_DAYS = 30
# A dispatch decision is credited with what the account pays in the 14 days after the night it
# was made. Long enough for what a call or visit sets off (a payment on the spot, a promise due
# within behaviour.conversation.promise_days = 5 days and kept or broken), short enough that the
# window is not mostly later nights' decisions on the same account (an account in collection is
# a candidate night after night, so longer windows overlap more), and a 60-90 day run closes
# the windows of most of its nights.
DECISION_REWARD_DAYS = 14
# The channels staff capacity limits: analytics.dispatch.RESOURCES, not imported here so that a
# run without dispatch does not load LightGBM and OR-Tools.
WORK = ("call", "visit")
CHAMPION = "champion"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class WorldSource:
    """A generated delivery's snapshot and truth, for one seed."""

    seed: int
    as_of: date
    snapshot: Path
    truth: Path


def prepare_world(
    *,
    accounts: int,
    seed: int,
    as_of: date,
    work: Path,
    settings: Settings,
    policy: DelinquencyPolicy,
) -> WorldSource:
    """Generate a synthetic delivery for `seed` and build its snapshot (cached in `work`)."""
    folder = work / f"world-{accounts}-{seed}-{as_of.isoformat()}"
    snapshot = folder / "snapshots" / as_of.isoformat()
    truth = folder / "delivery" / "truth"
    if not (snapshot / "accounts.parquet").exists():
        shutil.rmtree(folder, ignore_errors=True)
        generate_portfolio(
            accounts=accounts,
            months=HISTORY_MONTHS,
            seed=seed,
            as_of=as_of,
            out=folder / "delivery",
        )
        build_snapshot_files(
            directory=folder / "delivery",
            as_of=as_of,
            settings=settings,
            policy=policy,
            root=folder / "snapshots",
        )
    return WorldSource(seed, as_of, snapshot, truth)


@dataclass
class ExperimentLog:
    """Accounts entering an experiment cell: when, which arm, what was known, what they paid in
    the 30 days after (filled in as the days pass)."""

    experiment: list[str] = field(default_factory=list)
    arm: list[str] = field(default_factory=list)
    propensity: list[float] = field(default_factory=list)
    account: list[np.ndarray] = field(default_factory=list)
    day: list[int] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    start_collected: list[np.ndarray] = field(default_factory=list)
    reward: list[np.ndarray] = field(default_factory=list)
    entered: dict[str, np.ndarray] = field(default_factory=dict)  # per experiment, per account


@dataclass(frozen=True)
class Dispatch:
    """Staff capacity for calls and visits and the rule that shares it out each night
    (analytics/dispatch.py). Without one the loop makes every planned call and visit."""

    capacity: Mapping[str, int]  # calls and visits a day: {"call": N, "visit": M}
    policy: str  # balance | optimised | random | holdout
    model: UpliftModel | None = None  # the uplift model `optimised` ranks by
    costs_fen: Mapping[str, int] | None = None  # channel → cost of one contact, fen
    # Research only: `optimised` ranks by this valuation of the world's hidden state instead of
    # `model`, to bound what any ranking could gain (scripts/dispatch_headroom.py).
    world_value: WorldValue | None = None


# (world, world indices of tonight's candidates) → (n, 3) value in fen of automated, call, visit.
WorldValue = Callable[[World, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class _Known:
    """Values computed before the decision, handed to analytics.dispatch.decide as its model."""

    value: np.ndarray

    def predict_value_fen(self, features: np.ndarray) -> np.ndarray:
        if features.shape[0] != self.value.shape[0]:
            raise RuntimeError("world_value gave values for other candidates than tonight's")
        return self.value


@dataclass
class DecisionLog:
    """Every dispatch candidate of every night: what was known, what was chosen with which
    probability, and what the account paid in the DECISION_REWARD_DAYS after (filled in as the
    days pass). Per night, arrays over that night's candidates."""

    day: list[int] = field(default_factory=list)
    account: list[np.ndarray] = field(default_factory=list)  # world indices
    features: list[np.ndarray] = field(default_factory=list)
    treatment: list[np.ndarray] = field(default_factory=list)  # index into TREATMENTS
    propensity: list[np.ndarray] = field(default_factory=list)
    allowed: list[np.ndarray] = field(default_factory=list)  # (n, 3) bool
    start_collected: list[np.ndarray] = field(default_factory=list)
    reward: list[np.ndarray] = field(default_factory=list)
    planned: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WORK, 0))
    deferred: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WORK, 0))


@dataclass(frozen=True)
class RunOutcome:
    """One strategy on one seed: the world at the end and what the loop measured."""

    strategy: str
    seed: int
    world: World
    experiments: pa.Table  # one row per account entering a cell, reward null when censored
    seconds: dict[str, float]
    # One row per dispatch candidate and night whose reward window closed (empty: no dispatch).
    decisions: pa.Table | None = None
    # Calls and visits planned for the next day, and those of them staff capacity deferred,
    # summed over the nights (None: no dispatch, every planned contact was made).
    capacity: dict[str, int] | None = None


def arm_shares(strategy: Strategy) -> dict[tuple[str, str], float]:
    """(experiment, arm) → the share of a cell's accounts it gets; champion the rest."""
    shares: dict[tuple[str, str], float] = {}
    totals: dict[str, float] = {}
    for c in strategy.challengers:
        shares[(c.experiment, c.arm)] = c.traffic_share
        totals[c.experiment] = totals.get(c.experiment, 0.0) + c.traffic_share
    for experiment, total in totals.items():
        shares[(experiment, "champion")] = 1.0 - total
    return shares


def run_strategy(
    *,
    source: WorldSource,
    strategy: Strategy,
    name: str,
    pack: CompliancePack,
    behaviour: Behaviour,
    policy: DelinquencyPolicy,
    days: int,
    settings: Settings,
    engine_name: str,
    work: Path,
    on_day: Progress | None = None,
    cells: dict[str, tuple[str | None, str | None]] | None = None,
    dispatch: Dispatch | None = None,
    scores: Path | None = None,
) -> RunOutcome:
    """Run `strategy` on the seed's world for `days` days through the production engine.

    With `dispatch`, each night's planned calls and visits are cut to the staff capacity by its
    policy before the world lives through the plan, and every candidate is logged. `scores` is
    the folder of score files the plan reads (strategy/scores), the same every night."""
    timings = {"load": 0.0, "snapshot": 0.0, "plan": 0.0, "world": 0.0}
    if dispatch is not None:
        timings["dispatch"] = 0.0
    mark = time.perf_counter()
    world = load_world(
        snapshot=source.snapshot,
        truth=source.truth,
        as_of=source.as_of,
        behaviour=behaviour,
        policy=policy,
        seed=source.seed,
    )
    folder = work / f"run-{name}-{source.seed}"
    shutil.rmtree(folder, ignore_errors=True)
    snapshot = folder / "snapshot"
    snapshot.mkdir(parents=True)
    for static in ("customers.parquet", "holds.parquet"):
        if (source.snapshot / static).exists():
            shutil.copyfile(source.snapshot / static, snapshot / static)
    engine = make_engine(engine_name, settings)
    shares = arm_shares(strategy)
    cells = experiment_cells(strategy) if cells is None else cells
    log = ExperimentLog()
    decisions = DecisionLog()
    timings["load"] = time.perf_counter() - mark
    # Read once: the scores stay the same every night (the world is not re-scored).
    score_tables = read_scores(
        scores, present=pq.read_schema(source.snapshot / "accounts.parquet").names
    )
    for offset in range(days):
        as_of = source.as_of + timedelta(days=offset)
        mark = time.perf_counter()
        accounts = world.accounts_table()
        pq.write_table(accounts, snapshot / "accounts.parquet", compression="none")
        contacts = world.contacts_table(LOOKBACK_DAYS)
        pq.write_table(
            contacts.cast(CONTACTS_SCHEMA), snapshot / "contacts.parquet", compression="none"
        )
        timings["snapshot"] += time.perf_counter() - mark
        mark = time.perf_counter()
        query = build_query(
            strategy=strategy,
            pack=pack,
            snapshot=snapshot,
            as_of=as_of,
            case_holds=world.case_holds(HOLDS_SCHEMA),
            scores=scores,
        )
        target = folder / "plan.parquet"
        engine.write_plan(query, target)
        plan = pq.read_table(target)
        timings["plan"] += time.perf_counter() - mark
        if dispatch is not None:
            mark = time.perf_counter()
            # The dispatch reads the scores too (analytics/dispatch DECISION_FEATURES).
            scored = join_scores(accounts, score_tables)
            plan = _dispatch(decisions, dispatch, world, plan, scored)
            timings["dispatch"] += time.perf_counter() - mark
        mark = time.perf_counter()
        _log_entries(log, world, plan, accounts, cells, shares)
        world.step(plan)
        _close_rewards(log, world, window=REWARD_DAYS)
        _close_rewards(decisions, world, window=DECISION_REWARD_DAYS)
        timings["world"] += time.perf_counter() - mark
        if on_day is not None:
            on_day(f"{name} seed {source.seed}: day {offset + 1}/{days}")
    shutil.rmtree(folder, ignore_errors=True)
    if dispatch is None:
        return RunOutcome(name, source.seed, world, _log_table(log, world), timings)
    capacity = {f"{ch}_planned": decisions.planned[ch] for ch in WORK}
    capacity |= {f"{ch}_deferred": decisions.deferred[ch] for ch in WORK}
    return RunOutcome(
        name,
        source.seed,
        world,
        _log_table(log, world),
        timings,
        decisions=_decision_table(decisions, world),
        capacity=capacity,
    )


def _dispatch(
    log: DecisionLog, dispatch: Dispatch, world: World, plan: pa.Table, accounts: pa.Table
) -> pa.Table:
    """Tonight's plan cut to the staff capacity, its candidates logged."""
    from huancui.analytics import dispatch as rule

    cands = rule.candidates(plan, accounts)
    model: rule.ValueModel | None = dispatch.model
    if dispatch.world_value is not None:
        idx = np.asarray(pc.index_in(pa.array(cands.account_id), value_set=world.account_ids))
        model = _Known(dispatch.world_value(world, idx))
    decision = rule.decide(
        cands,
        capacity=dispatch.capacity,
        policy=dispatch.policy,
        model=model,
        costs_fen=dispatch.costs_fen,
        seed=world.seed,
        day=world.day,
    )
    applied = rule.apply(plan, decision)
    before, after = _work_due(plan, world), _work_due(applied, world)
    for channel in WORK:
        log.planned[channel] += before[channel]
        log.deferred[channel] += before[channel] - after[channel]
    _log_decisions(log, world, cands, decision)
    return applied


def _work_due(plan: pa.Table, world: World) -> dict[str, int]:
    """Planned calls and visits the world will deliver tomorrow."""
    tomorrow = pa.scalar(as_date(world.day + 1), pa.date32())
    rows = plan.filter(
        pc.and_(
            pc.equal(plan.column("status"), "planned"),
            pc.equal(plan.column("contact_date"), tomorrow),
        )
    )
    counts = {c["values"]: c["counts"] for c in pc.value_counts(rows.column("channel")).to_pylist()}
    return {channel: int(counts.get(channel, 0)) for channel in WORK}


def _log_decisions(log: DecisionLog, world: World, cands: Candidates, decision: Decision) -> None:
    if len(cands.account_id) == 0:
        return
    if not np.array_equal(decision.account_id, cands.account_id):
        raise RuntimeError("dispatch.decide returned accounts in another order than candidates")
    idx = np.asarray(pc.index_in(pa.array(cands.account_id), value_set=world.account_ids))
    log.day.append(world.day)
    log.account.append(idx)
    log.features.append(np.asarray(cands.features, dtype=np.float64))
    log.treatment.append(np.asarray(decision.treatment, dtype=np.int64))
    log.propensity.append(np.asarray(decision.propensity, dtype=np.float64))
    log.allowed.append(np.asarray(cands.allowed, dtype=bool))
    log.start_collected.append(world.tally.collected[idx].copy())
    log.reward.append(np.full(idx.size, np.nan))


def _decision_table(log: DecisionLog, world: World) -> pa.Table:
    """The decision log (schema of analytics/dispatch.train_uplift), nights whose reward window
    has not closed left out."""
    from huancui.analytics.dispatch import DECISION_FEATURES, TREATMENTS

    closed = [k for k, day in enumerate(log.day) if world.day - day >= DECISION_REWARD_DAYS]
    sizes = [log.account[k].size for k in closed]
    features = (
        np.concatenate([log.features[k] for k in closed])
        if closed
        else np.zeros((0, len(DECISION_FEATURES)))
    )

    def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        chosen = [parts[k] for k in closed]
        return np.concatenate(chosen).astype(dtype) if chosen else np.zeros(0, dtype=dtype)

    allowed = np.concatenate([log.allowed[k] for k in closed]) if closed else np.zeros((0, 3), bool)
    return pa.table(
        {
            "account_id": world.account_ids.take(pa.array(joined(log.account, np.int64))),
            "day": pa.array(np.repeat([log.day[k] for k in closed], sizes).astype(np.int64)),
            **{
                name: pa.array(features[:, i], pa.float64())
                for i, name in enumerate(DECISION_FEATURES)
            },
            "treatment": pa.array(
                np.asarray(TREATMENTS, dtype=object)[joined(log.treatment, np.int64)], pa.string()
            ),
            "propensity": pa.array(joined(log.propensity, np.float64)),
            "reward_fen": pa.array(joined(log.reward, np.float64)),
            "allowed_call": pa.array(allowed[:, TREATMENTS.index("call")]),
            "allowed_visit": pa.array(allowed[:, TREATMENTS.index("visit")]),
        }
    )


def experiment_cells(strategy: Strategy) -> dict[str, tuple[str | None, str | None]]:
    """experiment → its cell (segment, stage; None: any), from the strategy's challengers."""
    return {c.experiment: (c.segment, c.stage) for c in strategy.challengers}


def _log_entries(
    log: ExperimentLog,
    world: World,
    plan: pa.Table,
    accounts: pa.Table,
    cells: dict[str, tuple[str | None, str | None]],
    shares: dict[tuple[str, str], float],
) -> None:
    """Accounts that appear in an experiment's cell for the first time tonight. The cell, not
    the plan's experiment column, decides entry, so a strategy without the experiment (the
    truth runs of offline evaluation) logs the same population."""
    if not cells or plan.num_rows == 0:
        return
    segment = plan.column("segment").to_numpy(zero_copy_only=False)
    stage = pc.fill_null(plan.column("stage"), "").to_numpy(zero_copy_only=False)
    experiment_of = pc.fill_null(plan.column("experiment"), "").to_numpy(zero_copy_only=False)
    arm_of = pc.fill_null(plan.column("arm"), CHAMPION).to_numpy(zero_copy_only=False)
    idx = np.asarray(pc.index_in(plan.column("account_id"), value_set=world.account_ids))
    dpd = np.asarray(accounts.column("days_past_due").to_numpy())
    arrears = np.asarray(accounts.column("arrears_fen").to_numpy()) / 100.0
    grade = np.asarray(
        pc.index_in(accounts.column("credit_grade"), value_set=pa.array(list("ABCDE")))
    ).astype(np.float64)
    for experiment, (cell_segment, cell_stage) in cells.items():
        in_cell = np.ones(plan.num_rows, dtype=bool)
        if cell_segment is not None:
            in_cell &= segment == cell_segment
        if cell_stage is not None:
            in_cell &= stage == cell_stage
        arm = np.where(experiment_of == experiment, arm_of, CHAMPION)
        seen = log.entered.setdefault(experiment, np.zeros(world.n, dtype=bool))
        for name in np.unique(arm[in_cell]):
            entering = np.unique(idx[in_cell & (arm == name)])
            entering = entering[~seen[entering]]
            if entering.size == 0:
                continue
            seen[entering] = True
            log.experiment.append(experiment)
            log.arm.append(str(name))
            log.propensity.append(shares.get((experiment, str(name)), 1.0))
            log.account.append(entering)
            log.day.append(world.day)
            log.features.append(
                np.column_stack(
                    [
                        dpd[entering],
                        arrears[entering],
                        grade[entering],
                        world.is_card[entering],
                        world.cycles[entering],
                    ]
                ).astype(np.float64)
            )
            log.start_collected.append(world.tally.collected[entering].copy())
            log.reward.append(np.full(entering.size, np.nan))


def _close_rewards(log: ExperimentLog | DecisionLog, world: World, *, window: int) -> None:
    """Fill in what each logged group of accounts paid in the `window` days since its night."""
    for k, day in enumerate(log.day):
        if world.day - day == window:
            accounts = log.account[k]
            log.reward[k] = (world.tally.collected[accounts] - log.start_collected[k]).astype(
                np.float64
            )


def _log_table(log: ExperimentLog, world: World) -> pa.Table:
    if not log.account:
        return pa.table(
            {
                "account_id": pa.array([], pa.string()),
                "experiment": pa.array([], pa.string()),
                "arm": pa.array([], pa.string()),
                "propensity": pa.array([], pa.float64()),
                "entered_day": pa.array([], pa.int64()),
                **{f: pa.array([], pa.float64()) for f in FEATURES},
                "reward_fen": pa.array([], pa.float64()),
            }
        )
    sizes = [a.size for a in log.account]
    accounts = np.concatenate(log.account)
    features = np.concatenate(log.features)
    reward = np.concatenate(log.reward)
    return pa.table(
        {
            "account_id": world.account_ids.take(pa.array(accounts)),
            "experiment": pa.array(np.repeat(log.experiment, sizes)),
            "arm": pa.array(np.repeat(log.arm, sizes)),
            "propensity": pa.array(np.repeat(log.propensity, sizes)),
            "entered_day": pa.array(np.repeat(log.day, sizes)),
            **{name: pa.array(features[:, i]) for i, name in enumerate(FEATURES)},
            "reward_fen": pa.array(reward, mask=np.isnan(reward)),
        }
    )
