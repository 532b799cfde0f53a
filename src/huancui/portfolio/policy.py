"""The delinquency policy: grace days, tolerance, allocation order, buckets and charge-off points.

Pure domain values, validated by pydantic and loadable from YAML; the defaults are documented in
docs/delinquency.md. Nothing here does I/O except `load_policy`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from huancui.kit.money import parse_yuan

Component = Literal["fee", "interest", "principal"]
Product = Literal["credit_card", "instalment_loan"]


class Bucket(BaseModel):
    """A delinquency bucket: accounts whose days past due lie in [min_dpd, max_dpd]."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=16)
    min_dpd: int = Field(ge=0)
    max_dpd: int | None = Field(default=None, description="None: no upper bound")


DEFAULT_BUCKETS = (
    Bucket(name="M0", min_dpd=0, max_dpd=0),
    Bucket(name="M1", min_dpd=1, max_dpd=30),
    Bucket(name="M2", min_dpd=31, max_dpd=60),
    Bucket(name="M3", min_dpd=61, max_dpd=90),
    Bucket(name="M4", min_dpd=91, max_dpd=120),
    Bucket(name="M5", min_dpd=121, max_dpd=150),
    Bucket(name="M6", min_dpd=151, max_dpd=180),
    Bucket(name="M7+", min_dpd=181, max_dpd=None),
)


def _default_charge_off() -> dict[Product, int]:
    """Cards are charged off at 180 days past due, instalment loans at 120 (configurable)."""
    return {"credit_card": 180, "instalment_loan": 120}


class DelinquencyPolicy(BaseModel):
    """How arrears are measured. Changing it changes every account's days past due."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grace_days: int = Field(
        default=3, ge=0, le=30, description="Days after the due date before a due counts as missed"
    )
    tolerance_yuan: Decimal = Field(
        default=Decimal("10.00"),
        ge=0,
        description="Unpaid remainder small enough to be treated as paid for days past due",
    )
    billing_lead_days: int = Field(
        default=15,
        ge=0,
        le=60,
        description="A due without a statement date counts as billed this many days before it"
        " falls due; money paid before a due is billed is not credit for it",
    )
    allocation_order: tuple[Component, ...] = Field(
        default=("fee", "interest", "principal"),
        description="Within one due, what a payment settles first; dues are settled oldest first",
    )
    buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS
    charge_off_dpd: dict[Product, int] = Field(default_factory=_default_charge_off)

    @model_validator(mode="after")
    def _check(self) -> DelinquencyPolicy:
        if sorted(self.allocation_order) != ["fee", "interest", "principal"]:
            raise ValueError("allocation_order must name fee, interest and principal once each")
        self._check_buckets()
        products: tuple[Product, ...] = ("credit_card", "instalment_loan")
        for product in products:
            if self.charge_off_dpd.get(product, 0) < 1:
                raise ValueError(f"charge_off_dpd needs a positive value for {product}")
        parse_yuan(str(self.tolerance_yuan))
        return self

    def _check_buckets(self) -> None:
        """Buckets must partition 0..infinity: start at 0, no gaps, no overlaps, last open."""
        expected = 0
        for i, bucket in enumerate(self.buckets):
            if bucket.min_dpd != expected:
                raise ValueError(
                    f"bucket {bucket.name} starts at {bucket.min_dpd} days, expected {expected}: "
                    "buckets must cover every days-past-due value exactly once"
                )
            last = i == len(self.buckets) - 1
            if bucket.max_dpd is None:
                if not last:
                    raise ValueError(f"only the last bucket may be open-ended, not {bucket.name}")
                return
            if bucket.max_dpd < bucket.min_dpd:
                raise ValueError(f"bucket {bucket.name} ends before it starts")
            expected = bucket.max_dpd + 1
        raise ValueError("the last bucket must be open-ended (max_dpd empty)")

    @property
    def tolerance_fen(self) -> int:
        return parse_yuan(str(self.tolerance_yuan))

    def bucket_for(self, days_past_due: int) -> str:
        if days_past_due < 0:
            raise ValueError("days past due cannot be negative")
        for bucket in self.buckets:
            if bucket.max_dpd is None or days_past_due <= bucket.max_dpd:
                return bucket.name
        raise AssertionError("buckets are validated to cover every value")

    def bucket_rank(self, name: str) -> int:
        return [b.name for b in self.buckets].index(name)


def load_policy(path: Path | None) -> DelinquencyPolicy:
    """The policy from a YAML file, or the defaults when no file is given."""
    if path is None:
        return DelinquencyPolicy()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return DelinquencyPolicy.model_validate(data)
