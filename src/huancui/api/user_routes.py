"""Staff users over the API (user:admin): list, add, change role or deactivate, set a password.
Password hashes never leave the server; every change is an audit event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field, SecretStr, model_validator
from sqlalchemy import select

from huancui.access import audit, tokens
from huancui.access.tables import ROLES, UserRow
from huancui.access.users import add_user, set_password
from huancui.api.deps import NO_NUL, Limit, Offset, Page, Principal, SessionDep, page_of, require
from huancui.kit.errors import Conflict, InvalidInput, NotFound

router = APIRouter(prefix="/users", tags=["users"])
Admin = Annotated[Principal, require("user:admin")]
Username = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL)]


class NewUser(BaseModel):
    username: str = Field(min_length=2, max_length=64, pattern=NO_NUL)
    display_name: str = Field(default="", max_length=128, pattern=NO_NUL)
    role: str = Field(min_length=1, max_length=32, pattern=NO_NUL, description=", ".join(ROLES))
    password: SecretStr | None = Field(
        default=None, description="Optional; without one the user cannot sign in yet"
    )


class UserChange(BaseModel):
    """What to change; fields left out stay as they are."""

    role: str | None = Field(default=None, min_length=1, max_length=32, pattern=NO_NUL)
    active: bool | None = None
    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)

    @model_validator(mode="after")
    def _changes_something(self) -> UserChange:
        if self.role is None and self.active is None:
            raise ValueError("give role, active or both")
        return self


class NewPassword(BaseModel):
    password: SecretStr


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else _aware(moment).isoformat()


def user_json(row: UserRow) -> dict[str, Any]:
    """A user as the API shows it: whether a password is set, never its hash."""
    return {
        "username": row.username,
        "display_name": row.display_name,
        "role": row.role,
        "active": row.active,
        "created_at": _iso(row.created_at),
        "created_by": row.created_by,
        "password_set": row.password_hash is not None,
        "password_changed_at": _iso(row.password_changed_at),
        "locked": row.locked_until is not None and _aware(row.locked_until) > datetime.now(UTC),
    }


def _user(session: SessionDep, username: str) -> UserRow:
    row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
    if row is None:
        raise NotFound(f"no user {username!r}")
    return row


@router.get("", response_model=Page)
def list_users(
    session: SessionDep,
    _: Admin,
    role: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
    active: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """Staff users by username, filtered by role and whether they are active."""
    query = select(UserRow).order_by(UserRow.username)
    if role is not None:
        query = query.where(UserRow.role == role)
    if active is not None:
        query = query.where(UserRow.active.is_(active))
    rows, total = page_of(session, query, limit=limit, offset=offset)
    return Page(items=[user_json(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{username}")
def show_user(username: Username, session: SessionDep, _: Admin) -> dict[str, Any]:
    return user_json(_user(session, username))


@router.post("", status_code=201)
def create_user(
    body: NewUser, response: Response, session: SessionDep, user: Admin
) -> dict[str, Any]:
    """Add a member of staff (and set a first password when one is given)."""
    row = add_user(
        session,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        actor=user.username,
    )
    if body.password is not None:
        set_password(
            session,
            username=row.username,
            password=body.password.get_secret_value(),
            actor=user.username,
            now=datetime.now(UTC),
        )
    response.headers["Location"] = f"/api/users/{row.username}"
    return user_json(row)


@router.patch("/{username}")
def change_user(
    username: Username, body: UserChange, session: SessionDep, user: Admin
) -> dict[str, Any]:
    """Change a user's role or deactivate (or reactivate) them: it takes effect on their next
    request; deactivating also signs them out everywhere. Nobody changes their own account
    this way (another admin must), so the last admin cannot lock everyone out."""
    row = _user(session, username)
    if row.username == user.username:
        raise Conflict("you cannot change your own role or deactivate yourself; ask another admin")
    if body.role is not None and body.role not in ROLES:
        raise InvalidInput(f"role: {body.role!r} is not one of {', '.join(ROLES)}")
    before = {"role": row.role, "active": row.active}
    if body.role is not None:
        row.role = body.role
    if body.active is not None:
        row.active = body.active
    after: dict[str, Any] = {"role": row.role, "active": row.active}
    if after == before:
        return user_json(row)
    if before["active"] and not row.active:
        after["refresh_tokens_revoked"] = tokens.revoke_user(session, row, now=datetime.now(UTC))
    session.flush()
    audit.record(
        session,
        actor=user.username,
        action="user.change",
        entity_type="user",
        entity_id=row.username,
        before=before,
        after=after,
        reason=body.reason.strip(),
    )
    return user_json(row)


@router.post("/{username}/password", status_code=204)
def reset_password(username: Username, body: NewPassword, session: SessionDep, user: Admin) -> None:
    """Set or reset a password: clears a lock and signs the user out everywhere. The password
    policy's refusal is a 422 saying what to change; the password is never echoed or logged."""
    set_password(
        session,
        username=username,
        password=body.password.get_secret_value(),
        actor=user.username,
        now=datetime.now(UTC),
    )
