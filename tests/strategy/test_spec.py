"""Strategy files: the default programme validates, and every kind of mistake is reported with its
file, line, rule and reason."""

from __future__ import annotations

import pytest

from huancui.kit.errors import Severity
from huancui.strategy.loader import StrategyFile, parse_strategy
from tests.strategy.conftest import DEFAULT_STRATEGY, default_text, line_of, variant

SOURCE = "strategies/x.yaml"


def check(text: str) -> StrategyFile:
    return parse_strategy(text, source=SOURCE)


def only_error(text: str) -> str:
    loaded = check(text)
    assert loaded.strategy is None
    assert len(loaded.errors) == 1, [str(e) for e in loaded.errors]
    return str(loaded.errors[0])


def test_the_default_programme_is_valid() -> None:
    loaded = parse_strategy(default_text(), source=str(DEFAULT_STRATEGY))
    assert loaded.valid, [str(f) for f in loaded.findings]
    assert loaded.findings == []
    strategy = loaded.strategy
    assert strategy is not None
    assert [s.id for s in strategy.segments] == ["prime", "standard", "high_risk"]
    assert [s.label_zh for s in strategy.segments] == ["优质", "一般", "高风险"]
    assert [(s.min_dpd, s.max_dpd) for s in strategy.stages] == [(1, 15), (16, 30), (31, None)]
    assert strategy.segments[-1].condition_sql == "TRUE"
    tones = {s.id: [strategy.treatment_for(g.id, s.id).tone for g in strategy.segments]
             for s in strategy.stages}  # fmt: skip
    assert tones["early"][0] == "gentle" and tones["late"][-1] == "firm"
    assert strategy.priority_sql == "arrears_fen / 100.0 * (1 + days_past_due / 30.0)"
    experiment, arms = strategy.arms("prime", "early")
    assert experiment == "prime_early_email" and [a.share for a in arms] == [0.2]
    assert strategy.arms("standard", "early") == (None, [])


def test_unknown_column_names_the_rule_line_and_a_suggestion() -> None:
    text = variant("AND days_past_due <= 90", "AND dpd <= 90")
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, 'AND dpd <= 90')}: segments[1] 'standard' condition: "
        "unknown column 'dpd' (did you mean days_past_due?)"
    )


def test_unknown_function_is_named() -> None:
    text = variant("cycles_delinquent <= 2", "risk_band(cycles_delinquent) <= 2")
    line = line_of(text, "risk_band")
    assert only_error(text) == (
        f"{SOURCE}:{line}: segments[0] 'prime' condition: unknown function 'risk_band'"
    )


def test_subquery_is_refused() -> None:
    text = variant(
        "cycles_delinquent <= 2", "cycles_delinquent <= (SELECT max(missed_dues) FROM accounts)"
    )
    message = only_error(text)
    assert message.startswith(f"{SOURCE}:{line_of(text, 'SELECT max')}: segments[0] 'prime'")
    assert "subqueries are not allowed" in message


def test_condition_that_is_not_boolean_is_refused() -> None:
    text = variant('condition: "TRUE"', "condition: arrears_fen * 2")
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, 'arrears_fen * 2')}: segments[2] 'high_risk' condition: "
        "must be a boolean expression but gives a number"
    )


def test_priority_that_is_not_numeric_is_refused() -> None:
    text = variant("priority: arrears_fen / 100.0", "priority: arrears_fen > 100.0")
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, 'priority:')}: priority: "
        "must be a number expression but gives a boolean"
    )


def test_overlapping_stages_are_refused() -> None:
    text = variant("min_dpd: 16", "min_dpd: 10")
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, 'min_dpd: 10')}: stages[1] 'contact' min_dpd: stage 'contact' "
        "(10–30) overlaps the stage before it, which ends at 15; list stages in order without"
        " overlap"
    )


def test_gap_in_stages_is_refused() -> None:
    text = variant("min_dpd: 31", "min_dpd: 40")
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, 'min_dpd: 40')}: stages[2] 'late' min_dpd: stage 'late' starts"
        " at 40 days past due, leaving a gap at 31–39"
    )


def test_stages_must_start_at_one_and_end_open() -> None:
    text = variant("min_dpd: 1\n", "min_dpd: 2\n")
    assert "leaving a gap at 1–1" in only_error(text)
    text = variant("max_dpd: null", "max_dpd: 90")
    message = only_error(text)
    assert message.startswith(f"{SOURCE}:{line_of(text, 'max_dpd: 90')}: stages[2] 'late'")
    assert "make it open-ended" in message


def test_missing_treatment_names_the_cell() -> None:
    drop = (
        "  - {segment: standard, stage: late, channels: [visit, letter], template: visit.standard,\n"
        "     tone: firm, cadence_days: 7, queue: field}\n"
    )
    text = variant(drop, "")
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, 'treatments:')}: treatments: no treatment for segment "
        "'standard' × stage 'late'"
    )


