"""Staff users: who they are and their role. Approvals read the role from here, never from the
caller. (Passwords and sign-in come with the web and API.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.access.tables import ROLES, UserRow
from huancui.kit.errors import Conflict, InvalidInput, NotPermitted

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


def add_user(
    session: Session, *, username: str, display_name: str, role: str, actor: str
) -> UserRow:
    if not _USERNAME.match(username):
        raise InvalidInput(
            f"username {username!r}: 2–64 characters, lower-case letters, digits, '.', '_' or '-',"
            " starting with a letter"
        )
    if role not in ROLES:
        raise InvalidInput(f"--role: {role!r} is not one of {', '.join(ROLES)}")
    if session.scalars(select(UserRow).where(UserRow.username == username)).first():
        raise Conflict(f"user {username} already exists")
    row = UserRow(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        active=True,
        created_at=datetime.now(UTC),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.add",
        entity_type="user",
        entity_id=username,
        after={"username": username, "role": role},
        reason="new user",
    )
    return row


def staff(session: Session, username: str) -> UserRow:
    """The active user `username`; NotPermitted when unknown or deactivated."""
    row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
    if row is None or not row.active:
        raise NotPermitted(
            f"{username!r} is not an active user; add them first: huancui user add {username}"
            " --role ROLE"
        )
    return row


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))
