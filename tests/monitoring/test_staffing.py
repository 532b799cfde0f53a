"""Staffing: Erlang C against the exact formula and published worked examples, the staff needed
per queue and contact day against the rollout plan, the rollout section's validation, and
`huancui staffing` / `huancui strategy rollout` on a real nightly run."""

from __future__ import annotations

import json
import math
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huancui.monitoring.staffing import (
    Workload,
    agents_needed,
    average_speed_of_answer,
    call_traffic,
    erlang_c,
    forecast,
    fte,
    service_level,
    visit_agents_needed,
)
from huancui.strategy.loader import parse_strategy
from huancui.strategy.spec import Rollout, Strategy
from tests.conftest import Cli
from tests.strategy.conftest import default_text, line_of, variant

AS_OF = "2026-11-27"
DAY = date(2026, 11, 28)
SOURCE = "strategies/x.yaml"


def exact_erlang_c(agents: int, traffic: Fraction) -> Fraction:
    """The textbook formula with factorials, in exact rational arithmetic:
    (A^N/N! · N/(N-A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N-A))."""
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    rest = sum(traffic**k / math.factorial(k) for k in range(agents))
    return top / (rest + top)


def default_strategy(text: str | None = None) -> Strategy:
    loaded = parse_strategy(text or default_text(), source=SOURCE)
    assert loaded.strategy is not None, [str(f) for f in loaded.findings]
    return loaded.strategy


def default_rollout() -> Rollout:
    rollout = default_strategy().rollout
    assert rollout is not None
    return rollout


# --- Erlang C -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agents", "traffic"),
    [(1, Fraction(1, 2)), (3, Fraction(2)), (11, Fraction(10)), (12, Fraction(10)),
     (14, Fraction(10)), (30, Fraction(47, 2)), (55, Fraction(48))],
)  # fmt: skip
def test_erlang_c_equals_the_factorial_formula(agents: int, traffic: Fraction) -> None:
    assert erlang_c(agents, float(traffic)) == pytest.approx(
        float(exact_erlang_c(agents, traffic)), rel=1e-12
    )


def test_the_classic_ten_erlang_example() -> None:
    # 100 calls in 30 minutes with an AHT of 180 s (the example Call Centre Helper uses for its
    # Erlang C walk-through): 10 Erlangs; target 80 % answered within 20 s, occupancy ≤ 85 %.
    traffic = call_traffic(calls=100, aht_seconds=180, shift_hours=0.5)
    assert traffic == pytest.approx(10)
    assert erlang_c(12, traffic) == pytest.approx(0.4494, abs=5e-5)
    assert service_level(agents=12, traffic=traffic, aht_seconds=180, within_seconds=20) == (
        pytest.approx(0.6402, abs=5e-5)
    )
    assert average_speed_of_answer(agents=12, traffic=traffic, aht_seconds=180) == pytest.approx(
        40.4, abs=0.05
    )
    # 13 agents give 79.6 %, 14 give 88.8 %: 14 is the fewest meeting 80/20.
    assert service_level(agents=13, traffic=traffic, aht_seconds=180, within_seconds=20) < 0.8
    needed = agents_needed(
        traffic=traffic, aht_seconds=180, target=0.8, within_seconds=20, max_occupancy=0.85
    )
    assert needed == 14
    # With 30 % shrinkage, 14 on the phones means 20 staff.
    assert fte(needed, shrinkage=0.3) == 20


