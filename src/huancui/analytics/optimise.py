"""The use cases behind `huancui model uplift` and `huancui optimise` (analytics/dispatch.py).

Training registers an uplift model from a decision log; optimising reads a date's current plan and
snapshot, chooses who gets tonight's calls and visits, writes HUANCUI_HOME/allocations/<date>/,
and with `apply` defers the work items that lost their slot, in one audited transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.analytics import registry
from huancui.analytics.dispatch import (
    RESOURCES,
    TREATMENTS,
    Candidates,
    Decision,
    UpliftModel,
    candidates,
    decide,
    train_uplift,
)
from huancui.contact.tables import WorkItemRow
from huancui.kit.database import migrate, unit_of_work
from huancui.kit.digest import sha256_of
from huancui.kit.errors import InvalidInput, NotFound
from huancui.kit.settings import Settings
from huancui.monitoring.data import load_channel_costs
from huancui.portfolio.snapshot_store import snapshot_dir
from huancui.strategy.nightly import current_run
from huancui.strategy.scores import join_scores, read_scores, scores_dir

ALLOCATION_FILE = "allocation.parquet"
DEFERRED = "deferred"
# Every deferral this module writes starts so, which is how a re-run finds its own deferrals.
_REASON_PREFIX = "capacity allocation"


def parse_capacity(text: str) -> dict[str, int]:
    """`call=40,visit=5` as {"call": 40, "visit": 5}; both resources, whole units, zero or more."""
    found: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        name, sep, units = part.partition("=")
        name = name.strip()
        if not sep or name not in RESOURCES:
            raise InvalidInput(
                f"--capacity: {part!r} is not RESOURCE=UNITS with RESOURCE one of "
                f"{', '.join(RESOURCES)}; e.g. call=40,visit=5"
            )
        if name in found:
            raise InvalidInput(f"--capacity: {name} is given twice")
        if not units.strip().isdigit():
            raise InvalidInput(
                f"--capacity: {name}={units.strip()!r} is not a whole number of contacts"
            )
        found[name] = int(units)
    missing = [r for r in RESOURCES if r not in found]
    if missing:
        raise InvalidInput(f"--capacity: give {', '.join(f'{r}=N' for r in missing)} as well")
    return found


def train(
    settings: Settings, *, log: Path, learner: str = "t", outcome: str = "share", seed: int = 7
) -> dict[str, Any]:
    """Train and honestly validate an uplift model on a decision log and register it."""
    try:
        table = pq.read_table(log)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InvalidInput(f"decision log {log}: unreadable ({exc})") from None
    model, report = train_uplift(table, seed=seed, learner=learner, outcome=outcome)
    metadata = {
        "log": str(log),
        "data_sha256": sha256_of(log),
        "rows": report["rows"],
        "validation": report,
        "seed": seed,
    }
    folder = registry.save_uplift(model, settings.home, metadata)
    return {**report, "artifact": str(folder), "version": int(folder.name[1:])}


def accounts_with_scores(settings: Settings, as_of: date) -> pa.Table:
    """The snapshot's accounts with the date's model scores as their rule columns (score_ew, ...)."""
    path = snapshot_dir(settings.snapshots_dir, as_of) / "accounts.parquet"
    if not path.exists():
        raise NotFound(f"no snapshot for {as_of}: run `huancui import DIR --as-of {as_of}` first")
    accounts = pq.read_table(path)
    return join_scores(
        accounts, read_scores(scores_dir(settings.home, as_of), present=accounts.column_names)
    )


def _load_model(
    settings: Settings, *, policy: str, version: int | None
) -> tuple[UpliftModel | None, dict[str, Any] | None]:
    try:
        return registry.load_uplift(settings.home, version)
    except NotFound as exc:
        if policy == "optimised" or version is not None:
            raise NotFound(
                f"{exc}. Train one first: run the simulator to get a decision log, then "
                "`huancui model uplift --log FILE.parquet`; or use --policy balance"
            ) from None
        return None, None


@dataclass(frozen=True)
class _Plan:
    run_id: int
    table: pa.Table


def _plan(session: Session, settings: Settings, as_of: date) -> _Plan:
    run = current_run(session, as_of)
    if run is None:
        raise NotFound(f"no nightly run for {as_of}: run `huancui run --as-of {as_of}` first")
    return _Plan(run_id=run.run_id, table=pq.read_table(settings.home / run.plan_path))


def _costs_fen(settings: Settings) -> dict[str, int]:
    # parse_yuan is exact: at most two decimals, so yuan → fen needs no rounding at all.
    costs, _source = load_channel_costs(settings.channel_costs)
    fen = costs.fen()
    return {r: fen[r] for r in RESOURCES}


def _write_allocation(
    path: Path, cands: Candidates, chosen: Decision, balance: Decision, model_version: int | None
) -> None:
    names = np.asarray(TREATMENTS, dtype=object)
    table = pa.table(
        {
            "account_id": pa.array(cands.account_id.tolist(), pa.string()),
            "treatment": pa.array(names[chosen.treatment].tolist(), pa.string()),
            "propensity": pa.array(chosen.propensity, pa.float64()),
            "value_fen": pa.array(chosen.value_fen, pa.float64()),
            "balance_treatment": pa.array(names[balance.treatment].tolist(), pa.string()),
            "balance_value_fen": pa.array(balance.value_fen, pa.float64()),
            "allowed_call": pa.array(cands.allowed[:, 1]),
            "allowed_visit": pa.array(cands.allowed[:, 2]),
            "policy": pa.array([chosen.policy] * len(cands.account_id), pa.string()),
            "model_version": pa.array([model_version] * len(cands.account_id), pa.int32()),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a reader sees the old allocation or the new, never half of one.
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(table, partial)
    partial.replace(path)


def _estimate(decision: Decision) -> float | None:
    values = decision.value_fen
    return None if values.size and np.isnan(values).all() else float(np.sum(values))


def optimise(
    settings: Settings,
    *,
    as_of: date,
    capacity: dict[str, int],
    policy: str = "optimised",
    model_version: int | None = None,
    apply: bool = False,
    actor: str,
) -> dict[str, Any]:
    """Allocate the date's staffed contacts within capacity; with `apply`, defer the rest."""
    if policy not in ("optimised", "balance"):
        raise InvalidInput(f"--policy: {policy!r}; use optimised or balance")
    model, metadata = _load_model(settings, policy=policy, version=model_version)
    version = int(metadata["version"]) if metadata else None
    costs = _costs_fen(settings)
    url = settings.resolved_database_url
    migrate(url)
    with unit_of_work(url) as session:
        plan = _plan(session, settings, as_of)
        cands = candidates(plan.table, accounts_with_scores(settings, as_of))
        balance = decide(cands, capacity=capacity, policy="balance", model=model, costs_fen=costs)
        chosen = (
            balance
            if policy == "balance"
            else decide(cands, capacity=capacity, policy=policy, model=model, costs_fen=costs)
        )
        path = settings.home / "allocations" / as_of.isoformat() / ALLOCATION_FILE
        _write_allocation(path, cands, chosen, balance, version)
        changed = (
            defer_work_items(
                session,
                run_id=plan.run_id,
                as_of=as_of,
                decision=chosen,
                reason=f"{_REASON_PREFIX} {as_of} ({policy}"
                + (f", uplift v{version})" if version else ")"),
                actor=actor,
                file=path,
            )
            if apply
            else None
        )
    return {
        "as_of": as_of.isoformat(),
        "run_id": plan.run_id,
        "policy": policy,
        "model_version": version,
        "candidates": {
            "accounts": int(cands.account_id.size),
            **{r: int(cands.allowed[:, TREATMENTS.index(r)].sum()) for r in RESOURCES},
        },
        "capacity": dict(capacity),
        "used": chosen.used,
        "costs_fen": costs,
        "expected_net_fen": _estimate(chosen),
        "balance_expected_net_fen": _estimate(balance),
        "balance_used": balance.used,
        "solver_status": chosen.status,
        "bound_fen": chosen.bound_fen,
        "gap": chosen.gap,
        "file": str(path),
        "applied": changed,
    }


