"""The arrangements policy file: the shipped one loads and means what it says; a broken file is
refused naming the file and the field."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from huancui.arrangements.policy import SHIPPED, load_arrangement_policy
from huancui.kit.errors import InvalidInput


def test_the_shipped_policy_loads_with_its_hash() -> None:
    loaded = load_arrangement_policy()
    policy = loaded.policy
    assert (policy.name, policy.version) == ("default", 1)
    assert loaded.source == str(SHIPPED)
    assert loaded.sha256 == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert (policy.monitoring.grace_days, policy.monitoring.tolerance) == (3, Decimal("0.95"))
    assert (policy.hardship.max_days, policy.hardship.once_per_months) == (90, 12)
    assert policy.hardship.reminder_days_before == 7
    assert list(policy.authority) == ["auto", "collector", "supervisor", "manager"]
    assert policy.authority["supervisor"].waiver_fen == 500_000  # "5000.00" yuan, in fen
    assert set(policy.eligibility["high_risk"]) == {"ptp", "settlement"}


def test_a_product_rule_narrows_the_segments() -> None:
    policy = load_arrangement_policy().policy
    card = policy.rule("prime", "credit_card", "installment")
    loan = policy.rule("prime", "instalment_loan", "installment")
    assert card is not None and loan is not None
    assert (card.max_term_months, card.per_year) == (60, 2)
    # 36 months for loans, the segment's count limit kept.
    assert (loan.max_term_months, loan.per_year) == (36, 2)
    standard_loan = policy.rule("standard", "instalment_loan", "installment")
    assert standard_loan is not None and standard_loan.max_term_months == 36
    # A product rule never widens what a segment is offered.
    assert policy.rule("high_risk", "instalment_loan", "installment") is None
    assert policy.rule("no_such_segment", "credit_card", "ptp") is None
    waiver = policy.rule("standard", "credit_card", "waiver")
    assert waiver is not None and waiver.components == ("penalty_interest", "fees")
    assert waiver.max_share == Decimal("0.50")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "arrangements.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _shipped_with(change: dict[str, object]) -> str:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[leaf] = value
    return yaml.safe_dump(data, allow_unicode=True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"monitoring.grace_dayz": 3}, "monitoring.grace_dayz"),
        ({"eligibility.prime.ptp.max_dayz": 30}, "eligibility.prime.ptp.max_dayz"),
        ({"authority.manager.waiver": "lots"}, "authority.manager.waiver"),
        ({"monitoring.tolerance": "1.5"}, "monitoring.tolerance"),
        ({"hardship.max_days": 0}, "hardship.max_days"),
        ({"expected_keep_rate.barter": "0.5"}, "expected_keep_rate.barter"),
    ],
)
def test_a_wrong_field_is_refused_naming_file_and_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    path = _write(tmp_path, _shipped_with(change))
    with pytest.raises(InvalidInput) as caught:
        load_arrangement_policy(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert field in message


def test_broken_yaml_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    broken = _write(tmp_path, "name: default\nversion: [1\n")
    with pytest.raises(InvalidInput) as caught:
        load_arrangement_policy(broken)
    assert str(caught.value).startswith(f"{broken}: not valid YAML")
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(InvalidInput) as caught:
        load_arrangement_policy(missing)
    assert str(caught.value).startswith(f"{missing}: cannot read the arrangements policy")


def test_a_policy_without_its_required_parts_names_them(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: tiny\nversion: 1\n")
    with pytest.raises(InvalidInput) as caught:
        load_arrangement_policy(path)
    message = str(caught.value)
    for field in ("expected_keep_rate", "eligibility", "authority"):
        assert f"{field}: Field required" in message
