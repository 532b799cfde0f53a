"""The arrangements policy (YAML, validated): eligibility per segment and product, the authority
matrix, the 缓催 limits and how payments are judged. Shipped: arrangements/policies/default.yaml;
another file with HUANCUI_ARRANGEMENT_POLICY. Pure values; only `load_arrangement_policy` reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from huancui.kit.errors import InvalidInput
from huancui.kit.money import parse_yuan

Kind = Literal["ptp", "installment", "deferral", "waiver", "settlement"]
KINDS: tuple[Kind, ...] = ("ptp", "installment", "deferral", "waiver", "settlement")
WaiverComponent = Literal["penalty_interest", "fees", "interest"]
SHIPPED = Path(__file__).parent / "policies" / "default.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Monitoring(_Frozen):
    grace_days: int = Field(default=3, ge=0, le=30)
    tolerance: Decimal = Field(default=Decimal("0.95"), gt=0, le=1)
    cure_hold_days: int = Field(default=35, ge=0, le=120)


class Limits(_Frozen):
    max_term_months: int = Field(default=60, ge=1, le=120)


class Hardship(_Frozen):
    max_days: int = Field(default=90, ge=1, le=366)
    once_per_months: int = Field(default=12, ge=0, le=60)
    interest_accrues: bool = True
    reminder_days_before: int = Field(default=7, ge=0, le=60)
    reasons: tuple[str, ...] = ("job_loss", "illness", "disaster", "family_emergency", "other")


class KindRule(_Frozen):
    """What one segment may be offered of one kind; None: no limit of that sort here."""

    per_year: int | None = Field(default=None, ge=0)
    max_days: int | None = Field(default=None, ge=1)  # ptp
    max_term_months: int | None = Field(default=None, ge=1)  # installment
    max_months: int | None = Field(default=None, ge=1)  # deferral
    max_share: Decimal | None = Field(default=None, ge=0, le=1)  # waiver
    components: tuple[WaiverComponent, ...] | None = None  # waiver
    max_discount: Decimal | None = Field(default=None, ge=0, le=1)  # settlement


class RoleLimits(_Frozen):
    """The most a role may approve. Absent: zero (nothing of that kind)."""

    ptp_days: int = Field(default=0, ge=0)
    term_months: int = Field(default=0, ge=0)
    deferral_months: int = Field(default=0, ge=0)
    waiver_fen: int = Field(default=0, ge=0, alias="waiver")
    settlement_discount: Decimal = Field(default=Decimal(0), ge=0, le=1)
    hardship_days: int = Field(default=0, ge=0)

    @field_validator("waiver_fen", mode="before")
    @classmethod
    def _yuan(cls, value: object) -> object:
        return parse_yuan(value) if isinstance(value, str) else value


class ArrangementPolicy(_Frozen):
    name: str
    version: int = Field(ge=1)
    monitoring: Monitoring = Monitoring()
    limits: Limits = Limits()
    hardship: Hardship = Hardship()
    expected_keep_rate: dict[Kind, Decimal]
    eligibility: dict[str, dict[Kind, KindRule]]
    products: dict[str, dict[Kind, KindRule]] = {}
    authority: dict[str, RoleLimits]

    def rule(self, segment: str, product: str, kind: Kind) -> KindRule | None:
        """The segment's rule for `kind`, narrowed by the product's; None: not eligible."""
        base = self.eligibility.get(segment, {}).get(kind)
        if base is None:
            return None
        extra = self.products.get(product, {}).get(kind)
        if extra is None:
            return base
        merged = base.model_dump()
        for name, value in extra.model_dump().items():
            if value is None:
                continue
            current = merged.get(name)
            if current is None or name == "components":
                merged[name] = value
            else:
                merged[name] = min(current, value)
        return KindRule(**merged)


@dataclass(frozen=True)
class LoadedPolicy:
    policy: ArrangementPolicy
    source: str
    sha256: str


def load_arrangement_policy(path: Path | None = None) -> LoadedPolicy:
    """The shipped policy, or the file given; InvalidInput naming the file and field otherwise."""
    file = path or SHIPPED
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{file}: cannot read the arrangements policy ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
        policy = ArrangementPolicy.model_validate(data)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{file}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"{file}: {problems}") from exc
    return LoadedPolicy(policy, str(file), hashlib.sha256(text.encode()).hexdigest())