def test_second_treatment_for_a_cell_is_refused() -> None:
    text = variant("{segment: standard, stage: late,", "{segment: standard, stage: contact,")
    loaded = check(text)
    messages = [str(e) for e in loaded.errors]
    needle = "{segment: standard, stage: contact,"
    line = line_of(text[text.index(needle) + 1 :], needle) + line_of(text, needle) - 1
    assert messages == [
        f"{SOURCE}:{line_of(text, 'treatments:')}: treatments: no treatment for segment "
        "'standard' × stage 'late'",
        f"{SOURCE}:{line}: treatments[5] 'standard × contact': second treatment for segment "
        "'standard' × stage 'contact'; give each cell exactly one",
    ]


def test_duplicate_segment_id_is_refused() -> None:
    text = variant("  - id: standard\n", "  - id: prime\n")
    first = line_of(text, "  - id: prime")
    second = first + line_of(text[text.index("  - id: prime") + 1 :], "  - id: prime") - 1
    duplicate = [e for e in check(text).errors if "duplicate id" in e.message]
    assert [str(e) for e in duplicate] == [
        f"{SOURCE}:{second}: segments[1] 'prime' id: duplicate id 'prime'"
    ]


def test_challenger_shares_of_one_or_more_per_cell_are_refused() -> None:
    extra = (
        "  - experiment: prime_early_email\n"
        "    arm: call_first\n"
        "    segment: prime\n"
        "    stage: early\n"
        "    traffic_share: 0.8\n"
        "    treatment:\n"
        "      channels: [call]\n"
    )
    text = default_text() + extra
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, 'traffic_share: 0.8')}: challengers[1] "
        "'prime_early_email/call_first' traffic_share: challengers in cell prime × early take "
        "100% of accounts; their shares must sum to less than 100 % so a champion remains"
    )


def test_a_single_share_of_one_is_refused_by_the_field() -> None:
    text = variant("traffic_share: 0.2", "traffic_share: 1")
    assert only_error(text) == (
        f"{SOURCE}:{line_of(text, 'traffic_share: 1')}: challengers[0] "
        "'prime_early_email/sms_and_email' traffic_share: Input should be less than 1"
    )


def test_structure_errors_are_all_listed_with_lines() -> None:
    text = variant("version: 1", "version: 0")
    text = variant("tone: gentle, cadence_days: 5", "tone: harsh, cadence_days: 5", text=text)
    text = variant("channels: [sms, email]\n", "channels: [sms, fax]\n", text=text)
    text = variant("    label_en: Prime\n", "    label_en: Prime\n    colour: green\n", text=text)
    messages = [str(e) for e in check(text).errors]
    assert messages == [
        f"{SOURCE}:{line_of(text, 'version: 0')}: version: Input should be greater than or equal"
        " to 1",
        f"{SOURCE}:{line_of(text, 'colour')}: segments[0] 'prime' colour: unknown field (check"
        " its spelling in docs/strategy.md)",
        f"{SOURCE}:{line_of(text, 'harsh')}: treatments[0] 'prime × early' tone: Input should"
        " be 'gentle', 'neutral' or 'firm'",
        f"{SOURCE}:{line_of(text, 'fax')}: challengers[0] 'prime_early_email/sms_and_email'"
        " treatment.channels[1]: Input should be 'sms', 'email', 'call', 'visit', 'letter' or"
        " 'legal'",
    ]


def test_every_expression_error_is_listed_at_once() -> None:
    text = variant("AND days_past_due <= 90", "AND dpd <= 90")
    text = variant("cycles_delinquent <= 2", "risk_band(cycles_delinquent) <= 2", text=text)
    text = variant("min_dpd: 31", "min_dpd: 40", text=text)
    assert len(check(text).errors) == 3


def test_last_segment_without_catch_all_warns() -> None:
    text = variant('condition: "TRUE"', "condition: credit_grade IN ('D', 'E')")
    loaded = check(text)
    assert loaded.valid
    assert [(w.line, w.severity) for w in loaded.warnings] == [
        (line_of(text, "credit_grade IN ('D', 'E')"), Severity.WARNING)
    ]
    assert "accounts matching no segment get no treatment" in loaded.warnings[0].message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed\n", f"{SOURCE}:2: not valid YAML"),
        ("- just\n- a list\n", f"{SOURCE}:1: must be a YAML mapping"),
        ("", f"{SOURCE}:1: must be a YAML mapping"),
    ],
)
def test_files_that_are_not_a_strategy_mapping(text: str, message: str) -> None:
    assert only_error(text).startswith(message)


def test_a_key_given_twice_is_an_error() -> None:
    text = variant("owner: collections-strategy-team\n", "owner: a\nowner: b\n")
    assert only_error(text) == f"{SOURCE}:{line_of(text, 'owner: b')}: key 'owner' given twice"