def defer_work_items(
    session: Session,
    *,
    run_id: int,
    as_of: date,
    decision: Decision,
    reason: str,
    actor: str,
    file: Path,
) -> dict[str, int]:
    """Defer the run's open calls and visits the decision did not give; reopen what it now gives.

    Only this module's own deferrals of the date are reopened, so applying the same allocation
    twice changes nothing the second time, and applying a larger capacity brings items back.
    One audit event records the change (none when nothing changed).
    """
    given = {
        account: TREATMENTS[int(t)]
        for account, t in zip(
            decision.account_id.tolist(), decision.treatment.tolist(), strict=True
        )
    }
    items = session.scalars(
        select(WorkItemRow).where(
            WorkItemRow.run_id == run_id,
            WorkItemRow.as_of == as_of,
            WorkItemRow.channel.in_(RESOURCES),
            WorkItemRow.status.in_(("open", DEFERRED)),
        )
    ).all()
    now = datetime.now(UTC)
    deferred: list[int] = []
    reopened: list[int] = []
    for item in items:
        if item.account_id not in given:
            continue
        keeps = given[item.account_id] == item.channel
        if item.status == "open" and not keeps:
            item.status, item.status_reason, item.updated_at = DEFERRED, reason, now
            deferred.append(item.work_item_id)
        elif (
            item.status == DEFERRED
            and keeps
            and (item.status_reason or "").startswith(_REASON_PREFIX)
        ):
            item.status, item.status_reason, item.updated_at = "open", None, now
            reopened.append(item.work_item_id)
    if deferred or reopened:
        audit.record(
            session,
            actor=actor,
            action="allocation.applied",
            entity_type="allocation",
            entity_id=as_of.isoformat(),
            after={
                "run_id": run_id,
                "policy": decision.policy,
                "file": str(file),
                "sha256": sha256_of(file),
                "deferred": deferred,
                "reopened": reopened,
            },
            reason=reason,
        )
    return {"deferred": len(deferred), "reopened": len(reopened)}
