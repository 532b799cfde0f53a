"""Case-plane tables of strategies: every activated version (one active) and every nightly run."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from huancui.kit.database import Base


class StrategyVersionRow(Base):
    """One version of a strategy as it was activated; re-activating an older one flips the flag.

    The partial unique index makes "at most one active strategy" a database rule, not a hope.
    """

    __tablename__ = "strategy_versions"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        Index(
            "uq_strategy_versions_one_active",
            "is_active",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    strategy_version_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(64))
    effective_date: Mapped[date] = mapped_column(Date)
    change_note: Mapped[str] = mapped_column(Text)
    yaml_text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_by: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean)


class PlanRunRow(Base):
    """One nightly run: what decided it (as-of date, strategy, compliance pack, models, engine)
    and where its plan is. Re-running a date adds a row and makes it the current one; older
    rows stay for the record. A run row exists only for a run that finished: it is written in
    the same transaction as the run's work items and outbox messages.
    """

    __tablename__ = "plan_runs"
    __table_args__ = (Index("ix_plan_runs_as_of", "as_of", "is_current"),)

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date] = mapped_column(Date)
    planned_date: Mapped[date] = mapped_column(Date)
    strategy_version_id: Mapped[int] = mapped_column(
        ForeignKey("strategy_versions.strategy_version_id")
    )
    strategy_label: Mapped[str] = mapped_column(String(48))
    policy_name: Mapped[str] = mapped_column(String(32))
    policy_version: Mapped[int] = mapped_column(Integer)
    policy_sha256: Mapped[str] = mapped_column(String(64))
    model_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    snapshot_sha256: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(16))
    plan_path: Mapped[str] = mapped_column(Text)
    plan_sha256: Mapped[str] = mapped_column(String(64))
    rows_planned: Mapped[int] = mapped_column(Integer)
    rows_suppressed: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_current: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))


class ExperimentAssignmentRow(Base):
    """An account's arm in an experiment, stored the first night it is assigned.

    The arm comes from a stable hash of (experiment, account), so it does not change from night
    to night; a new strategy version that changes the arms' shares may move an account, and the
    row of that version records where it went. Monitoring reads exposure from here.
    """

    __tablename__ = "experiment_assignments"
    __table_args__ = (UniqueConstraint("experiment", "account_id", "strategy_version_id"),)

    assignment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(32))
    strategy_version_id: Mapped[int] = mapped_column(
        ForeignKey("strategy_versions.strategy_version_id")
    )
    arm: Mapped[str] = mapped_column(String(32))
    segment: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(32))
    first_run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.run_id"))
    first_as_of: Mapped[date] = mapped_column(Date)
