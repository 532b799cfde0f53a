"""Password sign-in with throttling: per username (a lock after settings.login_max_failures
wrong passwords in a row) and per client (a sliding window in memory); every attempt audited."""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.access.passwords import hash_password, needs_rehash, verify_password
from huancui.access.tables import UserRow
from huancui.access.tokens import Outcome
from huancui.kit.errors import NotPermitted
from huancui.kit.settings import Settings

# One message for every refusal: it must not tell an attacker whether the username exists,
# the password was nearly right or the account is locked.
REFUSED = (
    "sign-in failed: wrong username or password, or too many failed attempts; wait a few"
    " minutes and try again, or ask an administrator"
)


class ClientThrottle:
    """Failed sign-ins per client key (e.g. the IP address) in a sliding window. In memory, per
    process: it slows one client guessing many usernames; the per-user lock is the hard limit."""

    def __init__(
        self,
        *,
        limit: int = 20,
        window: timedelta = timedelta(minutes=15),
        max_clients: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: datetime) -> deque[datetime]:
        times = self._failures.get(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, client: str, *, now: datetime) -> bool:
        with self._lock:
            return len(self._recent(client, now)) >= self.limit

    def record_failure(self, client: str, *, now: datetime) -> None:
        with self._lock:
            if client not in self._failures and len(self._failures) >= self.max_clients:
                self._forget_idle(now)
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()

    def _forget_idle(self, now: datetime) -> None:
        for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window]:
            del self._failures[key]
        if len(self._failures) >= self.max_clients:  # all busy: drop the oldest
            del self._failures[next(iter(self._failures))]


CLIENTS = ClientThrottle()


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _audit(session: Session, *, username: str, action: str, client: str, reason: str) -> None:
    audit.record(
        session,
        actor=username[:64],
        action=action,
        entity_type="user",
        entity_id=username[:64],
        after={"client": client[:64]},
        reason=reason,
    )


def authenticate(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    *,
    client: str,
    now: datetime,
    clients: ClientThrottle = CLIENTS,
) -> Outcome[UserRow]:
    """Check a username and password. Returns the user, or a refusal (NotPermitted, one message
    for every cause) to raise after the caller commits: failure counts and audit events must
    be kept even when sign-in is refused."""
    now = now.astimezone(UTC)

    def refuse(action: str, reason: str) -> Outcome[UserRow]:
        clients.record_failure(client, now=now)
        _audit(session, username=username, action=action, client=client, reason=reason)
        return Outcome(refusal=NotPermitted(REFUSED))

    if clients.blocked(client, now=now):
        return refuse("login.throttled", "too many failed sign-ins from this client")
    user = session.scalars(select(UserRow).where(UserRow.username == username)).first()
    if user is None or not user.active or user.password_hash is None:
        verify_password(None, password)  # same time as a wrong password
        return refuse("login.failure", "unknown user, deactivated or no password set")
    if user.locked_until is not None and _aware(user.locked_until) > now:
        return refuse("login.failure", "account locked after repeated wrong passwords")
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.failed_logins = 0
            user.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
            return refuse(
                "login.locked",
                f"wrong password; {settings.login_max_failures} in a row lock the account"
                f" for {settings.login_lock_minutes} minutes",
            )
        return refuse("login.failure", "wrong password")
    user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    _audit(session, username=username, action="login.success", client=client, reason="signed in")
    return Outcome(result=user)
