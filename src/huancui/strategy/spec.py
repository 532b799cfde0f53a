"""The strategy spec: segments, stages, treatments, priority, challengers and the rollout plan
(staff per queue, milestones), as pydantic models.

Field checks come from pydantic; the rules across fields (stage ladder, coverage of every
segment × stage, expressions, experiment shares, rollout queues) are collected by
`semantic_problems` so that one validation lists all of them, each with the path of the rule it
concerns.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from huancui.contact.policy import Hours
from huancui.kit.calendar import zone
from huancui.kit.errors import Severity
from huancui.strategy.assignment import Arm
from huancui.strategy.expressions import ExpressionError, compile_condition, compile_number

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Reference = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=64)
]
Channel = Literal["sms", "email", "call", "visit", "letter", "legal"]
Tone = Literal["gentle", "neutral", "firm"]
Path = tuple[str | int, ...]
Day = date  # a field named `date` would hide the type inside its model


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Segment(_Frozen):
    """Accounts matching `condition`; segments are tried in order and the first match wins."""

    id: Identifier
    label_zh: Label
    label_en: Label
    condition: str = Field(min_length=1)

    @property
    def condition_sql(self) -> str:
        return compile_condition(self.condition)


class Stage(_Frozen):
    """A rung of the ladder by days past due, [min_dpd, max_dpd]; max_dpd None: open-ended."""

    id: Identifier
    label_zh: Label
    label_en: Label
    min_dpd: int = Field(ge=1)
    max_dpd: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Stage:
        if self.max_dpd is not None and self.max_dpd < self.min_dpd:
            raise ValueError(f"max_dpd {self.max_dpd} is below min_dpd {self.min_dpd}")
        return self

    def describe(self) -> str:
        return f"{self.min_dpd}–{self.max_dpd}" if self.max_dpd is not None else f"{self.min_dpd}+"


Channels = Annotated[tuple[Channel, ...], Field(min_length=1)]


class Treatment(_Frozen):
    """What is done for one segment in one stage."""

    segment: Identifier
    stage: Identifier
    channels: Channels
    template: Reference = Field(description="Message template or call script id")
    tone: Tone
    cadence_days: int = Field(ge=1, le=365, description="Contact at most every N days")
    queue: Reference

    @model_validator(mode="after")
    def _distinct_channels(self) -> Treatment:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels lists a channel twice")
        return self


class TreatmentOverride(_Frozen):
    """What a challenger changes in the champion treatment; unset fields stay as they are."""

    channels: Channels | None = None
    template: Reference | None = None
    tone: Tone | None = None
    cadence_days: int | None = Field(default=None, ge=1, le=365)
    queue: Reference | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> TreatmentOverride:
        if not self.model_fields_set:
            raise ValueError("a challenger must change at least one field of the treatment")
        if self.channels is not None and len(set(self.channels)) != len(self.channels):
            raise ValueError("channels lists a channel twice")
        return self


class Challenger(_Frozen):
    """An arm of an experiment: a share of the accounts in its cells get an altered treatment."""

    experiment: Identifier
    arm: Identifier = "challenger"
    description: str = ""
    segment: Identifier | None = Field(default=None, description="None: every segment")
    stage: Identifier | None = Field(default=None, description="None: every stage")
    traffic_share: float = Field(gt=0, lt=1)
    treatment: TreatmentOverride


# The names the early-warning section plans under: its own segment, stage and experiment.
EW_SEGMENT = "early_warning"
EW_STAGE = "pre_delinquency"
EW_EXPERIMENT = "early_warning"
EW_HOLDOUT = "holdout"


class EarlyWarning(_Frozen):
    """Pre-delinquency care (预警关怀): current accounts for which `condition` holds, typically a
    high early-warning score, get a courtesy treatment (a reminder before the due date, an offer
    to restructure) through the same compliance guard as every other contact. They plan as
    segment `early_warning`, stage `pre_delinquency`. A `holdout_share` of them, chosen by the
    stable hash of experiment `early_warning`, gets no contact, so that the effect can be
    measured against a randomised control."""

    label_zh: Label = "预警关怀"
    label_en: Label = "Early-warning care"
    condition: str = Field(min_length=1, description="Over current accounts (0 days past due)")
    channels: Channels
    template: Reference
    tone: Tone = "gentle"
    cadence_days: int = Field(ge=1, le=365)
    queue: Reference
    holdout_share: float = Field(default=0.0, ge=0, lt=1)

    @property
    def condition_sql(self) -> str:
        return compile_condition(self.condition)

    def as_treatment(self) -> Treatment:
        return Treatment(
            segment=EW_SEGMENT,
            stage=EW_STAGE,
            channels=self.channels,
            template=self.template,
            tone=self.tone,
            cadence_days=self.cadence_days,
            queue=self.queue,
        )

    def arms(self) -> list[Arm]:
        return [Arm(EW_HOLDOUT, self.holdout_share)] if self.holdout_share > 0 else []


class OperatingHours(_Frozen):
    """When the bank works each channel, in its own time zone; the compliance pack then keeps
    only the part that is lawful in each customer's local time. A channel not listed here is
    worked at any hour the pack allows."""

    timezone: str = "Asia/Shanghai"
    sms: Hours | None = None
    email: Hours | None = None
    call: Hours | None = None
    visit: Hours | None = None
    letter: Hours | None = None
    legal: Hours | None = None

    @model_validator(mode="after")
    def _known_zone(self) -> OperatingHours:
        zone(self.timezone)
        return self

    def for_channel(self, channel: str) -> Hours | None:
        hours: Hours | None = getattr(self, channel)
        return hours


class CallHandling(_Frozen):
    """How a queue works its planned calls, and the service it must give (Erlang C model,
    docs/staffing.md)."""

    aht_seconds: float = Field(
        gt=0, le=7200, description="Average handling time per planned call: dialling, talk, wrap-up"
    )
    service_level: float = Field(default=0.8, gt=0, lt=1, description="Share within the target")
    answer_within_seconds: float = Field(default=20, ge=0, le=3600)
    max_occupancy: float = Field(default=0.85, gt=0, le=1, description="Busy share of agent time")


class VisitHandling(_Frozen):
    """How long one field visit takes an agent, travel and report included."""

    hours_per_visit: float = Field(gt=0, le=24)


class QueueResources(_Frozen):
    """The staff a queue has on each working day, and how its calls and visits are handled."""

    agents: int = Field(ge=0, description="Agents (FTE) staffed per working day")
    shift_hours: float = Field(gt=0, le=24, description="Hours each agent works a day")
    shrinkage: float = Field(
        default=0, ge=0, lt=1, description="Share of paid time not spent on work items"
    )
    calls: CallHandling | None = None
    visits: VisitHandling | None = None

    @model_validator(mode="after")
    def _handles_something(self) -> QueueResources:
        if self.calls is None and self.visits is None:
            raise ValueError(
                "give calls: (aht_seconds, service level) or visits: (hours_per_visit), or both"
            )
        return self


class Milestone(_Frozen):
    """A step of the rollout, e.g. 'dialer configured', with whether it is done."""

    date: Day
    name: Label
    description: str = ""
    done: bool = False


class Rollout(_Frozen):
    """How a version is put into service: staff per queue (by queue id) and milestones."""

    resources: dict[Reference, QueueResources] = Field(default_factory=dict)
    milestones: tuple[Milestone, ...] = ()


@dataclass(frozen=True)
class Problem:
    """A rule that is wrong (error) or doubtful (warning), at a path such as ('stages', 2)."""

    path: Path
    message: str
    severity: Severity = Severity.ERROR


class StrategyInvalid(ValueError):
    """Raised from validation with every cross-field error, so the loader can place each one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


