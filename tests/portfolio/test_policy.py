"""The delinquency policy: buckets partition days past due; bad policies are refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from huancui.portfolio.policy import Bucket, DelinquencyPolicy, load_policy


@given(st.integers(min_value=0, max_value=100_000))
def test_every_dpd_falls_in_exactly_one_default_bucket(dpd: int) -> None:
    policy = DelinquencyPolicy()
    matching = [
        b for b in policy.buckets if b.min_dpd <= dpd and (b.max_dpd is None or dpd <= b.max_dpd)
    ]
    assert len(matching) == 1
    assert policy.bucket_for(dpd) == matching[0].name


@given(
    st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=10), st.integers(0, 2000)
)
def test_any_valid_ladder_partitions(widths: list[int], dpd: int) -> None:
    buckets, start = [Bucket(name="M0", min_dpd=0, max_dpd=0)], 1
    for i, width in enumerate(widths, start=1):
        buckets.append(Bucket(name=f"B{i}", min_dpd=start, max_dpd=start + width - 1))
        start += width
    buckets.append(Bucket(name="LAST", min_dpd=start))
    policy = DelinquencyPolicy(buckets=tuple(buckets))
    name = policy.bucket_for(dpd)
    bucket = next(b for b in policy.buckets if b.name == name)
    assert bucket.min_dpd <= dpd and (bucket.max_dpd is None or dpd <= bucket.max_dpd)


def test_gap_between_buckets_is_refused() -> None:
    with pytest.raises(ValidationError, match="bucket M2 starts at 40 days, expected 31"):
        DelinquencyPolicy(
            buckets=(
                Bucket(name="M0", min_dpd=0, max_dpd=0),
                Bucket(name="M1", min_dpd=1, max_dpd=30),
                Bucket(name="M2", min_dpd=40),
            )
        )


def test_last_bucket_must_be_open() -> None:
    with pytest.raises(ValidationError, match="open-ended"):
        DelinquencyPolicy(buckets=(Bucket(name="M0", min_dpd=0, max_dpd=0),))


def test_negative_dpd_has_no_bucket() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        DelinquencyPolicy().bucket_for(-1)


def test_policy_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "grace_days: 0\ntolerance_yuan: '0'\ncharge_off_dpd: {credit_card: 150, instalment_loan: 90}\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    assert policy.grace_days == 0
    assert policy.charge_off_dpd["credit_card"] == 150
    assert policy.tolerance_fen == 0


def test_unknown_policy_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("grace: 3\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="grace"):
        load_policy(path)


def test_shipped_example_policy_is_the_default() -> None:
    from tests.conftest import ROOT

    assert load_policy(ROOT / "examples" / "delinquency-policy.yaml") == DelinquencyPolicy()
