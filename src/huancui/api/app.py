"""The FastAPI application: routers under /api, OpenAPI at /docs and /openapi.json, errors as
problem details. `create_app(settings)` builds one; `huancui serve` runs it with uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from huancui import __version__
from huancui.access import tokens
from huancui.api import (
    account_routes,
    arrangement_routes,
    audit_routes,
    auth_routes,
    case_routes,
    hardship_routes,
    kpi_routes,
    outcome_routes,
    portal_routes,
    problems,
    quote_routes,
    run_routes,
    strategy_routes,
    user_routes,
)
from huancui.api.deps import refuse_nul, session_factory
from huancui.kit.database import migrate
from huancui.kit.settings import Settings

DESCRIPTION = """\
The case plane of huancui (缓催): sign-in, repayment quotes and arrangements.

Sign in at `POST /api/auth/token` (OAuth2 password form) and send the access token as
`Authorization: Bearer ...`. Errors are RFC 9457 problem details (`application/problem+json`).
What each role may do is the permission matrix of docs/security.md; docs/api.md lists the routes.
"""


ROUTE_MODULES = (
    auth_routes,
    quote_routes,
    arrangement_routes,
    account_routes,
    case_routes,
    outcome_routes,
    hardship_routes,
    strategy_routes,
    run_routes,
    kpi_routes,
    user_routes,
    audit_routes,
    portal_routes,
)


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
        dependencies=[Depends(refuse_nul)],
    )
    app.state.settings = settings
    app.state.sessions = session_factory(settings)
    problems.install(app)
    for module in ROUTE_MODULES:
        app.include_router(module.router, prefix="/api")
    from huancui.web.app import mount  # the server-rendered pages: /, /app/..., /portal/...

    mount(app, settings)
    return app
