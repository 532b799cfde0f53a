"""What a route depends on: the settings, one unit of work per request, the signed-in staff user
(from a Bearer access token) and the permissions the route requires (access.permissions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from huancui.access import permissions, tokens
from huancui.access.tables import UserRow
from huancui.access.tokens import TokenRejected
from huancui.arrangements.policy import ArrangementPolicy, load_arrangement_policy
from huancui.kit.database import make_engine
from huancui.kit.errors import NotPermitted
from huancui.kit.settings import Settings

TOKEN_URL = "/api/auth/token"
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def unit_of_work(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back when it
    raises. A route may commit earlier itself when a refusal must keep what it wrote (a failed
    sign-in's count and audit event, docs/security.md), then raise."""
    factory: sessionmaker[Session] = request.app.state.sessions
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def session_factory(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(bind=make_engine(settings.resolved_database_url), expire_on_commit=False)


SettingsDep = Annotated[Settings, Depends(settings_of)]
# scope="function": the commit happens before the response is sent, so a client that sees
# success can rely on it.
SessionDep = Annotated[Session, Depends(unit_of_work, scope="function")]


def arrangement_policy(settings: SettingsDep) -> ArrangementPolicy:
    return load_arrangement_policy(settings.arrangement_policy).policy


PolicyDep = Annotated[ArrangementPolicy, Depends(arrangement_policy)]


@dataclass(frozen=True)
class Principal:
    """The signed-in staff user; the role comes from the users table, not from the token."""

    username: str
    role: str


def current_user(
    settings: SettingsDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(_bearer)],
) -> Principal:
    if not token:
        raise TokenRejected("missing")
    claims = tokens.verify(settings, token, typ="access", now=datetime.now(UTC))
    user = session.scalars(select(UserRow).where(UserRow.username == claims.username)).first()
    if user is None or not user.active:
        raise TokenRejected("user unknown or deactivated")
    return Principal(username=user.username, role=user.role)


CurrentUser = Annotated[Principal, Depends(current_user)]


class Requirement:
    """A route's permission check: the caller needs at least one of `permissions`. The route ×
    role test finds these on every route, so what a route declares is what it enforces."""

    def __init__(self, *needed: str) -> None:
        unknown = [p for p in needed if p not in permissions.PERMISSIONS]
        if not needed or unknown:
            raise ValueError(f"unknown permission(s) {unknown}: see access/permissions.py")
        self.permissions = needed

    def __call__(self, user: CurrentUser) -> Principal:
        if any(permissions.allowed(user.role, p) for p in self.permissions):
            return user
        if len(self.permissions) == 1:
            permissions.require(user.role, self.permissions[0])
        raise NotPermitted(
            f"the {user.role} role may not do this: it needs one of {', '.join(self.permissions)}"
        )


def require(*needed: str) -> Any:
    """A dependency: the signed-in user, who must hold one of `needed` (else 403)."""
    return Depends(Requirement(*needed))


# Pagination and record ids, the same on every list and every `/{id}` route. The bounds keep
# values inside what both databases store (32-bit ids and offsets): an absurd number is a
# 422 naming the parameter, never an overflow deep in the driver.
MAX_ID = 2_147_483_647
# Text that reaches the database must not hold NUL: PostgreSQL text cannot store it, so it
# would fail deep in the driver. Every text input of the API carries this pattern.
NO_NUL = r"^[^\x00]*$"
_NUL = "\x00"
_NUL_MESSAGE = "must not contain a NUL character (\\u0000)"


def _nul_paths(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, str):
        if _NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nul_paths(key, (*path, str(key)))
            yield from _nul_paths(item, (*path, str(key)))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _nul_paths(item, (*path, position))


async def refuse_nul(request: Request) -> None:
    """Every request of the app (API and pages): a NUL character in the path, the query or a
    JSON or form body is a 422 naming the field, before any route runs. PostgreSQL text cannot
    hold NUL, so it would otherwise fail deep in the driver (a 500)."""
    found: list[tuple[str | int, ...]] = [
        ("path", name) for name, value in request.path_params.items() if _NUL in str(value)
    ]
    found += [("query", name) for name, value in request.query_params.multi_items()
              if _NUL in name or _NUL in value]  # fmt: skip
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = json.loads(await request.body())  # Starlette keeps the body for the route
        except ValueError:
            body = None  # the route's own parsing reports a malformed body
        found += list(_nul_paths(body, ("body",)))
    elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # FastAPI has parsed the form already (Starlette keeps it); files are checked by type.
        form = await request.form()
        found += [
            ("body", name)
            for name, value in form.multi_items()
            if _NUL in name or (isinstance(value, str) and _NUL in value)
        ]
    if found:
        raise RequestValidationError(
            [{"type": "value_error", "loc": loc, "msg": _NUL_MESSAGE} for loc in found]
        )


Limit = Annotated[int, Query(ge=1, le=200, description="Items per page (1–200).")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip.")]
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]


class Page(BaseModel):
    """One page of a list: `total` counts every match of the filters, not just this page."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def page_of(
    session: Session, query: Select[Any], *, limit: int, offset: int
) -> tuple[list[Any], int]:
    """The records of one page of `query` (one entity, ordered) and the count of all its
    matches, both computed by the database."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list(session.scalars(query.limit(limit).offset(offset)))
    return rows, int(total or 0)
