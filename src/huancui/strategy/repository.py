"""Every case-plane query of the strategy feature: stored versions and the active one."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huancui.strategy.tables import StrategyVersionRow


class StrategyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def active(self) -> StrategyVersionRow | None:
        """The most recently activated version (it may be scheduled for a later day)."""
        return self.session.scalars(
            select(StrategyVersionRow).where(StrategyVersionRow.is_active.is_(True))
        ).first()

    def in_force(self, day: date) -> StrategyVersionRow | None:
        """The version the nightly run uses for contacts on `day`: of the versions ever
        activated and effective by `day`, the one activated last. A version activated with a
        later effective date is scheduled: the one before it stays in force until then, and
        activating an older version again takes its place (a rollback)."""
        return self.session.scalars(
            select(StrategyVersionRow)
            .where(
                StrategyVersionRow.activated_at.is_not(None),
                StrategyVersionRow.effective_date <= day,
            )
            .order_by(StrategyVersionRow.activated_at.desc(), StrategyVersionRow.version.desc())
            .limit(1)
        ).first()

    def get(self, name: str, version: int) -> StrategyVersionRow | None:
        return self.session.scalars(
            select(StrategyVersionRow).where(
                StrategyVersionRow.name == name, StrategyVersionRow.version == version
            )
        ).first()

    def all(self) -> list[StrategyVersionRow]:
        return list(
            self.session.scalars(
                select(StrategyVersionRow).order_by(
                    StrategyVersionRow.name, StrategyVersionRow.version
                )
            )
        )

    def add(self, row: StrategyVersionRow) -> None:
        self.session.add(row)
        self.session.flush()

    def deactivate_all(self) -> None:
        """Clear the active flag, flushed before another row takes it (the unique index)."""
        self.session.execute(
            update(StrategyVersionRow)
            .where(StrategyVersionRow.is_active.is_(True))
            .values(is_active=False)
            .execution_options(synchronize_session="fetch")
        )
        self.session.flush()