class Strategy(_Frozen):
    """One version of a collection strategy."""

    name: Identifier
    version: int = Field(ge=1)
    owner: Label
    effective_date: date
    change_note: str = Field(min_length=1)
    segments: tuple[Segment, ...] = Field(min_length=1)
    stages: tuple[Stage, ...] = Field(min_length=1)
    treatments: tuple[Treatment, ...] = Field(min_length=1)
    priority: str = Field(min_length=1, description="Numeric expression; higher is worked first")
    challengers: tuple[Challenger, ...] = ()
    early_warning: EarlyWarning | None = None
    operating_hours: OperatingHours = OperatingHours()
    rollout: Rollout | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Strategy:
        errors = [p for p in semantic_problems(self) if p.severity is Severity.ERROR]
        if errors:
            raise StrategyInvalid(errors)
        return self

    @property
    def priority_sql(self) -> str:
        return compile_number(self.priority)

    def treatment_for(self, segment: str, stage: str) -> Treatment:
        for t in self.treatments:
            if (t.segment, t.stage) == (segment, stage):
                return t
        raise KeyError(f"no treatment for {segment} × {stage}")

    def arms(self, segment: str, stage: str) -> tuple[str | None, list[Arm]]:
        """The experiment running in one cell (at most one) and its arms in order."""
        if (segment, stage) == (EW_SEGMENT, EW_STAGE):
            if self.early_warning is None or not self.early_warning.arms():
                return None, []
            return EW_EXPERIMENT, self.early_warning.arms()
        found = [c for c in self.challengers if _covers(c, segment, stage)]
        experiment = found[0].experiment if found else None
        return experiment, [Arm(c.arm, c.traffic_share) for c in found]


