"""The FastAPI application: routers under /api, OpenAPI at /docs and /openapi.json, errors as
problem details. `create_app(settings)` builds one; `huancui serve` runs it with uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from huancui import __version__
from huancui.access import tokens
from huancui.api import arrangement_routes, auth_routes, problems, quote_routes
from huancui.api.deps import session_factory
from huancui.kit.database import migrate
from huancui.kit.settings import Settings

DESCRIPTION = """\
The case plane of huancui (缓催): sign-in, repayment quotes and arrangements.

Sign in at `POST /api/auth/token` (OAuth2 password form) and send the access token as
`Authorization: Bearer ...`. Errors are RFC 9457 problem details (`application/problem+json`).
What each role may do is the permission matrix of docs/security.md; docs/api.md lists the routes.
"""


def create_app(settings: Settings) -> FastAPI:
    """The API over `settings`' database. Refuses to start without a token secret (set
    HUANCUI_JWT_SECRET, or in a local demo call access.tokens.ensure_secret first)."""
    tokens.signing_key(settings)  # fail now, not on the first sign-in

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(migrate, settings.resolved_database_url)
        yield

    app = FastAPI(
        title="huancui API",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = session_factory(settings)
    problems.install(app)
    for router in (auth_routes.router, quote_routes.router, arrangement_routes.router):
        app.include_router(router, prefix="/api")
    return app
