"""Contact outcomes over the API: the codes, the log (filtered, paged) and logging one (with an
Idempotency-Key). Thin: cases/service.py validates, checks the note and applies the effect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from huancui.api.deps import Limit, Offset, Page, Principal, SessionDep, SettingsDep, require
from huancui.api.idempotency import Idempotency, IdempotencyKey
from huancui.cases import service

router = APIRouter(prefix="/outcomes", tags=["outcomes"])
Reader = Annotated[Principal, require("queue:read")]
Writer = Annotated[Principal, require("outcome:write")]
Filter = Annotated[str | None, Query(min_length=1, max_length=64)]


class OutcomeRequest(BaseModel):
    """One contact's outcome. `occurred_at` defaults to now; `arrangement_id` is required for
    promise_to_pay (propose the promise first: POST /api/arrangements)."""

    account_id: str = Field(min_length=1, max_length=32)
    outcome: str = Field(min_length=1, max_length=32)
    note: str | None = Field(default=None, max_length=service.NOTE_MAX)
    channel: str = Field(default="call", max_length=8)
    occurred_at: AwareDatetime | None = None
    work_item_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    arrangement_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    hardship_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


@router.get("/codes")
def codes(_: Reader) -> list[dict[str, Any]]:
    """Every outcome code: labels (en, zh-CN), right-party contact, note required, effect."""
    return [c.as_json() for c in service.outcome_codes()]


@router.get("", response_model=Page)
def list_outcomes(
    session: SessionDep,
    _: Reader,
    account_id: Filter = None,
    actor: Filter = None,
    since: Annotated[AwareDatetime | None, Query(description="From (inclusive).")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Until (exclusive).")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """Logged outcomes, newest first."""
    page = service.list_outcomes(
        session,
        account_id=account_id,
        actor=actor,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[service.outcome_json(r) for r in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.post("", status_code=201)
def log_outcome(
    body: OutcomeRequest,
    session: SessionDep,
    settings: SettingsDep,
    user: Writer,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Log what a contact came to: the case leaves the queue and the code's effect applies.
    With an Idempotency-Key, a retry with the same body answers with the first result."""
    once = Idempotency.of(
        session,
        actor=user.username,
        key=idempotency_key,
        method="POST",
        path="/api/outcomes",
        body=body,
    )
    replayed = once.replayed()
    if replayed is not None:
        return replayed
    row = service.log_outcome(
        session,
        settings,
        account_id=body.account_id,
        outcome=body.outcome,
        note=body.note,
        actor=user.username,
        occurred_at=body.occurred_at or datetime.now(UTC),
        channel=body.channel,
        work_item_id=body.work_item_id,
        arrangement_id=body.arrangement_id,
        hardship_id=body.hardship_id,
    )
    shown = service.outcome_json(row)
    once.remember(status_code=201, response=shown)
    return shown
