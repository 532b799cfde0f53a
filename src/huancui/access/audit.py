"""Recording and verifying audit events (hash-chained, append-only)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from huancui.access.tables import AuditEventRow

GENESIS = "0" * 64


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _fields(row: AuditEventRow) -> dict[str, Any]:
    return {
        "occurred_at": row.occurred_at.astimezone(UTC).isoformat()
        if row.occurred_at.tzinfo
        else row.occurred_at.replace(tzinfo=UTC).isoformat(),
        "actor": row.actor,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "before": row.before,
        "after": row.after,
        "reason": row.reason,
    }


# Any fixed 64-bit number: the key of the PostgreSQL advisory lock that orders appends.
_CHAIN_LOCK = 0x68756E6361756469  # "huncaudi"


def _serialise_appends(session: Session) -> None:
    """On PostgreSQL, two transactions appending at once would both read the same last hash and
    fork the chain: a transaction-scoped advisory lock makes the second wait until the first
    commits, and then read its event. On SQLite the driver starts a transaction only at the
    first write, so the last hash would be read outside it: a write that changes nothing takes
    the database's write lock first (held to commit; others wait in busy_timeout)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    elif dialect == "sqlite":
        session.execute(text("UPDATE audit_events SET hash = hash WHERE 1 = 0"))


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEventRow:
    """Append an event in the caller's transaction."""
    _serialise_appends(session)
    last = session.scalars(
        select(AuditEventRow.hash).order_by(AuditEventRow.event_id.desc()).limit(1)
    ).first()
    prev = last or GENESIS
    row = AuditEventRow(
        occurred_at=datetime.now(UTC),
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        reason=reason,
        prev_hash=prev,
        hash="",
    )
    row.hash = _digest(prev, _fields(row))
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class ChainCheck:
    events: int
    first_bad_event: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_event is None


def verify(session: Session) -> ChainCheck:
    """Recompute the chain; report the first event that was changed, inserted or removed."""
    prev = GENESIS
    count = 0
    for row in session.scalars(select(AuditEventRow).order_by(AuditEventRow.event_id)):
        count += 1
        if row.prev_hash != prev:
            return ChainCheck(count, row.event_id, "an earlier event was removed or altered")
        if _digest(prev, _fields(row)) != row.hash:
            return ChainCheck(count, row.event_id, "this event's content was altered")
        prev = row.hash
    return ChainCheck(count, None, None)