def test_the_fifty_five_agent_example() -> None:
    # 360 calls per half hour, 4-minute calls, 55 agents, 15-second target (the worked example
    # of the widely copied "Erlang-C formula" page): 48 Erlangs, occupancy 87.3 %, probability of
    # waiting 23.9 %, average speed of answer 8.2 s, 84.6 % answered within 15 s.
    traffic = call_traffic(calls=360, aht_seconds=240, shift_hours=0.5)
    assert traffic == pytest.approx(48)
    wait = erlang_c(55, traffic)
    assert wait == pytest.approx(float(exact_erlang_c(55, Fraction(48))), rel=1e-12)
    assert wait == pytest.approx(0.2387, abs=5e-5)
    assert average_speed_of_answer(agents=55, traffic=traffic, aht_seconds=240) == pytest.approx(
        8.18, abs=0.005
    )
    assert service_level(agents=55, traffic=traffic, aht_seconds=240, within_seconds=15) == (
        pytest.approx(0.8459, abs=5e-5)
    )


def test_erlang_c_is_stable_for_thousands_of_agents() -> None:
    # A^N / N! overflows a double past N ≈ 170; the recurrence does not. Checked against the
    # same formula in log space.
    agents, traffic = 5_100, 5_000.0

    def log_term(k: int) -> float:
        return k * math.log(traffic) - math.lgamma(k + 1)

    logs = [log_term(k) for k in range(agents)]
    top = log_term(agents) + math.log(agents / (agents - traffic))
    peak = max(max(logs), top)
    rest = sum(math.exp(x - peak) for x in logs)
    expected = math.exp(top - peak) / (rest + math.exp(top - peak))
    assert erlang_c(agents, traffic) == pytest.approx(expected, rel=1e-9)


def test_an_unstable_queue_always_waits() -> None:
    assert erlang_c(10, 10.0) == 1.0
    assert service_level(agents=9, traffic=10.0, aht_seconds=300, within_seconds=20) == 0.0
    assert math.isinf(average_speed_of_answer(agents=10, traffic=10.0, aht_seconds=300))
    assert (
        agents_needed(traffic=0, aht_seconds=300, target=0.8, within_seconds=20, max_occupancy=0.85)
        == 0
    )


@settings(max_examples=150, deadline=None)
@given(
    calls=st.integers(min_value=0, max_value=20_000),
    extra=st.integers(min_value=0, max_value=5_000),
    aht=st.floats(min_value=30, max_value=900),
    target=st.floats(min_value=0.5, max_value=0.95),
    within=st.floats(min_value=0, max_value=60),
    occupancy=st.floats(min_value=0.5, max_value=1.0),
)
def test_agents_needed_never_falls_as_calls_rise_and_is_the_fewest(
    calls: int, extra: int, aht: float, target: float, within: float, occupancy: float
) -> None:
    def needed(n: int) -> tuple[float, int]:
        traffic = call_traffic(calls=n, aht_seconds=aht, shift_hours=8)
        found = agents_needed(
            traffic=traffic,
            aht_seconds=aht,
            target=target,
            within_seconds=within,
            max_occupancy=occupancy,
        )
        return traffic, found

    traffic, agents = needed(calls)
    assert needed(calls + extra)[1] >= agents
    if agents:
        assert traffic / agents <= occupancy + 1e-9
        level = service_level(
            agents=agents, traffic=traffic, aht_seconds=aht, within_seconds=within
        )
        assert level >= target
        fewer = agents - 1
        assert (
            fewer <= traffic
            or traffic / fewer > occupancy
            or service_level(agents=fewer, traffic=traffic, aht_seconds=aht, within_seconds=within)
            < target
        )


def test_visits_need_whole_agents_for_their_hours() -> None:
    assert visit_agents_needed(visits=0, hours_per_visit=2.5, hours_per_agent=6.8) == 0
    assert visit_agents_needed(visits=1, hours_per_visit=2.5, hours_per_agent=6.8) == 1
    assert visit_agents_needed(visits=8, hours_per_visit=2.5, hours_per_agent=6.8) == 3  # 20 h
    assert visit_agents_needed(visits=34, hours_per_visit=2, hours_per_agent=6.8) == 10  # 68 h


# --- Forecast against the rollout plan ------------------------------------------------------


