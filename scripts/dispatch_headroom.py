"""How much could any ranking of the day's calls and visits gain over the balance ranking?

A research bound, not a policy: the `hidden` dispatch reads the simulated world's latent state
(ability, willingness, goodwill, recent calls, life events), which no bank sees, and values each
call and visit with the world's own behaviour model (simulation/behaviour.yaml), approximately:

    value = P(right-party contact) × P(pays or keeps a promise | conversation) × E[amount]
            × P(would not have paid in the next 14 days anyway)  + the pressure's nudge

then fills the capacity by that value (CP-SAT, like `optimised`). Compared with the balance
ranking on the same worlds and luck at each capacity, it shows how much room a learned model has.
Every figure in the output comes from the run. Usage:

    .venv/bin/python scripts/dispatch_headroom.py [--accounts 20000] [--days 60]
        [--capacity 40:40 15:15] [--seeds 1 2 3 4 5] [--without traits recency]
        [--only reach pays amount not_anyway pressure]
        [--out docs/dispatch-headroom.json]
        [--table-from docs/dispatch-headroom.json --doc docs/analytics.md [--block NAME]]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from optimise_evaluation import (  # scripts/
    ROOT,
    SHOWN,
    START,
    STRATEGY,
    label,
    paired,
    parse_capacity,
)

from huancui.kit.doc_blocks import measured, show
from huancui.kit.settings import Settings
from huancui.simulation.loop import DECISION_REWARD_DAYS
from huancui.simulation.report import format_summary
from huancui.simulation.runner import (
    Capacity,
    Contender,
    DispatchSpec,
    from_strategy_file,
    simulate,
)
from huancui.simulation.world import World

WINDOW_DAYS = DECISION_REWARD_DAYS  # the window the uplift model's reward counts
HEADLINE = ("collected", "net_recovery", "contact_cost", "cure_rate")
PRESSURE_SPAN = 0.54  # mean of a 7-day half-life over 14 days: (1 - 0.5²) / (14 ln 2 / 7)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


# The factors of the hidden valuation, each (n, 2) over call and visit:
#   reach       P(right-party conversation)
#   met         P(the attempt reaches the customer at all), which the pressure needs
#   pays        P(pays now or keeps a promise | conversation), fewer when in hardship
#   pressure    the pressure's nudge on the daily chance to pay, as a probability over the window
#   amount      the expected payment as a share of the arrears (a cure pays them all)
#   not_anyway  P(would not have paid in the window anyway)
# and the value of a contact is (reach × pays + met × pressure) × amount × not_anyway × arrears.
# What `--only` lets vary between accounts (the rest at tonight's candidates' mean).
ONLY = {
    "reach": ("reach", "met"),
    "pays": ("pays",),
    "amount": ("amount",),
    "not_anyway": ("not_anyway",),
    "pressure": ("pressure",),
}


def hidden_value(world: World, idx: np.ndarray) -> np.ndarray:
    """(n, 3) approximate extra recovery in fen of automated (0), a call and a visit."""
    return combine(_arrears(world, idx), hidden_factors(world, idx))


def _arrears(world: World, idx: np.ndarray) -> np.ndarray:
    """Arrears in fen, at least one (the `amount` factor is a share of them)."""
    arrears: np.ndarray = np.maximum(world.arrears[idx].astype(np.float64), 1.0)
    return arrears


def combine(arrears: np.ndarray, f: dict[str, np.ndarray]) -> np.ndarray:
    """(n, 3) value in fen of automated (0), a call and a visit, from the factors."""
    value = (f["reach"] * f["pays"] + f["met"] * f["pressure"]) * f["amount"] * f["not_anyway"]
    return np.column_stack([np.zeros(arrears.size), value * arrears[:, None]])


def hidden_factors(world: World, idx: np.ndarray) -> dict[str, np.ndarray]:
    """The factors above for tonight's candidates `idx`, from the world's hidden state."""
    b = world.behaviour
    c = world.cust[idx]
    will = world.willingness[c] + world.goodwill[c]
    able = world.ability_effective[c]
    recent = world.call_ring.sum(axis=0)[idx]
    connect = _sigmoid(
        b.reach.call_connect_intercept
        + b.reach.call_connect_willingness * will
        + b.reach.call_connect_per_recent_call * recent
    )
    talk = {
        "call": connect * b.reach.call_right_party,
        "visit": np.full(idx.size, b.reach.visit_met * b.reach.visit_right_party),
    }
    met = {"call": connect, "visit": np.full(idx.size, b.reach.visit_met)}
    cv = b.conversation
    utility = np.stack(
        [
            np.zeros(idx.size),
            cv.pay_now_logit + cv.willingness_weight * will + cv.ability_weight * able,
            cv.promise_logit + cv.willingness_weight * will + 0.5 * cv.ability_weight * able,
            cv.refusal_logit - cv.willingness_weight * will,
            np.full(idx.size, cv.dispute_logit),
        ]
    )
    share = np.exp(utility - utility.max(axis=0))
    share /= share.sum(axis=0)
    keep = _sigmoid(
        cv.promise_keep_intercept
        + cv.promise_keep_ability * able
        + cv.promise_keep_willingness * world.willingness[c]
    )
    in_hardship = world.shock[c] > 0  # some ask for a pause instead
    pays = (share[1] + share[2] * keep) * np.where(
        in_hardship, 1.0 - b.hardship.ask_when_contacted, 1.0
    )
    p = b.payment
    cure = _sigmoid(p.cure_logit + p.cure_ability_weight * able)
    due = world.due_amount[idx].astype(np.float64)
    low, high = p.partial_share_range
    amount = cure * world.arrears[idx] + (1 - cure) * due * (
        p.one_due_share + (1 - p.one_due_share) * (low + high) / 2
    )
    base = np.asarray(p.base_logit_by_missed_dues)
    k = np.clip(world.missed[idx], 1, base.size) - 1
    daily = _sigmoid(
        base[k]
        + p.ability_weight * able
        + p.willingness_weight * world.willingness[c]
        + p.goodwill_weight * world.goodwill[c]
        + p.forgetful_boost * world.forgetful[idx]
    )
    anyway = 1 - (1 - daily) ** WINDOW_DAYS
    unwilling = _sigmoid(-2.0 * will)
    lift = _sigmoid(2.0 * able) * (
        unwilling * p.pressure_effect_unwilling + (1 - unwilling) * p.pressure_effect_willing
    )
    pressure = [
        np.minimum(
            daily
            * (1 - daily)
            * lift
            * b.pressure.channel.get(channel)
            * PRESSURE_SPAN
            * WINDOW_DAYS,
            1.0,
        )
        for channel in ("call", "visit")
    ]
    arrears = _arrears(world, idx)

    def both(x: np.ndarray) -> np.ndarray:
        return np.column_stack([x, x])

    return {
        "reach": np.column_stack([talk["call"], talk["visit"]]),
        "met": np.column_stack([met["call"], met["visit"]]),
        "pays": both(pays),
        "pressure": np.column_stack(pressure),
        "amount": both(amount / arrears),
        "not_anyway": both(1 - anyway),
    }


# What `--without` blanks out of the hidden valuation, to see which part carries its edge.
# traits: each customer's latent ability, willingness, goodwill, forgetfulness and life-event shock
# become the population's mean (what is left: arrears, dues, days past due, recent calls).
# recency: the calls of the last 7 days count as none.
WITHOUT = ("traits", "recency")
_TRAITS = frozenset({"willingness", "goodwill", "ability_effective", "forgetful", "shock"})


class _Blanked:
    """The world as `hidden_value` reads it, with the parts in `without` blanked."""

    def __init__(self, world: World, without: frozenset[str]) -> None:
        self._world = world
        self._without = without

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._world, name)
        if "traits" in self._without and name in _TRAITS:
            return np.full(np.shape(value), float(np.mean(value)))
        if "recency" in self._without and name == "call_ring":
            return np.zeros_like(value)
        return value


def valuation(without: frozenset[str], only: str | None = None) -> Any:
    """hidden_value, or it on the world with `without` blanked, or with only the factors of
    ONLY[`only`] varying between tonight's candidates (the others at their mean over them)."""
    if not without and only is None:
        return hidden_value

    def value(world: World, idx: np.ndarray) -> np.ndarray:
        seen = _Blanked(world, without) if without else world
        factors = hidden_factors(seen, idx)  # type: ignore[arg-type]
        if only is not None and idx.size:
            kept = ONLY[only]
            factors = {
                name: f if name in kept else np.broadcast_to(f.mean(axis=0), f.shape)
                for name, f in factors.items()
            }
        return combine(_arrears(world, idx), factors)

    return value


