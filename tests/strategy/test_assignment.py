"""Experiment assignment: stable per (experiment, account), proportional, same in Python and SQL."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huancui.strategy.assignment import (
    Arm,
    assign_arm,
    assignment_sql,
    stable_uniform,
)

account_ids = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x9FFF, exclude_categories=["Cs"]),
    min_size=1,
    max_size=32,
)
experiments = st.from_regex(r"[a-z][a-z0-9_']{0,20}", fullmatch=True)
arm_lists = st.lists(
    st.floats(min_value=0.01, max_value=0.3, allow_nan=False), min_size=1, max_size=3
).map(lambda shares: [Arm(f"arm_{i}", share) for i, share in enumerate(shares)])


@given(experiment=experiments, account_id=account_ids, arms=arm_lists)
def test_an_account_gets_the_same_arm_every_time(
    experiment: str, account_id: str, arms: list[Arm]
) -> None:
    first = assign_arm(experiment=experiment, account_id=account_id, arms=arms)
    assert all(
        assign_arm(experiment=experiment, account_id=account_id, arms=arms) == first
        for _ in range(3)
    )
    assert 0 <= stable_uniform(experiment=experiment, account_id=account_id) < 1


@settings(max_examples=20, deadline=None)
@given(experiment=experiments, arms=arm_lists)
def test_arms_get_their_traffic_share(experiment: str, arms: list[Arm]) -> None:
    n = 20_000
    counts: dict[str | None, int] = {}
    for i in range(n):
        got = assign_arm(experiment=experiment, account_id=f"A{i:010d}", arms=arms)
        counts[got] = counts.get(got, 0) + 1
    # Binomial standard error at n = 20,000 is at most 0.0036; allow five of them.
    for arm in arms:
        assert counts.get(arm.name, 0) / n == pytest.approx(arm.share, abs=0.018)
    champion = 1 - sum(a.share for a in arms)
    assert counts.get(None, 0) / n == pytest.approx(champion, abs=0.018)


def test_experiments_are_independent_of_each_other() -> None:
    arms = [Arm("challenger", 0.5)]
    ids = [f"A{i:06d}" for i in range(4_000)]
    a = [assign_arm(experiment="one", account_id=x, arms=arms) for x in ids]
    b = [assign_arm(experiment="two", account_id=x, arms=arms) for x in ids]
    both = sum(1 for x, y in zip(a, b, strict=True) if x and y)
    assert both / len(ids) == pytest.approx(0.25, abs=0.03)


@settings(max_examples=30, deadline=None)
@given(
    experiment=experiments,
    arms=arm_lists,
    ids=st.lists(account_ids, min_size=1, max_size=200, unique=True),
)
def test_python_and_duckdb_assign_alike(experiment: str, arms: list[Arm], ids: list[str]) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE accounts (account_id VARCHAR)")
    con.executemany("INSERT INTO accounts VALUES (?)", [(x,) for x in ids])
    sql = assignment_sql(experiment=experiment, arms=arms)
    in_sql = dict(con.execute(f"SELECT account_id, {sql} FROM accounts").fetchall())
    in_python = {x: assign_arm(experiment=experiment, account_id=x, arms=arms) for x in ids}
    assert in_sql == in_python


def test_shares_of_one_or_more_are_refused() -> None:
    with pytest.raises(ValueError, match="sum to less than 1"):
        assign_arm(experiment="x", account_id="A1", arms=[Arm("a", 0.6), Arm("b", 0.4)])