def test_enough_staff_gives_no_warning() -> None:
    result = forecast(
        [Workload("phone_standard", DAY, 60, 0), Workload("field", DAY, 0, 10)], default_rollout()
    )
    assert result.warnings == []
    rows = {r.workload.queue: r for r in result.rows}
    # Every staffed queue appears, idle ones too; digital (SMS and e-mail only) needs no staff.
    assert sorted(rows) == ["field", "legal", "phone_high_risk", "phone_prime", "phone_standard"]
    # 10 visits × 2.5 h over 8 h × (1 - 15 %) = 6.8 h an agent: 4 agents of 8 staffed.
    assert (rows["field"].needed, rows["field"].staffed) == (4, 8)
    call = rows["phone_standard"].call
    assert call is not None and rows["phone_standard"].needed == call.fte
    assert call.traffic_erlangs == pytest.approx(60 * 330 / (8 * 3600))


def test_a_queue_short_of_staff_is_warned_with_the_gap() -> None:
    calls = 2_000  # 2,000 × 330 s over 8 h: 22.9 Erlangs
    base = forecast([Workload("phone_standard", DAY, calls, 0)], default_rollout())
    row = next(r for r in base.rows if r.workload.queue == "phone_standard")
    assert row.call is not None and row.needed is not None
    assert row.call.agents_on_phones == agents_needed(
        traffic=calls * 330 / 28_800, aht_seconds=330, target=0.8, within_seconds=20,
        max_occupancy=0.85,
    )  # fmt: skip
    assert row.needed == math.ceil(row.call.agents_on_phones / 0.7)

    enough = _with_agents("phone_standard", row.needed)
    assert forecast([Workload("phone_standard", DAY, calls, 0)], enough).warnings == []
    reduced = _with_agents("phone_standard", row.needed - 3)
    result = forecast([Workload("phone_standard", DAY, calls, 0)], reduced)
    [warning] = result.warnings
    assert (warning.queue, warning.contact_date, warning.kind) == (
        "phone_standard",
        DAY,
        "shortfall",
    )
    assert warning.shortfall == 3
    assert warning.message.startswith(
        f"phone_standard on {DAY}: needs {row.needed} agents, {row.needed - 3} staffed — short by 3"
    )
    short = next(r for r in result.rows if r.workload.queue == "phone_standard")
    assert short.call is not None and short.call.service_level < 0.8


def test_a_queue_missing_from_the_rollout_plan_is_not_staffed() -> None:
    result = forecast([Workload("phone_vip", DAY, 40, 0)], default_rollout())
    [warning] = result.warnings
    assert warning.kind == "not_staffed"
    assert warning.message == (
        f"phone_vip on {DAY}: 40 calls planned but the queue is not staffed in the rollout plan;"
        " add rollout.resources.phone_vip to the strategy"
    )
    row = next(r for r in result.rows if r.workload.queue == "phone_vip")
    assert (row.staffed, row.needed, row.shortfall) == (None, None, 0)


def test_without_a_rollout_every_worked_queue_is_not_staffed() -> None:
    result = forecast(
        [Workload("field", DAY, 0, 3), Workload("phone_prime", DAY, 5, 0)], rollout=None
    )
    assert [(w.queue, w.kind) for w in result.warnings] == [
        ("field", "not_staffed"),
        ("phone_prime", "not_staffed"),
    ]


def test_visits_in_a_call_only_queue_cannot_be_forecast() -> None:
    result = forecast([Workload("phone_prime", DAY, 10, 2)], default_rollout())
    [warning] = result.warnings
    assert warning.kind == "no_visit_model"
    assert "add visits: {hours_per_visit: …}" in warning.message
    row = next(r for r in result.rows if r.workload.queue == "phone_prime")
    assert row.needed is None


def _with_agents(queue: str, agents: int) -> Rollout:
    rollout = default_rollout()
    resources = dict(rollout.resources)
    resources[queue] = resources[queue].model_copy(update={"agents": agents})
    return rollout.model_copy(update={"resources": resources})


