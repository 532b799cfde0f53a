"""Searching the audit log (who did what, when, to which record), newest first, one page at a
time; the API and the web app both read it through `search`.

The log is for accountability, not for reading customers' personal data: personal values that an
event's before/after holds (a phone number, a national ID, a name, an address…) come back
masked, whoever asks. The stored event is untouched, so the hash chain still verifies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huancui.access.tables import AuditEventRow
from huancui.kit.masking import mask_email, mask_name, mask_national_id, mask_phone, mask_text

MAX_LIMIT = 200

# Keys of before/after whose values are personal, and how each is shown. Matched on the key's
# name at any depth, so an event written by any feature is covered without a list of actions.
_PERSONAL: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "customer_name": mask_name,
    "display_name": mask_name,
    "phone": mask_phone,
    "mobile": mask_phone,
    "phone_number": mask_phone,
    "national_id": mask_national_id,
    "id_number": mask_national_id,
    "email": mask_email,
    "address": mask_text,
    "birth_date": mask_text,
    "details": mask_text,
    "comment": mask_text,
    "note": mask_text,
}


def mask_personal(value: Any) -> Any:
    """`value` (an event's before or after) with every personal value masked."""
    if isinstance(value, dict):
        return {
            key: _PERSONAL[key](str(item))
            if key in _PERSONAL and item is not None and not isinstance(item, (dict, list))
            else mask_personal(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_personal(item) for item in value]
    return value


def _aware(moment: datetime) -> datetime:
    # Stored in UTC; SQLite hands back (and compares) the UTC wall time without an offset.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    return _aware(moment).astimezone(UTC)


def event_json(row: AuditEventRow) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "occurred_at": _aware(row.occurred_at).isoformat(),
        "actor": row.actor,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "before": mask_personal(row.before),
        "after": mask_personal(row.after),
        "reason": row.reason,
        "hash": row.hash,
    }


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Events matching every filter given (newest first) and how many match in all.

    `action` is exact ("hardship.approved") or, ending in ".*", every action of a family
    ("hardship.*"); `since` and `until` bound when it happened (inclusive, naive = UTC). Every
    value is a bound parameter: a filter that looks like SQL matches nothing."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1–{MAX_LIMIT}, not {limit}")
    if offset < 0:
        raise ValueError(f"offset must not be negative, not {offset}")
    query = select(AuditEventRow)
    if actor is not None:
        query = query.where(AuditEventRow.actor == actor)
    if action is not None:
        if action.endswith(".*"):
            prefix = _escape_like(action[:-1])
            query = query.where(AuditEventRow.action.like(prefix + "%", escape="\\"))
        else:
            query = query.where(AuditEventRow.action == action)
    if entity_type is not None:
        query = query.where(AuditEventRow.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEventRow.entity_id == entity_id)
    if since is not None:
        query = query.where(AuditEventRow.occurred_at >= _utc(since))
    if until is not None:
        query = query.where(AuditEventRow.occurred_at <= _utc(until))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.order_by(AuditEventRow.event_id.desc()).limit(limit).offset(offset)
    )
    return [event_json(row) for row in rows], int(total or 0)