def contender(
    base: Contender,
    policy: str,
    capacity: Capacity,
    without: frozenset[str] = frozenset(),
    only: str | None = None,
) -> Contender:
    """`balance`, `hidden`, or `only-FACTOR` (the hidden valuation with only that factor varying)."""
    hidden = policy != "balance"
    return Contender(
        name=f"{policy}@{label(capacity)}",
        title_en=f"{base.title_en}, {policy} dispatch",
        title_zh=base.title_zh,
        source=base.source,
        strategy=base.strategy,
        dispatch=DispatchSpec(
            capacity=capacity, policy="optimised" if hidden else "balance", staff_cost=False
        ),
        world_value=valuation(without, only) if hidden else None,
    )


def markdown(report: dict[str, Any]) -> str:
    result = report["result"]
    sim = result["simulation"]
    shown = [row for row in SHOWN if row[1] in HEADLINE]
    lines = [
        f"{sim['accounts']:,} accounts × {sim['days']} days, seeds "
        f"{', '.join(map(str, sim['seeds']))}; `hidden`"
        + (f" without {' and '.join(report['without'])}" if report.get("without") else "")
        + " − `balance`, paired by seed (same worlds, same luck), mean and 95 % t-interval:",
        "",
        "| calls:visits a day | " + " | ".join(title for title, _, _ in shown) + " |",
        "|---|" + "---|" * 4,
    ]
    for capacity in report["capacities"]:
        cap = label(Capacity(**capacity))
        cells = [
            format_summary(report["differences"][cap][key], unit, difference=True)
            for _, key, unit in shown
        ]
        lines.append(f"| {cap} | " + " | ".join(cells) + " |")
    factors = report.get("factors") or {}
    if factors:
        lines += [
            "",
            "The hidden valuation with only one factor varying between accounts (the others at "
            "the night's mean over its candidates) − `balance`:",
            "",
            "| calls:visits a day | factor | " + " | ".join(t for t, _, _ in shown) + " |",
            "|---|---|" + "---|" * 4,
        ]
        for cap, by_factor in factors.items():
            for factor, diff in by_factor.items():
                cells = [format_summary(diff[key], unit, difference=True) for _, key, unit in shown]
                lines.append(f"| {cap} | {factor} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Balance, hidden and each `--only` variant at each capacity on the same worlds: the
    report --out saves."""
    started = time.perf_counter()
    base = from_strategy_file(STRATEGY)
    without = frozenset(args.without)
    policies = [("balance", None), ("hidden", None)]
    policies += [(f"only-{factor}", factor) for factor in args.only]
    contenders = [
        contender(base, name, c, without, only) for c in args.capacity for name, only in policies
    ]
    result = simulate(
        contenders, accounts=args.accounts, days=args.days, seeds=args.seeds, start=START,
        work=args.work / "simulations", settings=Settings(home=args.work / "home"),
    )  # fmt: skip
    keys = [key for _, key, _ in SHOWN]
    return {
        "command": "python scripts/dispatch_headroom.py "
        f"--accounts {args.accounts} --days {args.days} "
        f"--capacity {' '.join(label(c) for c in args.capacity)} "
        f"--seeds {' '.join(map(str, args.seeds))}"
        + (f" --without {' '.join(args.without)}" if args.without else "")
        + (f" --only {' '.join(args.only)}" if args.only else ""),
        "without": list(args.without),
        "only": list(args.only),
        "capacities": [c.model_dump() for c in args.capacity],
        "result": result,
        "differences": {
            label(c): {
                key: paired(result, f"hidden@{label(c)}", f"balance@{label(c)}", key)
                for key in keys
            }
            for c in args.capacity
        },
        "factors": {
            label(c): {
                factor: {
                    key: paired(result, f"only-{factor}@{label(c)}", f"balance@{label(c)}", key)
                    for key in keys
                }
                for factor in args.only
            }
            for c in args.capacity
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument(
        "--capacity", type=parse_capacity, nargs="+",
        default=[parse_capacity("40:40"), parse_capacity("15:15")],
    )  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "dispatch-headroom")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dispatch-headroom.json")
    parser.add_argument(
        "--without", nargs="*", choices=WITHOUT, default=[],
        help="blank these parts of the hidden valuation (see WITHOUT)",
    )  # fmt: skip
    parser.add_argument(
        "--only", nargs="*", choices=sorted(ONLY), default=[],
        help="also run the hidden valuation with only this factor varying (see ONLY)",
    )  # fmt: skip
    parser.add_argument("--table-from", type=Path, default=None, help="Print an earlier --out.")
    parser.add_argument("--doc", type=Path, default=None, help="Also write it into this file.")
    parser.add_argument("--block", default="dispatch-headroom", help="The block of --doc to write.")
    args = parser.parse_args()
    report = measured(lambda: run(args), out=args.out, table_from=args.table_from)
    show(markdown(report), doc=args.doc, name=args.block)


if __name__ == "__main__":
    main()
