"""Access and refresh tokens (HS256 JWT): issuing, verifying, rotating and revoking them.

An access token lives settings.access_token_minutes and is never stored. A refresh token lives
settings.refresh_token_days; its jti is stored (refresh_tokens) so it can be revoked, and each
use rotates it: a refresh token presented a second time revokes every token of its family.

A customer of the portal gets an access token only (role `customer`, subject the customer_id,
at most CUSTOMER_ACCESS_MINUTES, no refresh: they request a new one-time code). `verify` refuses
it, so no staff route ever honours a customer's token, whatever a username may be called;
`verify_customer` accepts nothing else.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

import jwt
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.access.tables import RefreshTokenRow, UserRow
from huancui.kit.errors import InvalidInput, NotPermitted
from huancui.kit.secret_files import read_or_create
from huancui.kit.settings import Settings

TokenType = Literal["access", "refresh"]
ISSUER = "huancui"
ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 32
# Clock skew tolerated between the servers that issue and check tokens.
_SKEW = timedelta(seconds=30)
_REQUIRED = ["sub", "role", "exp", "iat", "jti", "typ", "iss"]
GENERIC = "sign-in required: the token is missing, invalid or expired; sign in again"
CUSTOMER_ROLE = "customer"
# A customer's token is short-lived and cannot be refreshed (docs/portal.md).
CUSTOMER_ACCESS_MINUTES = 15
# TokenRejected.reason of a genuine staff token presented where a customer's is needed: the
# portal answers it 403 (a staff role may not use the portal), not 401.
STAFF_TOKEN = "a staff token, not a customer's"


class TokenRejected(NotPermitted):
    """A token that must not be honoured. The message is the same whatever the cause, so that
    nothing about the key or the token leaks; `reason` says why, for tests and the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(GENERIC)
        self.reason = reason


T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """The result of a sign-in step that writes even when it refuses (a failure count, a revoked
    token family). Services never commit and a raised error rolls the unit of work back, so the
    refusal is returned, and the entry point calls `value()` after its unit of work commits."""

    result: T | None = None
    refusal: NotPermitted | None = None

    def value(self) -> T:
        if self.refusal is not None:
            raise self.refusal
        assert self.result is not None
        return self.result


@dataclass(frozen=True)
class Claims:
    username: str
    role: str
    typ: TokenType
    jti: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime


def signing_key(settings: Settings) -> str:
    """The configured secret; refuses to run without one (dev mode: `ensure_secret`)."""
    if settings.jwt_secret is None:
        raise InvalidInput(
            "HUANCUI_JWT_SECRET is not set: set it to a random string of at least"
            f" {MIN_SECRET_LENGTH} characters (python -c 'import secrets;"
            " print(secrets.token_urlsafe(48))'), or for a local demo let `make run` create"
            " HUANCUI_HOME/secrets/jwt.key"
        )
    secret = settings.jwt_secret.get_secret_value()
    if len(secret) < MIN_SECRET_LENGTH:
        raise InvalidInput(
            f"HUANCUI_JWT_SECRET has {len(secret)} characters; use at least {MIN_SECRET_LENGTH}"
        )
    return secret


def ensure_secret(settings: Settings) -> Settings:
    """Dev mode, chosen explicitly (`make run`): with no secret configured, use the one in
    HUANCUI_HOME/secrets/jwt.key, creating it (mode 0600) on first use."""
    if settings.jwt_secret is not None:
        return settings
    secret = read_or_create(
        settings.home / "secrets" / "jwt.key", lambda: secrets.token_urlsafe(48)
    )
    return settings.model_copy(update={"jwt_secret": SecretStr(secret)})


def _encode(
    settings: Settings,
    user: UserRow,
    *,
    typ: TokenType,
    jti: str,
    now: datetime,
    lifetime: timedelta,
) -> str:
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": user.username,
        "role": user.role,
        "typ": typ,
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(payload, signing_key(settings), algorithm=ALGORITHM)


def issue_access(settings: Settings, user: UserRow, *, now: datetime) -> str:
    lifetime = timedelta(minutes=settings.access_token_minutes)
    return _encode(settings, user, typ="access", jti=uuid.uuid4().hex, now=now, lifetime=lifetime)


def issue_customer_access(settings: Settings, customer_id: str, *, now: datetime) -> str:
    """A portal customer's access token, after they proved who they are (portal/codes.py)."""
    minutes = min(settings.access_token_minutes, CUSTOMER_ACCESS_MINUTES)
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": customer_id,
        "role": CUSTOMER_ROLE,
        "typ": "access",
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
    }
    return jwt.encode(payload, signing_key(settings), algorithm=ALGORITHM)


