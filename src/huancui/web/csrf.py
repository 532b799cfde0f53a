"""CSRF protection for every state-changing form: a synchronizer token kept in the session, or,
before sign-in, a random token in a cookie that the form must repeat (double submit)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request

from huancui.kit.errors import NotPermitted
from huancui.web.sessions import PendingCookie, WebContextDep, context_of, queue_cookie

FIELD = "csrf_token"
# Before sign-in (the staff and the customer sign-in forms) the token lives in this cookie.
PRE_SESSION_COOKIE = "huancui_csrf"
_MIN_LENGTH = 32


class CsrfRefused(NotPermitted):
    """A form without the right CSRF token: answered with a translated 403 page."""

    def __init__(self) -> None:
        super().__init__(
            "the form's security token is missing or out of date; reload the page and try again"
        )


def token_for(request: Request) -> str:
    """The token a form on this page must carry: the session's, or before sign-in the
    pre-session cookie's (created, and set on the response, when there is none yet)."""
    context = context_of(request)
    if context.session is not None:
        return context.session.csrf_token
    existing = getattr(request.state, "pre_session_csrf", None) or request.cookies.get(
        PRE_SESSION_COOKIE
    )
    if isinstance(existing, str) and len(existing) >= _MIN_LENGTH:
        return existing
    token = secrets.token_urlsafe(32)
    request.state.pre_session_csrf = token
    queue_cookie(request, PendingCookie(PRE_SESSION_COOKIE, token))
    return token


async def csrf_checked(request: Request, context: WebContextDep) -> None:
    """Refuse (403) a POST whose form field csrf_token does not match the expected token."""
    form = await request.form()
    submitted = form.get(FIELD)
    if context.session is not None:
        expected: str | None = context.session.csrf_token
    else:
        expected = request.cookies.get(PRE_SESSION_COOKIE)
    if (
        not isinstance(submitted, str)
        or not expected
        or len(expected) < _MIN_LENGTH
        or not hmac.compare_digest(submitted.encode("utf-8"), expected.encode("utf-8"))
    ):
        raise CsrfRefused()


# Add `_: CsrfChecked` to every POST page route (the tests find routes without it).
CsrfChecked = Annotated[None, Depends(csrf_checked)]
