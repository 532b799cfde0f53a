"""`huancui serve`: the REST API (and later the web app) with uvicorn. FastAPI and uvicorn are
imported only when the command runs, so every other command starts fast."""

from __future__ import annotations

from typing import Annotated

import typer

from huancui.cli_support import err, fail
from huancui.kit.errors import InvalidInput
from huancui.kit.settings import get_settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    dev_secret: Annotated[
        bool,
        typer.Option(
            "--dev-secret",
            help="Local demo only: without HUANCUI_JWT_SECRET, sign tokens with"
            " HUANCUI_HOME/secrets/jwt.key (created on first use).",
        ),
    ] = False,
) -> None:
    """Serve the API on http://HOST:PORT (OpenAPI at /docs)."""
    import uvicorn

    from huancui.access.tokens import ensure_secret
    from huancui.api.app import create_app

    settings = get_settings()
    if dev_secret:
        settings = ensure_secret(settings)
    elif settings.jwt_secret is None:
        raise fail(
            InvalidInput(
                "HUANCUI_JWT_SECRET is not set: set it (at least 32 random characters), or for a"
                " local demo run `huancui serve --dev-secret`"
            )
        )
    try:
        app = create_app(settings)
    except InvalidInput as exc:
        raise fail(exc) from None
    err.print(f"huancui API on http://{host}:{port}  (OpenAPI: http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