# --- The rollout section of a strategy file -------------------------------------------------


def only_error(text: str) -> str:
    loaded = parse_strategy(text, source=SOURCE)
    assert loaded.strategy is None
    assert len(loaded.errors) == 1, [str(e) for e in loaded.errors]
    return str(loaded.errors[0])


def test_the_default_rollout_is_valid_and_complete() -> None:
    rollout = default_rollout()
    assert sorted(rollout.resources) == [
        "field", "legal", "phone_high_risk", "phone_prime", "phone_standard",
    ]  # fmt: skip
    assert [m.done for m in rollout.milestones] == [True, True, True, False, False]


def test_negative_agents_are_refused_at_their_line() -> None:
    text = variant("      agents: 8\n", "      agents: -2\n")
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, 'agents: -2')}: rollout.resources.field.agents:"
        " Input should be greater than or equal to 0"
    )


def test_an_unknown_rollout_field_is_refused_at_its_line() -> None:
    text = variant(
        "      visits: {hours_per_visit: 2.5}",
        "      overtime: 2\n      visits: {hours_per_visit: 2.5}",
    )
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, 'overtime: 2')}: rollout.resources.field.overtime:"
        " unknown field (check its spelling in docs/strategy.md)"
    )


def test_a_milestone_without_a_date_is_refused() -> None:
    text = variant("    - date: 2026-12-15\n      name: Staffing review\n",
                   "    - name: Staffing review\n")  # fmt: skip
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, '- name: Staffing review')}: rollout.milestones[3].date:"
        " required field is missing"
    )


def test_resources_for_a_queue_no_treatment_uses_are_a_warning() -> None:
    text = variant("    legal:\n      agents: 3\n", "    legel:\n      agents: 3\n")
    loaded = parse_strategy(text, source=SOURCE)
    assert loaded.valid
    assert [str(f) for f in loaded.warnings] == [
        f"{SOURCE}:{line_of(text, 'resources:')}: rollout.resources: queue 'legal' receives"
        " visits but has no resources; staffing will report it as not staffed in the rollout plan",
        f"{SOURCE}:{line_of(text, 'legel:')}: rollout.resources.legel: no treatment or"
        " challenger sends work to queue 'legel', so its staff would stand idle; is it misspelt?"
        " (queues: digital, field, legal, phone_high_risk, phone_prime, phone_standard)",
    ]


def test_a_queue_must_handle_calls_or_visits() -> None:
    text = variant("      visits: {hours_per_visit: 2.5}", "      # no handling given")
    error = only_error(text)
    assert error.startswith(f"{SOURCE}:{line_of(text, '    field:')}: rollout.resources.field:")
    assert error.endswith("give calls: (aht_seconds, service level) or visits: (hours_per_visit),"
                          " or both")  # fmt: skip


def test_a_worked_queue_left_out_of_the_rollout_is_a_warning() -> None:
    start = default_text().index("    legal:\n")
    end = default_text().index("  milestones:\n")
    text = default_text()[:start] + default_text()[end:]
    loaded = parse_strategy(text, source=SOURCE)
    assert loaded.valid
    assert [str(f) for f in loaded.warnings] == [
        f"{SOURCE}:{line_of(text, '  resources:')}: rollout.resources: queue 'legal' receives"
        " visits but has no resources; staffing will report it as not staffed in the rollout plan"
    ]


def test_a_strategy_without_rollout_still_validates_without_warnings() -> None:
    start = default_text().index("# Rollout plan")
    text = default_text()[:start] + default_text()[default_text().index("# Challengers") :]
    loaded = parse_strategy(text, source=SOURCE)
    assert loaded.valid and loaded.findings == []
    assert loaded.strategy is not None and loaded.strategy.rollout is None


# --- Through the CLI, on a real nightly run -------------------------------------------------


