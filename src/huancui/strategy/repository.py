"""Every case-plane query of the strategy feature: stored versions and the active one."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huancui.strategy.tables import StrategyVersionRow


class StrategyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def active(self) -> StrategyVersionRow | None:
        return self.session.scalars(
            select(StrategyVersionRow).where(StrategyVersionRow.is_active.is_(True))
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
