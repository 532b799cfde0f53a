"""Casework as values: outcome codes (from outcomes.yaml), a case as a queue shows it, pages of
cases and outcomes, and the claim lease. Pure: no database, no web framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from huancui.kit.errors import InvalidInput

OUTCOMES_FILE = Path(__file__).parent / "outcomes.yaml"
# How long a claim holds a case for its collector; a claim not renewed by then lapses and the
# case may be taken by someone else (a collector who went home without releasing it).
DEFAULT_LEASE = timedelta(minutes=30)
# The channels a collector works case by case (letters and legal referrals go in batches).
CASE_CHANNELS = ("call", "visit")
LANGUAGES = ("zh-CN", "en")

Effect = Literal["none", "dispute_hold", "promise", "hardship", "phone_flag", "deceased_hold"]
T = TypeVar("T")


def aware(moment: datetime) -> datetime:
    """`moment` with its zone: SQLite hands back naive datetimes for timezone-aware columns,
    and they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _CodeSpec(_Frozen):
    labels: dict[str, str]
    right_party: bool
    note_required: bool
    effect: Effect


class _CodesFile(_Frozen):
    codes: dict[str, _CodeSpec]


@dataclass(frozen=True)
class OutcomeCode:
    """What a contact came to: its labels, whether the collector reached the customer, whether a
    note must explain it, and what logging it does besides closing the day's case."""

    code: str
    labels: dict[str, str]
    right_party: bool
    note_required: bool
    effect: Effect

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels["en"]

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "labels": dict(self.labels),
            "right_party": self.right_party,
            "note_required": self.note_required,
            "effect": self.effect,
        }


def parse_outcome_codes(text: str, *, source: str) -> tuple[OutcomeCode, ...]:
    """The codes of an outcomes file, checked: every code has a label in every language."""
    try:
        loaded = _CodesFile.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise InvalidInput(f"{source}: not a valid outcome codes file ({exc})") from None
    codes = []
    for code, spec in loaded.codes.items():
        missing = [lang for lang in LANGUAGES if not spec.labels.get(lang)]
        if missing:
            raise InvalidInput(f"{source}: code {code}: no label in {', '.join(missing)}")
        codes.append(
            OutcomeCode(code, dict(spec.labels), spec.right_party, spec.note_required, spec.effect)
        )
    return tuple(codes)


@cache
def shipped_outcome_codes() -> tuple[OutcomeCode, ...]:
    return parse_outcome_codes(OUTCOMES_FILE.read_text(encoding="utf-8"), source=str(OUTCOMES_FILE))


def outcome_code(code: str) -> OutcomeCode:
    """The code, or InvalidInput naming the allowed ones."""
    for known in shipped_outcome_codes():
        if known.code == code:
            return known
    allowed = ", ".join(c.code for c in shipped_outcome_codes())
    raise InvalidInput(f"outcome: {code!r} is not an outcome code; use one of {allowed}")


@dataclass(frozen=True)
class CaseSummary:
    """A case as a queue lists it: one account with open call or visit work for the day. The
    queue, template and tone are those of its highest-priority work item."""

    account_id: str
    customer_id: str
    queue: str
    priority: float | None
    segment: str
    stage: str
    template: str
    tone: str
    channel: str
    contact_date: date
    days_past_due: int | None
    amount_overdue_fen: int | None
    bucket: str | None
    claimed_by: str | None
    claim_expires_at: datetime | None
    work_item_ids: tuple[int, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "customer_id": self.customer_id,
            "queue": self.queue,
            "priority": self.priority,
            "segment": self.segment,
            "stage": self.stage,
            "template": self.template,
            "tone": self.tone,
            "channel": self.channel,
            "contact_date": self.contact_date.isoformat(),
            "days_past_due": self.days_past_due,
            "amount_overdue_fen": self.amount_overdue_fen,
            "bucket": self.bucket,
            "claimed_by": self.claimed_by,
            "claim_expires_at": (
                self.claim_expires_at.isoformat() if self.claim_expires_at else None
            ),
            "work_item_ids": list(self.work_item_ids),
        }


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list: `total` counts every match, not just this page."""

    items: list[T]
    total: int
    limit: int
    offset: int


CasePage = Page[CaseSummary]


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= 200:
        raise InvalidInput(f"limit: {limit} is not between 1 and 200")
    if offset < 0:
        raise InvalidInput(f"offset: {offset} is negative")