def _covers(challenger: Challenger, segment: str, stage: str) -> bool:
    return challenger.segment in (None, segment) and challenger.stage in (None, stage)


def semantic_problems(strategy: Strategy) -> list[Problem]:
    """Every cross-field error and warning of a structurally valid strategy."""
    return [
        *_duplicate_ids(strategy),
        *_expression_problems(strategy),
        *_catch_all_warning(strategy),
        *_stage_ladder(strategy.stages),
        *_treatment_coverage(strategy),
        *_challenger_problems(strategy),
        *_rollout_problems(strategy),
    ]


STAFFED_CHANNELS: tuple[Channel, ...] = ("call", "visit")


def queue_channels(strategy: Strategy) -> dict[str, set[str]]:
    """The channels each queue receives, from the treatments and every challenger's changes."""
    found: defaultdict[str, set[str]] = defaultdict(set)
    if strategy.early_warning is not None:
        found[strategy.early_warning.queue].update(strategy.early_warning.channels)
    for t in strategy.treatments:
        found[t.queue].update(t.channels)
        for c in strategy.challengers:
            if _covers(c, t.segment, t.stage):
                queue = c.treatment.queue or t.queue
                found[queue].update(c.treatment.channels or t.channels)
    return dict(found)


def _rollout_problems(strategy: Strategy) -> Iterator[Problem]:
    if strategy.rollout is None:
        return
    resources = strategy.rollout.resources
    channels = queue_channels(strategy)
    for queue in resources:
        if queue not in channels:
            yield Problem(
                ("rollout", "resources", queue),
                f"no treatment or challenger sends work to queue '{queue}', so its staff would"
                f" stand idle; is it misspelt? (queues: {', '.join(sorted(channels))})",
                Severity.WARNING,
            )
    for queue in sorted(channels):
        staffed = [c for c in STAFFED_CHANNELS if c in channels[queue]]
        if not staffed:
            continue
        r = resources.get(queue)
        if r is None:
            yield Problem(
                ("rollout", "resources"),
                f"queue '{queue}' receives {' and '.join(c + 's' for c in staffed)} but has no"
                " resources; staffing will report it as not staffed in the rollout plan",
                Severity.WARNING,
            )
            continue
        for channel, handling, field in (("call", r.calls, "calls"), ("visit", r.visits, "visits")):
            if channel in staffed and handling is None:
                yield Problem(
                    ("rollout", "resources", queue),
                    f"queue '{queue}' receives {channel}s but its resources give no {field}:"
                    " section, so its staff need cannot be forecast",
                    Severity.WARNING,
                )


def _duplicate_ids(strategy: Strategy) -> Iterator[Problem]:
    sections: tuple[tuple[str, list[str]], ...] = (
        ("segments", [s.id for s in strategy.segments]),
        ("stages", [s.id for s in strategy.stages]),
    )
    for section, ids in sections:
        for i, item_id in enumerate(ids):
            if item_id in ids[:i]:
                yield Problem((section, i, "id"), f"duplicate id '{item_id}'")
    reserved = (("segments", EW_SEGMENT), ("stages", EW_STAGE))
    for section, name in reserved:
        for i, item_id in enumerate(dict(sections)[section]):
            if item_id == name:
                yield Problem(
                    (section, i, "id"), f"'{name}' is reserved for the early_warning section"
                )
    for i, c in enumerate(strategy.challengers):
        if c.experiment == EW_EXPERIMENT:
            yield Problem(
                ("challengers", i, "experiment"),
                f"'{EW_EXPERIMENT}' is reserved for the early_warning section's holdout",
            )
    arms: set[tuple[str, str]] = set()
    for i, c in enumerate(strategy.challengers):
        if (c.experiment, c.arm) in arms:
            yield Problem(
                ("challengers", i, "arm"), f"experiment '{c.experiment}' has arm '{c.arm}' twice"
            )
        arms.add((c.experiment, c.arm))


