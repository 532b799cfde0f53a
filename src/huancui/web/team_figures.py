"""Read-only figures for the supervisor's team page: contact outcomes per collector in a time
window (counts by outcome code), counted by the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huancui.cases.model import OutcomeCode
from huancui.cases.tables import ContactOutcomeRow


@dataclass
class CollectorDay:
    """One collector's outcomes in the window."""

    actor: str
    by_code: dict[str, int] = field(default_factory=dict)
    right_party: int = 0
    promises: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_code.values())

    @property
    def right_party_rate(self) -> float | None:
        """Right-party contacts per outcome logged (None without any)."""
        return self.right_party / self.total if self.total else None


def outcomes_by_collector(
    session: Session, *, since: datetime, until: datetime, codes: list[OutcomeCode]
) -> list[CollectorDay]:
    """Per collector (by name), the outcomes that occurred in [since, until): counts by code,
    right-party contacts and promises (codes whose effect is a promise)."""
    rows = session.execute(
        select(ContactOutcomeRow.actor, ContactOutcomeRow.outcome, func.count())
        .where(ContactOutcomeRow.occurred_at >= since, ContactOutcomeRow.occurred_at < until)
        .group_by(ContactOutcomeRow.actor, ContactOutcomeRow.outcome)
    ).all()
    known = {c.code: c for c in codes}
    found: dict[str, CollectorDay] = {}
    for actor, outcome, count in rows:
        day = found.setdefault(str(actor), CollectorDay(actor=str(actor)))
        day.by_code[str(outcome)] = int(count)
        code = known.get(str(outcome))
        if code is not None and code.right_party:
            day.right_party += int(count)
        if code is not None and code.effect == "promise":
            day.promises += int(count)
    return [found[actor] for actor in sorted(found)]
