"""Casework over the API: a collector's queue, taking the next case, giving one back. Thin:
cases/service.py does the work in the request's unit of work; the collector is the caller,
unless a supervisor looks at someone else's queue."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from huancui.api.deps import Limit, Offset, Page, Principal, SessionDep, require
from huancui.cases import service
from huancui.kit.errors import NotPermitted

router = APIRouter(prefix="/cases", tags=["cases"])
Reader = Annotated[Principal, require("queue:read")]
Worker = Annotated[Principal, require("case:work")]
QueueName = Annotated[str | None, Query(min_length=1, max_length=64)]


def _today() -> date:
    return date.today()


class NextRequest(BaseModel):
    as_of: date | None = Field(default=None, description="The working day (default: today).")
    queue: str | None = Field(default=None, min_length=1, max_length=64)


class ReleaseRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    force: bool = Field(default=False, description="A supervisor releases another's case.")


@router.get("/queue", response_model=Page)
def queue(
    session: SessionDep,
    user: Reader,
    as_of: date | None = None,
    queue: QueueName = None,
    collector: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    all_cases: Annotated[
        bool, Query(alias="all", description="Every case with its holder, not only free ones.")
    ] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """The open cases of the day the collector may work, highest priority first. The collector
    is the caller; a supervisor or manager may name another with `collector`."""
    who = collector or user.username
    if who != user.username and user.role not in service.SUPERVISOR_ROLES:
        raise NotPermitted(f"the {user.role} role may only see its own queue")
    page = service.queue(
        session,
        collector=who,
        as_of=as_of or _today(),
        queue=queue,
        limit=limit,
        offset=offset,
        include_claimed=all_cases,
    )
    return Page(
        items=[c.as_json() for c in page.items], total=page.total, limit=limit, offset=offset
    )


@router.post("/next", responses={204: {"description": "No case is left for the caller."}})
def take_next(body: NextRequest, session: SessionDep, user: Worker) -> Any:
    """Claim the next case for the caller: the one they hold, else the highest-priority free
    one (or one whose claim lapsed). 204 when none is left."""
    case = service.take_next(
        session,
        collector=user.username,
        as_of=body.as_of or _today(),
        now=datetime.now(UTC),
        queue=body.queue,
    )
    if case is None:
        return Response(status_code=204)
    return case.as_json()


@router.post("/{account_id}/release", status_code=204)
def release(account_id: str, body: ReleaseRequest, session: SessionDep, user: Worker) -> Response:
    """Give the case back to the queue: its holder, or a supervisor with `force`."""
    service.release(
        session,
        account_id=account_id,
        collector=user.username,
        now=datetime.now(UTC),
        reason=body.reason,
        force=body.force,
    )
    return Response(status_code=204)
