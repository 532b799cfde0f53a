"""The outcome codes file (cases/outcomes.yaml): every code the workbench needs, labelled in
both languages; a broken file is refused naming the code."""

from __future__ import annotations

import pytest

from huancui.cases.model import outcome_code, parse_outcome_codes
from huancui.cases.service import outcome_codes
from huancui.kit.errors import InvalidInput


def test_every_code_is_labelled_in_both_languages_with_its_effect() -> None:
    codes = {c.code: c for c in outcome_codes()}
    assert set(codes) == {
        "right_party_contact",
        "no_answer",
        "wrong_number",
        "left_message",
        "third_party",
        "callback_requested",
        "promise_to_pay",
        "dispute",
        "hardship_claim",
        "refusal",
        "already_paid",
        "deceased_reported",
    }
    assert all(c.labels["en"] and c.labels["zh-CN"] for c in codes.values())
    assert (codes["dispute"].effect, codes["dispute"].note_required) == ("dispute_hold", True)
    assert codes["promise_to_pay"].right_party and not codes["no_answer"].right_party
    assert codes["promise_to_pay"].label("zh-CN") == "承诺还款"


def test_an_unknown_code_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(InvalidInput, match="'paid' is not an outcome code; use one of right_"):
        outcome_code("paid")


def test_a_code_without_a_chinese_label_is_refused() -> None:
    text = """
codes:
  no_answer:
    labels: {en: No answer}
    right_party: false
    note_required: false
    effect: none
"""
    with pytest.raises(InvalidInput, match="code no_answer: no label in zh-CN"):
        parse_outcome_codes(text, source="outcomes.yaml")
    with pytest.raises(InvalidInput, match=r"outcomes\.yaml: not a valid"):
        parse_outcome_codes(text.replace("effect: none", "effect: explode"), source="outcomes.yaml")
