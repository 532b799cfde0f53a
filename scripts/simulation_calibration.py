"""Calibration figures of the simulator's behaviour model (docs/simulation.md, "Calibration").

Runs the default programme for 30 days on worlds of 20,000 accounts and prints, per seed: how
many accounts one due behind on the first day cure within 30 days (all, and customers of average
ability and willingness), how many pay anything, and the share of card balances 30+ and 60+ days
past due. Usage:

    .venv/bin/python scripts/simulation_calibration.py [--accounts 20000] [--seeds 2]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

from huancui.contact.policy import load_pack
from huancui.kit.settings import Settings
from huancui.portfolio.policy import load_policy
from huancui.simulation.behaviour import load_behaviour
from huancui.simulation.loop import prepare_world, run_strategy
from huancui.simulation.runner import from_scenario_file
from huancui.simulation.world import OPEN, load_world

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="huancui-calibration-"))
    settings = Settings(home=work / "home")
    policy = load_policy(None)
    behaviour = load_behaviour().behaviour
    strategy = from_scenario_file(ROOT / "scenarios" / "segmented.yaml").strategy
    for seed in range(1, args.seeds + 1):
        source = prepare_world(
            accounts=args.accounts,
            seed=seed,
            as_of=date(2026, 11, 27),
            work=work,
            settings=settings,
            policy=policy,
        )
        start = load_world(
            snapshot=source.snapshot,
            truth=source.truth,
            as_of=source.as_of,
            behaviour=behaviour,
            policy=policy,
            seed=seed,
        )
        dpd = start.days_past_due()
        is_open = start.status == OPEN
        one_behind = is_open & (dpd > 0) & (start.missed == 1)
        behind = is_open & (dpd > 0)
        able = start.ability_effective[start.cust] > 0
        willing = start.willingness[start.cust] > 0
        grades = start.static.column("credit_grade").to_numpy(zero_copy_only=False)
        print(
            f"seed {seed}: {behind.sum()} accounts in arrears on day 1: able and willing"
            f" {(behind & able & willing).sum() / behind.sum():.1%}, able but unwilling"
            f" {(behind & able & ~willing).sum() / behind.sum():.1%}, willing but unable"
            f" {(behind & ~able & willing).sum() / behind.sum():.1%}, neither"
            f" {(behind & ~able & ~willing).sum() / behind.sum():.1%}; a life event running"
            f" {(behind & (start.shock[start.cust] > 0)).sum() / behind.sum():.1%};"
            f" grade D or E {np.isin(grades[behind], ['D', 'E']).mean():.1%}"
        )
        world = run_strategy(
            source=source,
            strategy=strategy,
            name="calibration",
            pack=load_pack("cn").pack,
            behaviour=behaviour,
            policy=policy,
            days=30,
            settings=settings,
            engine_name="duckdb",
            work=work,
        ).world
        cured = world.tally.cured > 0
        average = (
            one_behind
            & (np.abs(world.ability[world.cust]) < 0.5)
            & (np.abs(world.willingness[world.cust]) < 0.5)
        )
        card = start.is_card & is_open
        balance = start.balance.astype(float)
        print(
            f"seed {seed}: {one_behind.sum()} accounts one due behind; cured within 30 days"
            f" {cured[one_behind].mean():.1%} (average customers, n={average.sum()}:"
            f" {cured[average].mean():.1%}); paid anything {(world.tally.collected[one_behind] > 0).mean():.1%};"
            f" card balances 30+ {balance[card & (dpd >= 30)].sum() / balance[card].sum():.2%},"
            f" 60+ {balance[card & (dpd >= 60)].sum() / balance[card].sum():.2%}"
        )


if __name__ == "__main__":
    main()
