"""Server-side web sessions: starting one at sign-in, finding it from the cookie, ending it at
sign-out or expiry. The cookie carries a random token; only its SHA-256 is stored."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Depends, Request, Response
from sqlalchemy import update
from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.api.deps import SessionDep
from huancui.web import i18n
from huancui.web.i18n import LANGUAGES
from huancui.web.tables import WebSessionRow

COOKIE = "huancui_session"
Kind = Literal["staff", "customer"]
KINDS: tuple[Kind, ...] = ("staff", "customer")
# A session ends after this long without a request (idle) and at the latest this long after it
# began (absolute). Customers' sessions are shorter: they use the portal briefly and often on
# shared phones.
IDLE: dict[str, timedelta] = {"staff": timedelta(minutes=30), "customer": timedelta(minutes=15)}
ABSOLUTE: dict[str, timedelta] = {"staff": timedelta(hours=12), "customer": timedelta(hours=2)}
# last_seen_at is written at most this often, not on every request.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class WebSession:
    """A live session, as the request sees it. `principal` is a username (staff) or a
    customer_id (customer)."""

    session_hash: str
    kind: str
    principal: str
    csrf_token: str
    language: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _view(row: WebSessionRow) -> WebSession:
    return WebSession(
        session_hash=row.session_hash,
        kind=row.kind,
        principal=row.principal,
        csrf_token=row.csrf_token,
        language=row.language,
        expires_at=_aware(row.expires_at),
    )


def _audit(session: Session, *, kind: str, principal: str, action: str, reason: str) -> None:
    audit.record(
        session,
        actor=principal,
        action=action,
        entity_type="user" if kind == "staff" else "customer",
        entity_id=principal,
        after={"kind": kind},
        reason=reason,
    )


def start_session(
    db_session: Session,
    *,
    kind: Kind,
    principal: str,
    language: str,
    now: datetime | None = None,
) -> str:
    """A new session for `principal` (after they proved who they are); returns the cookie
    value, which is never stored. Audited as web_session.start."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    token = secrets.token_urlsafe(32)
    db_session.add(
        WebSessionRow(
            session_hash=token_hash(token),
            kind=kind,
            principal=principal,
            csrf_token=secrets.token_urlsafe(32),
            language=language,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE[kind],
            revoked_at=None,
        )
    )
    db_session.flush()
    _audit(
        db_session,
        kind=kind,
        principal=principal,
        action="web_session.start",
        reason="signed in to the web app",
    )
    return token


def lookup(
    db_session: Session, token: str | None, *, now: datetime | None = None
) -> WebSession | None:
    """The live session of a cookie value, or None (unknown, revoked, idle too long, or past
    its absolute end). Marks the session as seen."""
    if not token:
        return None
    now = (now or datetime.now(UTC)).astimezone(UTC)
    row = db_session.get(WebSessionRow, token_hash(token))
    if row is None or row.revoked_at is not None or row.kind not in KINDS:
        return None
    if _aware(row.expires_at) <= now or _aware(row.last_seen_at) + IDLE[row.kind] <= now:
        return None
    if now - _aware(row.last_seen_at) >= _TOUCH_EVERY:
        row.last_seen_at = now
        db_session.flush()
    return _view(row)


def end_session(
    db_session: Session,
    web_session: WebSession,
    *,
    now: datetime | None = None,
    reason: str = "signed out",
) -> None:
    """Revoke the session (sign-out): its cookie opens nothing any more. Audited as
    web_session.end."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    db_session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.session_hash == web_session.session_hash)
        .where(WebSessionRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    _audit(
        db_session,
        kind=web_session.kind,
        principal=web_session.principal,
        action="web_session.end",
        reason=reason,
    )


def set_language(db_session: Session, web_session: WebSession, language: str) -> None:
    """Remember the session's language choice (a preference: not audited)."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    db_session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.session_hash == web_session.session_hash)
        .values(language=language)
    )


def secure_cookies(request: Request) -> bool:
    """Cookies are marked Secure when the request came over HTTPS. Behind a TLS-terminating
    proxy run uvicorn with --proxy-headers (and --forwarded-allow-ips) so the scheme is https."""
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, *, kind: Kind) -> None:
    """Put the session token in the HttpOnly, SameSite=Lax cookie (a session cookie for the
    browser: the server enforces the expiry)."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(ABSOLUTE[kind].total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request)
    )


# --- the request's session and language -------------------------------------------------------


@dataclass(frozen=True)
class PendingCookie:
    """A cookie to set (value) or delete (value None) on whatever response the request ends
    with: app.py's middleware applies these, so a redirect or an error page keeps them too."""

    name: str
    value: str | None
    max_age: int | None = None


def queue_cookie(request: Request, cookie: PendingCookie) -> None:
    pending: dict[str, PendingCookie] = getattr(request.state, "web_cookies", {})
    pending[cookie.name] = cookie
    request.state.web_cookies = pending


def apply_cookies(request: Request, response: Response) -> None:
    for cookie in getattr(request.state, "web_cookies", {}).values():
        if cookie.value is None:
            response.delete_cookie(
                cookie.name, path="/", httponly=True, samesite="lax", secure=secure_cookies(request)
            )
        else:
            response.set_cookie(
                cookie.name,
                cookie.value,
                max_age=cookie.max_age,
                path="/",
                httponly=True,
                samesite="lax",
                secure=secure_cookies(request),
            )


@dataclass(frozen=True)
class WebContext:
    """What every page request knows before its route runs: the live session (or None) and the
    language to answer in. Kept on request.state.web for templates and error pages."""

    session: WebSession | None
    language: str


LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


def web_context(request: Request, db: SessionDep) -> WebContext:
    """The request's session and language. A valid ?lang= is remembered: in the session when
    there is one, and always in the language cookie (pages without a session use it)."""
    found = lookup(db, request.cookies.get(COOKIE))
    asked = i18n.normalise(request.query_params.get("lang"))
    language = i18n.choose(
        query=asked,
        session_language=found.language if found else None,
        cookie=request.cookies.get(i18n.LANGUAGE_COOKIE),
        accept_language=request.headers.get("accept-language"),
    )
    if asked:
        if found is not None and found.language != asked:
            set_language(db, found, asked)
            found = dataclasses.replace(found, language=asked)
        if request.cookies.get(i18n.LANGUAGE_COOKIE) != asked:
            queue_cookie(request, PendingCookie(i18n.LANGUAGE_COOKIE, asked, LANGUAGE_COOKIE_AGE))
    context = WebContext(session=found, language=language)
    request.state.web = context
    return context


WebContextDep = Annotated[WebContext, Depends(web_context)]


def context_of(request: Request) -> WebContext:
    """The context web_context stored; for pages reached without it (an unknown URL's 404
    page), one from the cookie and Accept-Language, without a session."""
    found: WebContext | None = getattr(request.state, "web", None)
    if found is not None:
        return found
    language = i18n.choose(
        query=request.query_params.get("lang"),
        session_language=None,
        cookie=request.cookies.get(i18n.LANGUAGE_COOKIE),
        accept_language=request.headers.get("accept-language"),
    )
    return WebContext(session=None, language=language)
