"""Staff sign-in and sign-out, and the role's home. Sign-in goes through the same
access.throttle.authenticate as the API, so both share lockout, throttling and audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from huancui.access import throttle
from huancui.kit.errors import NotPermitted
from huancui.web.csrf import CsrfChecked
from huancui.web.deps import (
    DbSession,
    SettingsDep,
    StaffUser,
    redirect,
    render,
    role_home,
    safe_next,
)
from huancui.web.sessions import (
    WebContextDep,
    clear_session_cookie,
    end_session,
    set_session_cookie,
    start_session,
)

router = APIRouter(include_in_schema=False)


@router.get("/login", name="login")
def login_form(request: Request, context: WebContextDep, next: str = "") -> Response:
    if context.session is not None and context.session.kind == "staff":
        return redirect(safe_next(next, default="/"))
    return render(request, "login.html", {"next": next, "username": "", "refused": False})


@router.post("/login", name="login_submit")
def login_submit(
    request: Request,
    _: CsrfChecked,
    context: WebContextDep,
    db: DbSession,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The API's sign-in path: one refusal message whatever the cause; the failure count and
    audit event are committed even though sign-in is refused."""
    now = datetime.now(UTC)
    client = request.client.host if request.client else "unknown"
    outcome = throttle.authenticate(
        db, settings, username.strip(), password, client=client, now=now
    )
    db.commit()  # the failure count and audit event outlive the refusal
    try:
        user = outcome.value()
    except NotPermitted:
        return render(
            request,
            "login.html",
            {"next": next, "username": username.strip(), "refused": True},
            status_code=401,
        )
    if context.session is not None:  # a new sign-in replaces whatever this browser had
        end_session(db, context.session, now=now, reason="replaced by a new sign-in")
    token = start_session(
        db, kind="staff", principal=user.username, language=context.language, now=now
    )
    home = role_home(user.role) or "/"
    response = redirect(safe_next(next, default=home))
    set_session_cookie(response, request, token, kind="staff")
    return response


@router.post("/logout", name="logout")
def logout(request: Request, _: CsrfChecked, context: WebContextDep, db: DbSession) -> Response:
    """Sign out (staff or portal customer): the session is revoked on the server."""
    found = context.session
    target = "/portal/login" if found is not None and found.kind == "customer" else "/login"
    if found is not None:
        end_session(db, found)
    response = redirect(target)
    clear_session_cookie(response, request)
    return response


@router.get("/", name="home")
def home(request: Request, user: StaffUser) -> Response:
    """The role's first page; roles without web pages see what they can use instead."""
    target = role_home(user.role)
    if target is not None:
        return redirect(target, status_code=303)
    return render(request, "base.html", {"page_notice": "common.home.no_pages"})
