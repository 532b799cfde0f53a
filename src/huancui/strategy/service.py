"""Strategy use cases: validate a file, activate a version (kept forever, audited), list versions.

Services never commit; the caller's unit of work does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.kit.errors import InvalidInput, NotFound
from huancui.strategy.loader import Finding, StrategyFile, load_strategy, parse_strategy
from huancui.strategy.repository import StrategyRepository
from huancui.strategy.spec import Strategy
from huancui.strategy.tables import StrategyVersionRow


class StrategyRejected(InvalidInput):
    """The file has errors; nothing was stored."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("\n".join(str(f) for f in findings))


class VersionConflict(InvalidInput):
    """A name and version already stored with different content: versions are immutable."""

    http_status = 409


@dataclass(frozen=True)
class Activation:
    name: str
    version: int
    sha256: str
    previous: str | None  # "name v1" of the version active before, if any
    changed: bool  # False: this version was already the active one
    stored: bool  # True: a version not seen before was stored
    effective_date: date  # in force for contact days from this date (earlier: the one before)

    def as_json(self) -> dict[str, Any]:
        return {
            "active": label(self.name, self.version),
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "previous": self.previous,
            "changed": self.changed,
            "stored": self.stored,
            "effective_date": self.effective_date.isoformat(),
        }


def label(name: str, version: int) -> str:
    return f"{name} v{version}"


def validate_file(path: Path) -> StrategyFile:
    """Read and check a strategy file; its findings say what is wrong, with file and line."""
    return load_strategy(path)


def activate(session: Session, *, path: Path, actor: str) -> Activation:
    """Make the strategy in `path` the active one (activate_loaded)."""
    return activate_loaded(session, loaded=load_strategy(path), actor=actor)


def activate_text(session: Session, *, text: str, source: str, actor: str) -> Activation:
    """The same for strategy text sent by a person (the web editor, an API upload): nothing is
    written to a file; `source` names it in messages."""
    return activate_loaded(session, loaded=parse_strategy(text, source=source), actor=actor)


def activate_loaded(session: Session, *, loaded: StrategyFile, actor: str) -> Activation:
    """Make the strategy the active one, storing it as a new version if it is new. It is in
    force for contact days from its effective date; until then the version in force before
    stays (StrategyRepository.in_force), so a future date schedules the change."""
    if loaded.strategy is None or loaded.errors:
        raise StrategyRejected(loaded.errors)
    strategy = loaded.strategy
    repo = StrategyRepository(session)
    current = repo.active()
    existing = repo.get(strategy.name, strategy.version)
    if existing is not None and existing.sha256 != loaded.sha256:
        newest = max(r.version for r in repo.all() if r.name == strategy.name)
        raise VersionConflict(
            f"{loaded.source}: {label(strategy.name, strategy.version)} was stored before with different"
            f" content (sha256 {existing.sha256[:12]}…, this file {loaded.sha256[:12]}…);"
            f" versions never change once stored: set `version: {newest + 1}` and a change_note"
        )
    previous = label(current.name, current.version) if current is not None else None
    if existing is not None and existing is current:
        return Activation(
            strategy.name,
            strategy.version,
            loaded.sha256,
            previous,
            False,
            False,
            strategy.effective_date,
        )
    now = datetime.now(UTC)
    repo.deactivate_all()
    row = existing or StrategyVersionRow(
        name=strategy.name,
        version=strategy.version,
        owner=strategy.owner,
        effective_date=strategy.effective_date,
        change_note=strategy.change_note,
        yaml_text=loaded.text,
        sha256=loaded.sha256,
    )
    row.activated_at, row.activated_by, row.is_active = now, actor, True
    if existing is None:
        repo.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="strategy.activate",
        entity_type="strategy",
        entity_id=f"{strategy.name}:v{strategy.version}",
        before={"active": previous, "sha256": current.sha256 if current else None},
        after={
            "active": label(strategy.name, strategy.version),
            "sha256": loaded.sha256,
            "effective_date": strategy.effective_date.isoformat(),
            "reactivated": existing is not None,
        },
        reason=strategy.change_note,
    )
    return Activation(
        strategy.name,
        strategy.version,
        loaded.sha256,
        previous,
        True,
        existing is None,
        strategy.effective_date,
    )


def list_versions(session: Session) -> list[StrategyVersionRow]:
    return StrategyRepository(session).all()


def active_strategy(session: Session, *, on: date | None = None) -> tuple[str, Strategy]:
    """The strategy in force on `on` (default: the most recently activated one) and its label,
    or NotFound with the command to fix it."""
    repo = StrategyRepository(session)
    row = repo.active() if on is None else repo.in_force(on)
    if row is None:
        raise NotFound(
            "no active strategy"
            + (f" in force on {on}" if on is not None else "")
            + "; activate one first: huancui strategy activate strategies/default.yaml"
        )
    parsed = parse_strategy(row.yaml_text, source=f"strategy {label(row.name, row.version)}")
    if parsed.strategy is None:
        raise InvalidInput(
            f"the stored strategy {label(row.name, row.version)} no longer validates:\n"
            + "\n".join(str(f) for f in parsed.errors)
        )
    return label(row.name, row.version), parsed.strategy
