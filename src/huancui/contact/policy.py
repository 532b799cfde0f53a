"""Compliance policy packs: the rules of a jurisdiction that no strategy can override.

A pack is YAML (shipped: `cn`, `us-reg-f`, in contact/packs/) validated here. What a pack may set is
the jurisdiction's detail: contact hours in the customer's local time, frequency caps, the cool-down
after a conversation, which channels need consent, holidays, and where vulnerable customers go.
What a pack may *not* do is switch off the hard holds: hardship pause (缓催), dispute,
legal/bankruptcy, deceased, do-not-contact, channel opt-out and missing consent apply in every pack,
because the guard applies them in code (`HARD_HOLDS` below), not from the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from huancui.kit.calendar import END_OF_DAY, holiday_name, zone
from huancui.kit.errors import InvalidInput, NotFound

Channel = Literal["sms", "email", "call", "visit", "letter", "legal"]
CHANNELS: tuple[str, ...] = ("sms", "email", "call", "visit", "letter", "legal")
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.\-]*$", max_length=48)]

PACKS_DIR = Path(__file__).parent / "packs"

# Account-level holds that stop every channel, in the order the guard names them, with the rule
# id each records. Not configurable: a pack cannot remove one.
HARD_HOLDS: tuple[tuple[str, str], ...] = (
    ("deceased", "hold.deceased"),
    ("bankruptcy", "hold.bankruptcy"),
    ("legal", "hold.legal"),
    ("dispute", "hold.dispute"),
    ("hardship", "hold.hardship"),
    ("do_not_contact", "hold.do_not_contact"),
    # Not a legal hold: the account is on an arrangement in good standing (a promise or plan
    # being kept); nobody is dunned while they keep their word (arrangements/ places it).
    ("arrangement", "hold.arrangement"),
)
# Of those, the holds that are about the person, not one debt: a hold on any of the customer's
# accounts stops contact about all of them.
PERSON_HOLDS: frozenset[str] = frozenset({"deceased", "bankruptcy", "do_not_contact"})
OPT_OUT_RULE = "hold.channel_opt_out"
CONSENT_RULE = "consent.missing"
VULNERABLE_RULE = "vulnerable.specialist_queue"
HOLIDAY_DEFERRED_RULE = "holiday.deferred"
HOURS_NARROWED_RULE = "hours.narrowed"
HOURS_CLOSED_RULE = "hours.no_lawful_window"
CADENCE_RULE = "strategy.cadence"
# The guard's own rule ids; a pack's caps and cool-downs must use others.
BUILT_IN_RULES: frozenset[str] = frozenset(
    {rule for _, rule in HARD_HOLDS}
    | {
        OPT_OUT_RULE,
        CONSENT_RULE,
        VULNERABLE_RULE,
        HOLIDAY_DEFERRED_RULE,
        HOURS_NARROWED_RULE,
        HOURS_CLOSED_RULE,
        CADENCE_RULE,
        "strategy.no_segment",
        "strategy.early_warning_holdout",
    }
)
# Channels the customers file records a consent for (consent_sms, consent_email, consent_call).
CONSENT_RECORDED: tuple[str, ...] = ("sms", "email", "call")


def _clock(text: str) -> time:
    if text in ("24:00", "24:00:00"):
        return END_OF_DAY
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"'{text}' is not a time of day; write HH:MM (24:00 for midnight)"
        ) from None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Hours(_Frozen):
    """Wall-clock hours [start, end); 24:00 allowed as end."""

    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    end: str = Field(pattern=r"^\d{2}:\d{2}$")

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if _clock(self.end) <= _clock(self.start):
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self

    @property
    def start_time(self) -> time:
        return _clock(self.start)

    @property
    def end_time(self) -> time:
        return _clock(self.end)

    def describe(self) -> str:
        return f"{self.start}–{self.end}"


class FrequencyCap(_Frozen):
    """At most `max` calls (attempts, or connected ones) per debt or debtor in `days` days.

    The window is the contact day and the `days - 1` days before it, in the customer's local
    time; calls the plan itself makes count too (one per account and channel and day).
    """

    id: RuleId
    channel: Channel = "call"
    scope: Literal["debt", "debtor"]
    counts: Literal["attempts", "connected"]
    days: int = Field(ge=1, le=366)
    max: int = Field(ge=0, le=1000)
    text_en: str
    text_zh: str


class Cooldown(_Frozen):
    """No `channel` contact for `days` days counting the day of a conversation as day 1."""

    id: RuleId
    channel: Channel = "call"
    scope: Literal["debt", "debtor"] = "debt"
    days: int = Field(ge=1, le=366)
    text_en: str
    text_zh: str


class HolidayRule(_Frozen):
    """On a public holiday of `calendar`, `channels` move to the next day that is not one."""

    calendar: str = Field(pattern=r"^[A-Z]{2}$", description="ISO country code for `holidays`")
    channels: tuple[Channel, ...] = ()
    max_defer_days: int = Field(default=14, ge=1, le=60)


class Vulnerable(_Frozen):
    """A vulnerable customer gets one human contact from a specialist queue, no automated push."""

    queue: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    channel: Channel = "call"
    template: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    tone: Literal["gentle", "neutral", "firm"] = "gentle"
    cadence_days: int = Field(default=7, ge=1, le=365)


class CompliancePack(_Frozen):
    """One jurisdiction's conduct rules."""

    name: str = Field(pattern=r"^[a-z][a-z0-9\-]*$")
    version: int = Field(ge=1)
    title_en: str
    title_zh: str
    sources: tuple[str, ...] = Field(min_length=1, description="The rules this pack encodes")
    default_timezone: str = Field(description="Used when a customer's time zone is unknown")
    contact_hours: Hours = Field(description="Customer's local time; no contact outside it")
    timed_channels: tuple[Channel, ...] = ("sms", "email", "call", "visit")
    parties: tuple[Literal["debtor", "guarantor"], ...] = ("debtor",)
    consent_channels: tuple[Channel, ...] = ("sms", "email", "call")
    frequency_caps: tuple[FrequencyCap, ...] = ()
    cooldowns: tuple[Cooldown, ...] = ()
    holidays: HolidayRule | None = None
    vulnerable: Vulnerable

    @model_validator(mode="after")
    def _valid_zone_and_ids(self) -> CompliancePack:
        zone(self.default_timezone)
        ids = [c.id for c in self.frequency_caps] + [c.id for c in self.cooldowns]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(duplicated)}")
        taken = sorted(set(ids) & BUILT_IN_RULES)
        if taken:
            raise ValueError(f"rule ids taken by the guard's own rules: {', '.join(taken)}")
        unrecorded = [c for c in self.consent_channels if c not in CONSENT_RECORDED]
        if unrecorded:
            # The guard could only ever find such a consent missing: say so when the pack loads.
            raise ValueError(
                f"consent_channels: no consent is recorded for {', '.join(unrecorded)}"
                f" (customers record consent for {', '.join(CONSENT_RECORDED)})"
            )
        if self.holidays is not None:
            holiday_name(date(2000, 1, 1), self.holidays.calendar)  # ValueError if unknown
        return self

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class LoadedPack:
    pack: CompliancePack
    source: str
    sha256: str


