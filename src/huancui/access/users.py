"""Staff users: who they are, their role and their password. Approvals read the role from here,
never from the caller. (Sign-in itself is access/throttle.py; tokens access/tokens.py.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access import audit, tokens
from huancui.access.passwords import check_policy, hash_password
from huancui.access.tables import ROLES, UserRow
from huancui.kit.errors import Conflict, InvalidInput, NotFound, NotPermitted

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


def set_password(
    session: Session, *, username: str, password: str, actor: str, now: datetime
) -> UserRow:
    """Set (or reset) a user's password: checks the policy, clears any lock and signs the user
    out everywhere. The audit event records that it changed, never the password."""
    row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
    if row is None:
        raise NotFound(
            f"no user {username!r}; add them first: huancui user add {username} --role ROLE"
        )
    check_policy(password, username=username)
    row.password_hash = hash_password(password)
    row.password_changed_at = now
    row.failed_logins = 0
    row.locked_until = None
    session.flush()
    revoked = tokens.revoke_user(session, row, now=now)
    audit.record(
        session,
        actor=actor,
        action="user.set_password",
        entity_type="user",
        entity_id=username,
        after={"password_changed_at": now.isoformat(), "refresh_tokens_revoked": revoked},
        reason="password set" if actor != username else "password changed by the user",
    )
    return row
