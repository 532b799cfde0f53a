"""The audit log over the API: search it (personal values masked, access/audit_search.py) and
verify its hash chain (access/audit.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from huancui.access import audit, audit_search
from huancui.api.deps import NO_NUL, Limit, Offset, Page, SessionDep, require

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[require("audit:read")])

Text64 = Annotated[str | None, Query(min_length=1, max_length=64, pattern=NO_NUL)]


@router.get("", response_model=Page)
def search(
    session: SessionDep,
    actor: Text64 = None,
    action: Text64 = None,
    entity_type: Text64 = None,
    entity_id: Text64 = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """Events newest first. `action` exact or a family (`hardship.*`); `since`/`until` ISO
    date-times (without an offset: UTC)."""
    items, total = audit_search.search(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/verify")
def verify(session: SessionDep) -> dict[str, Any]:
    """Recompute the hash chain: `ok`, the events checked, and the first bad event if any."""
    check = audit.verify(session)
    return {
        "ok": check.ok,
        "events": check.events,
        "first_bad_event": check.first_bad_event,
        "problem": check.problem,
    }