def verify(settings: Settings, token: str, *, typ: TokenType, now: datetime) -> Claims:
    """The claims of a genuine, unexpired staff token of type `typ`; TokenRejected otherwise
    (a customer's token included)."""
    claims = _decode(settings, token, typ=typ, now=now)
    if claims.role == CUSTOMER_ROLE:
        raise TokenRejected("a customer's token, not staff")
    return claims


def verify_customer(settings: Settings, token: str, *, now: datetime) -> Claims:
    """The claims of a genuine, unexpired customer access token (`username` is the
    customer_id); TokenRejected otherwise, with reason STAFF_TOKEN for a staff one."""
    claims = _decode(settings, token, typ="access", now=now)
    if claims.role != CUSTOMER_ROLE:
        raise TokenRejected(STAFF_TOKEN)
    return claims


def _decode(settings: Settings, token: str, *, typ: TokenType, now: datetime) -> Claims:
    key = signing_key(settings)
    try:
        # Expiry is checked below against `now`, so that callers and tests share one clock.
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise TokenRejected("tampered") from None
    except jwt.PyJWTError:
        raise TokenRejected("malformed") from None
    try:
        issued = datetime.fromtimestamp(int(payload["iat"]), UTC)
        expires = datetime.fromtimestamp(int(payload["exp"]), UTC)
    except (TypeError, ValueError, OverflowError):
        raise TokenRejected("malformed") from None
    if now >= expires:
        raise TokenRejected("expired")
    if issued > now + _SKEW:
        raise TokenRejected("issued in the future")
    if payload["typ"] != typ:
        raise TokenRejected("wrong type")
    return Claims(
        username=str(payload["sub"]),
        role=str(payload["role"]),
        typ=typ,
        jti=str(payload["jti"]),
        issued_at=issued,
        expires_at=expires,
    )


def _issue_refresh(
    session: Session, settings: Settings, user: UserRow, *, family_id: str, now: datetime
) -> str:
    lifetime = timedelta(days=settings.refresh_token_days)
    jti = uuid.uuid4().hex
    session.add(
        RefreshTokenRow(
            jti=jti,
            family_id=family_id,
            user_id=user.user_id,
            issued_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return _encode(settings, user, typ="refresh", jti=jti, now=now, lifetime=lifetime)


def _pair(
    session: Session, settings: Settings, user: UserRow, *, family_id: str, now: datetime
) -> TokenPair:
    return TokenPair(
        access_token=issue_access(settings, user, now=now),
        refresh_token=_issue_refresh(session, settings, user, family_id=family_id, now=now),
        access_expires_at=now + timedelta(minutes=settings.access_token_minutes),
    )


def sign_in(session: Session, settings: Settings, user: UserRow, *, now: datetime) -> TokenPair:
    """Tokens for a user who has just authenticated: a new refresh family."""
    return _pair(session, settings, user, family_id=uuid.uuid4().hex, now=now)


def refresh(
    session: Session, settings: Settings, token: str, *, now: datetime
) -> Outcome[TokenPair]:
    """Trade a refresh token for a new pair. The old one is spent; presenting it again revokes
    its whole family (the thief's tokens and the owner's alike: the owner signs in again)."""
    try:
        claims = verify(settings, token, typ="refresh", now=now)
    except TokenRejected as exc:
        return Outcome(refusal=exc)
    row = session.get(RefreshTokenRow, claims.jti)
    if row is None:
        return Outcome(refusal=TokenRejected("unknown refresh token"))
    if row.revoked_at is not None:
        return Outcome(refusal=TokenRejected("revoked"))
    if row.used_at is not None:
        revoke_family(session, family_id=row.family_id, now=now)
        audit.record(
            session,
            actor=claims.username,
            action="token.reuse",
            entity_type="user",
            entity_id=claims.username,
            after={"family": row.family_id},
            reason="a spent refresh token was presented again; its family is revoked",
        )
        return Outcome(refusal=TokenRejected("reused"))
    user = session.get(UserRow, row.user_id)
    if user is None or not user.active or user.username != claims.username:
        return Outcome(refusal=TokenRejected("user inactive"))
    row.used_at = now
    return Outcome(result=_pair(session, settings, user, family_id=row.family_id, now=now))


def revoke_family(session: Session, *, family_id: str, now: datetime) -> None:
    session.execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.family_id == family_id, RefreshTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_user(session: Session, user: UserRow, *, now: datetime) -> int:
    """Sign the user out everywhere (password change, deactivation); returns tokens revoked."""
    live = list(
        session.scalars(
            select(RefreshTokenRow).where(
                RefreshTokenRow.user_id == user.user_id, RefreshTokenRow.revoked_at.is_(None)
            )
        )
    )
    for row in live:
        row.revoked_at = now
    session.flush()
    return len(live)