@pytest.fixture
def ready(cli: Cli, delivery: Path) -> Cli:
    """The small example imported and the default strategy active."""
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    result = cli("strategy", "activate", str(Path("strategies/default.yaml").resolve()))
    assert result.exit_code == 0, result.output
    return cli


def run_night(cli: Cli) -> dict[str, Any]:
    result = cli("run", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_staffing_json_counts_what_the_plan_plans(ready: Cli) -> None:
    run = run_night(ready)
    result = ready("staffing", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["run_id"], report["strategy"]) == (run["run_id"], "default v1")
    con = duckdb.connect()
    try:
        counted = con.execute(
            "SELECT queue, CAST(contact_date AS VARCHAR),"
            " count(*) FILTER (WHERE channel = 'call'), count(*) FILTER (WHERE channel = 'visit')"
            f" FROM read_parquet('{run['plan_path']}') WHERE status = 'planned'"
            " AND channel IN ('call', 'visit') GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    assert counted == [("field", "2026-11-28", 0, 1)]  # A0002's visit; A0003 is on 缓催
    reported = [
        (q["queue"], q["contact_date"], q["calls"], q["visits"])
        for q in report["queues"]
        if q["calls"] or q["visits"]
    ]
    assert reported == [tuple(row) for row in counted]
    rows = {q["queue"]: q for q in report["queues"]}
    # One 2.5-hour visit: one field agent of the 8 staffed; idle queues are listed with 0.
    assert (rows["field"]["needed"], rows["field"]["staffed"], rows["field"]["shortfall"]) == (
        1,
        8,
        0,
    )
    assert (rows["phone_standard"]["calls"], rows["phone_standard"]["needed"]) == (0, 0)
    assert report["warnings"] == []


def test_staffing_warns_but_succeeds_when_a_queue_is_short(ready: Cli, tmp_path: Path) -> None:
    unstaffed = variant("      agents: 8\n", "      agents: 0\n",
                        text=variant("version: 1\n", "version: 2\n"))  # fmt: skip
    v2 = tmp_path / "unstaffed.yaml"
    v2.write_text(unstaffed, encoding="utf-8")
    assert ready("strategy", "activate", str(v2)).exit_code == 0
    run_night(ready)
    result = ready("staffing", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "1 warning(s):" in result.stdout
    assert "field on 2026-11-28: needs 1 agent, 0 staffed — short by 1 (1 visits need 1;" in (
        result.stdout
    )
    data = json.loads(ready("staffing", "--as-of", AS_OF, "--json").stdout)
    assert [(w["queue"], w["kind"], w["shortfall"]) for w in data["warnings"]] == [
        ("field", "shortfall", 1)
    ]


def test_staffing_without_a_run_says_how_to_make_one(ready: Cli) -> None:
    result = ready("staffing", "--as-of", AS_OF)
    assert result.exit_code == 3
    assert f"no run for {AS_OF}; run it first: huancui run --as-of {AS_OF}" in result.output


def test_strategy_rollout_shows_owner_resources_and_milestone_status(ready: Cli) -> None:
    result = ready("strategy", "rollout", "--as-of", "2026-12-20", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["strategy"], data["owner"], data["effective_date"]) == (
        "default v1",
        "collections-strategy-team",
        "2026-11-01",
    )
    assert data["resources"]["field"]["visits_per_agent_day"] == pytest.approx(6.8 / 2.5, abs=0.01)
    assert [(m["name"], m["status"]) for m in data["milestones"]] == [
        ("Queues and scripts configured", "done"),
        ("Collectors trained", "done"),
        ("Go-live", "done"),
        ("Staffing review", "overdue"),
        ("Challenger read-out", "due"),
    ]
    text = ready("strategy", "rollout", "--as-of", "2026-12-20")
    assert text.exit_code == 0 and "overdue" in text.stdout and "phone_high_risk" in text.stdout
