"""What changed between two strategy versions: segments, stages, treatments, challengers and the
single rules (priority, operating hours, rollout), each added, removed or changed field by field.

Pure: two validated Strategy values in, a StrategyDiff out. The API and the web app show it
before a version is activated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from huancui.strategy.spec import Strategy

ChangeKind = Literal["added", "removed", "changed"]
# Sections of keyed items, in the order a reader goes through a strategy.
SECTIONS = ("segments", "stages", "treatments", "challengers", "rules")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Change:
    """One item of a section added, removed or changed (with the fields that changed)."""

    section: str
    key: str
    kind: ChangeKind
    fields: tuple[FieldChange, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "key": self.key,
            "kind": self.kind,
            "fields": [f.as_json() for f in self.fields],
        }


@dataclass(frozen=True)
class StrategyDiff:
    old: str  # "name v1"
    new: str
    changes: tuple[Change, ...]
    segment_order_changed: bool  # first match wins: reordering segments moves accounts

    @property
    def unchanged(self) -> bool:
        return not self.changes and not self.segment_order_changed

    def section(self, name: str) -> list[Change]:
        return [c for c in self.changes if c.section == name]

    def as_json(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "unchanged": self.unchanged,
            "segment_order_changed": self.segment_order_changed,
            **{name: [c.as_json() for c in self.section(name)] for name in SECTIONS},
        }


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[FieldChange, ...]:
    names = list(dict.fromkeys([*old, *new]))
    return tuple(
        FieldChange(name, old.get(name), new.get(name))
        for name in names
        if old.get(name) != new.get(name)
    )


def _keyed(
    section: str,
    old: Sequence[BaseModel],
    new: Sequence[BaseModel],
    key: Callable[[Any], str],
) -> list[Change]:
    before = {key(item): _dump(item) for item in old}
    after = {key(item): _dump(item) for item in new}
    changes: list[Change] = []
    for name, item in after.items():
        if name not in before:
            changes.append(Change(section, name, "added", _field_changes({}, item)))
        elif before[name] != item:
            changes.append(Change(section, name, "changed", _field_changes(before[name], item)))
    changes.extend(Change(section, name, "removed") for name in before if name not in after)
    return changes


# The strategy's single rules, compared as a whole each.
_RULES = ("priority", "operating_hours", "rollout")


def _rules(old: Strategy, new: Strategy) -> list[Change]:
    changes: list[Change] = []
    for name in _RULES:
        a, b = _dump(getattr(old, name)), _dump(getattr(new, name))
        if a == b:
            continue
        if a is None:
            changes.append(Change("rules", name, "added", (FieldChange(name, None, b),)))
        elif b is None:
            changes.append(Change("rules", name, "removed", (FieldChange(name, a, None),)))
        else:
            changes.append(Change("rules", name, "changed", (FieldChange(name, a, b),)))
    return changes


def compare(old: Strategy, new: Strategy) -> StrategyDiff:
    """What `new` changes with respect to `old` (metadata such as owner and change note aside)."""
    changes = [
        *_keyed("segments", old.segments, new.segments, lambda s: str(s.id)),
        *_keyed("stages", old.stages, new.stages, lambda s: str(s.id)),
        *_keyed("treatments", old.treatments, new.treatments, lambda t: f"{t.segment} × {t.stage}"),
        *_keyed(
            "challengers", old.challengers, new.challengers, lambda c: f"{c.experiment}/{c.arm}"
        ),
        *_rules(old, new),
    ]
    kept = [s.id for s in new.segments if s.id in {o.id for o in old.segments}]
    was = [s.id for s in old.segments if s.id in set(kept)]
    return StrategyDiff(
        old=f"{old.name} v{old.version}",
        new=f"{new.name} v{new.version}",
        changes=tuple(changes),
        segment_order_changed=kept != was,
    )