def _expression_problems(strategy: Strategy) -> Iterator[Problem]:
    for i, segment in enumerate(strategy.segments):
        try:
            compile_condition(segment.condition)
        except ExpressionError as exc:
            yield Problem(("segments", i, "condition"), str(exc))
    try:
        compile_number(strategy.priority)
    except ExpressionError as exc:
        yield Problem(("priority",), str(exc))
    if strategy.early_warning is not None:
        try:
            compile_condition(strategy.early_warning.condition)
        except ExpressionError as exc:
            yield Problem(("early_warning", "condition"), str(exc))


def _catch_all_warning(strategy: Strategy) -> Iterator[Problem]:
    last = len(strategy.segments) - 1
    try:
        catch_all = compile_condition(strategy.segments[last].condition) == "TRUE"
    except ExpressionError:
        return
    if not catch_all:
        yield Problem(
            ("segments", last, "condition"),
            "the last segment is not a catch-all (condition: TRUE); accounts matching no"
            " segment get no treatment",
            Severity.WARNING,
        )


def _stage_ladder(stages: tuple[Stage, ...]) -> Iterator[Problem]:
    """Stages must cover 1, 2, 3, … days past due exactly once, in the order listed."""
    expected_min = 1
    for i, stage in enumerate(stages):
        path: Path = ("stages", i, "min_dpd")
        if stage.min_dpd > expected_min:
            yield Problem(
                path,
                f"stage '{stage.id}' starts at {stage.min_dpd} days past due, leaving a gap"
                f" at {expected_min}–{stage.min_dpd - 1}",
            )
        elif stage.min_dpd < expected_min:
            yield Problem(
                path,
                f"stage '{stage.id}' ({stage.describe()}) overlaps the stage before it, which"
                f" ends at {expected_min - 1}; list stages in order without overlap",
            )
        if stage.max_dpd is None:
            if i != len(stages) - 1:
                yield Problem(
                    ("stages", i, "max_dpd"),
                    f"stage '{stage.id}' is open-ended but is not the last stage",
                )
            return
        expected_min = stage.max_dpd + 1
    yield Problem(
        ("stages", len(stages) - 1, "max_dpd"),
        f"the last stage ends at {expected_min - 1} days past due; make it open-ended"
        " (max_dpd: null) so every delinquent account has a stage",
    )


def _ids(items: tuple[Segment, ...] | tuple[Stage, ...]) -> list[str]:
    return list(dict.fromkeys(item.id for item in items))


def _treatment_coverage(strategy: Strategy) -> Iterator[Problem]:
    segments, stages = _ids(strategy.segments), _ids(strategy.stages)
    count: Counter[tuple[str, str]] = Counter()
    for i, t in enumerate(strategy.treatments):
        if t.segment not in segments:
            yield Problem(("treatments", i, "segment"), f"unknown segment '{t.segment}'")
        if t.stage not in stages:
            yield Problem(("treatments", i, "stage"), f"unknown stage '{t.stage}'")
        count[(t.segment, t.stage)] += 1
        if count[(t.segment, t.stage)] == 2:
            yield Problem(
                ("treatments", i),
                f"second treatment for segment '{t.segment}' × stage '{t.stage}'; give each"
                " cell exactly one",
            )
    for segment in segments:
        for stage in stages:
            if count[(segment, stage)] == 0:
                yield Problem(
                    ("treatments",), f"no treatment for segment '{segment}' × stage '{stage}'"
                )


def _challenger_problems(strategy: Strategy) -> Iterator[Problem]:
    segments, stages = _ids(strategy.segments), _ids(strategy.stages)
    share: defaultdict[tuple[str, str], float] = defaultdict(float)
    experiment: dict[tuple[str, str], str] = {}
    for i, c in enumerate(strategy.challengers):
        if c.segment is not None and c.segment not in segments:
            yield Problem(("challengers", i, "segment"), f"unknown segment '{c.segment}'")
        if c.stage is not None and c.stage not in stages:
            yield Problem(("challengers", i, "stage"), f"unknown stage '{c.stage}'")
        for cell in ((g, s) for g in segments for s in stages if _covers(c, g, s)):
            other = experiment.setdefault(cell, c.experiment)
            if other != c.experiment:
                yield Problem(
                    ("challengers", i, "experiment"),
                    f"cell {cell[0]} × {cell[1]} already runs experiment '{other}'; one"
                    " experiment per segment × stage keeps the arms' shares meaningful",
                )
                continue
            before = share[cell]
            share[cell] += c.traffic_share
            if before < 1 <= share[cell]:
                yield Problem(
                    ("challengers", i, "traffic_share"),
                    f"challengers in cell {cell[0]} × {cell[1]} take {share[cell]:.0%} of"
                    " accounts; their shares must sum to less than 100 % so a champion remains",
                )
