"""Mounts the server-rendered web app on the API's FastAPI application: the page routers, static
files (our CSS and plotly.js from the installed plotly package), HTML error pages outside /api,
and the middleware that sets the cookies a request queued."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import plotly
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huancui.access.tables import UserRow
from huancui.api.deps import Principal
from huancui.kit.errors import HuancuiError, NotFound, NotPermitted
from huancui.kit.settings import Settings
from huancui.web import (
    collector_pages,
    compliance_pages,
    i18n,
    portal_pages,
    staff_pages,
    strategy_pages,
    supervisor_pages,
)
from huancui.web.csrf import CsrfRefused
from huancui.web.deps import PageForbidden, SignInNeeded, render
from huancui.web.sessions import apply_cookies, context_of, web_context

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
PAGE_MODULES = (
    staff_pages,
    collector_pages,
    supervisor_pages,
    portal_pages,
    strategy_pages,
    compliance_pages,
)
# Paths answered with problem details (JSON) rather than HTML pages.
API_PREFIXES = ("/api/", "/docs", "/openapi.json")


def is_api(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith(API_PREFIXES)


def error_page(request: Request, *, status: int, title_key: str, detail: str | None) -> Response:
    """A translated error page in the site's layout; falls back to plain text if even that
    fails (it must never show a stack trace)."""
    try:
        return render(
            request,
            "base.html",
            {"page_error": {"status": status, "title_key": title_key, "detail": detail}},
            status_code=status,
        )
    except Exception:  # the error page must not fail in turn
        log.exception("error page for %s failed", request.url.path)
        language = context_of(request).language
        return PlainTextResponse(i18n.translate(title_key, language), status_code=status)


def _known_visitor(request: Request) -> None:
    """For a page no route answered (404, 405): find the session, so the error page keeps the
    user's language, name and navigation. Best effort: the page shows without them."""
    if getattr(request.state, "web", None) is not None:
        return
    factory: sessionmaker[Session] = request.app.state.sessions
    try:
        with factory() as db:
            context = web_context(request, db)
            db.commit()
            found = context.session
            if found is not None and found.kind == "staff":
                user = db.scalars(
                    select(UserRow).where(UserRow.username == found.principal)
                ).first()
                if user is not None and user.active:
                    request.state.user = Principal(username=user.username, role=user.role)
    except Exception:  # the error page must not fail because of this
        log.exception("no session for the error page of %s", request.url.path)


def _html_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StarletteHTTPException) and exc.status_code in (404, 405):
        _known_visitor(request)
    if isinstance(exc, SignInNeeded):
        return RedirectResponse(exc.location, status_code=303)
    if isinstance(exc, CsrfRefused):
        return error_page(request, status=403, title_key="common.error.csrf", detail=None)
    if isinstance(exc, PageForbidden):
        return error_page(request, status=403, title_key="common.error.forbidden", detail=None)
    if isinstance(exc, NotPermitted):
        return error_page(request, status=403, title_key="common.error.forbidden", detail=str(exc))
    if isinstance(exc, NotFound):
        return error_page(request, status=404, title_key="common.error.not_found", detail=str(exc))
    if isinstance(exc, HuancuiError):
        return error_page(
            request, status=exc.http_status, title_key="common.error.refused", detail=str(exc)
        )
    if isinstance(exc, RequestValidationError):
        fields = sorted({str(e.get("loc", ("", "?"))[-1]) for e in exc.errors() if e.get("loc")})
        return error_page(
            request,
            status=422,
            title_key="common.error.invalid_form",
            detail=", ".join(fields) or None,
        )
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return error_page(request, status=404, title_key="common.error.not_found", detail=None)
        if exc.status_code == 405:
            return error_page(
                request, status=405, title_key="common.error.method_not_allowed", detail=None
            )
        return error_page(
            request, status=exc.status_code, title_key="common.error.refused", detail=None
        )
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, status=500, title_key="common.error.internal", detail=None)


Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def _split(api_handler: Handler | None) -> Callable[[Request, Exception], Awaitable[Response]]:
    """One handler: the API's problem details under /api, an HTML page everywhere else."""

    async def handle(request: Request, exc: Exception) -> Response:
        if api_handler is not None and is_api(request):
            answer = api_handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        return _html_error(request, exc)

    return handle


class QueuedCookies:
    """ASGI middleware: adds the Set-Cookie headers a request queued (sessions.queue_cookie) to
    its response, whichever response that is (a page, a redirect, an error page)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                request = Request(scope)
                if getattr(request.state, "web_cookies", None):
                    carrier = Response()
                    apply_cookies(request, carrier)
                    cookies = [(k, v) for k, v in carrier.raw_headers if k == b"set-cookie"]
                    message = {**message, "headers": [*message.get("headers", []), *cookies]}
            await send(message)

        await self.app(scope, receive, send_with_cookies)


@functools.cache
def _plotly_js_path() -> Path:
    if not PLOTLY_JS.is_file():  # a plotly without its bundled file: write it out once
        raise FileNotFoundError(f"plotly.js is not at {PLOTLY_JS}; reinstall plotly")
    return PLOTLY_JS


def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package: nothing is fetched from a CDN."""
    return FileResponse(
        _plotly_js_path(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def mount(app: FastAPI, settings: Settings) -> None:
    """Adds the web app's routes, static files and HTML error pages to `app`."""
    del settings  # pages read the settings from app.state, as the API does
    for module in PAGE_MODULES:
        app.include_router(module.router, dependencies=[Depends(web_context)])
    app.add_api_route("/static/plotly.min.js", plotly_js, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    handlers: dict[Any, Handler] = dict(app.exception_handlers)
    for kind in (HuancuiError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, _split(handlers.get(kind)))
    app.add_exception_handler(SignInNeeded, _split(None))
    app.add_middleware(QueuedCookies)