def shipped_packs() -> list[str]:
    return sorted(p.stem for p in PACKS_DIR.glob("*.yaml"))


def load_pack(name_or_path: str | Path) -> LoadedPack:
    """A shipped pack by name (`cn`, `us-reg-f`) or a pack file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PACKS_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise NotFound(
                f"no compliance pack '{name_or_path}'; shipped packs: {', '.join(shipped_packs())}"
                " (or give the path of a pack file)"
            )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read the compliance pack ({exc})") from None
    return parse_pack(text, source=str(path))


def parse_pack(text: str, *, source: str) -> LoadedPack:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise InvalidInput(f"{source}:{line}: not valid YAML") from None
    if root is None or not isinstance(data, dict):
        raise InvalidInput(f"{source}:1: a compliance pack must be a YAML mapping")
    try:
        pack = CompliancePack.model_validate(data)
    except ValidationError as exc:
        messages = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            where = ".".join(str(p) for p in loc) or "pack"
            messages.append(f"{source}:{_line(root, loc)}: {where}: {error['msg']}")
        raise InvalidInput("\n".join(messages)) from None
    return LoadedPack(pack, source, hashlib.sha256(text.encode("utf-8")).hexdigest())


def _line(node: yaml.Node, loc: tuple[int | str, ...]) -> int:
    """The line of the deepest node of `loc` that exists in the composed YAML."""
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    child = value
                    line = key.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
