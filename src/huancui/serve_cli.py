"""`huancui serve`: the REST API (and later the web app) with uvicorn. FastAPI and uvicorn are
imported only when the command runs, so every other command starts fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from huancui.cli_support import err, fail
from huancui.kit.errors import InvalidInput
from huancui.kit.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


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
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Local demo only (implies --dev-secret): create one demo user per role with a"
            " random passphrase (kept in HUANCUI_HOME/secrets/demo-users.json) and print them.",
        ),
    ] = False,
) -> None:
    """Serve the web app and the API on http://HOST:PORT (OpenAPI at /docs)."""
    import uvicorn

    from huancui.access.tokens import ensure_secret
    from huancui.api.app import create_app

    settings = get_settings()
    if dev_secret or demo:
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
    if demo:
        _print_demo_users(settings)
    err.print(f"huancui on http://{host}:{port}/  (API: http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_level="info")


def _print_demo_users(settings: Settings) -> None:
    from datetime import UTC, datetime

    from rich.table import Table

    from huancui.access.demo_users import ensure_demo_users
    from huancui.kit.database import migrate, unit_of_work

    migrate(settings.resolved_database_url)
    with unit_of_work(settings.resolved_database_url) as session:
        users = ensure_demo_users(session, home=settings.home, now=datetime.now(UTC))
        customer = _demo_customer(session, settings)
    table = Table(title="Demo users (local demo only; passphrases in HUANCUI_HOME/secrets)")
    for column in ("username", "role", "password"):
        table.add_column(column)
    for user in users:
        table.add_row(user.username, user.role, user.password)
    err.print(table)
    if customer is not None:
        err.print(
            f"Customer portal (/portal): sign in with the demo customer's phone {customer};"
            f" with the {settings.outbox_adapter} adapter the one-time code is in"
            f" {settings.home / 'outbox' / 'messages.jsonl'}",
            markup=False,
        )


def _demo_customer(session: Session, settings: Settings) -> str | None:
    """The phone of a customer with an account in arrears, to try the portal with."""
    from sqlalchemy import select

    from huancui.access.pii import read_customer
    from huancui.contact.tables import WorkItemRow

    customer_id = session.scalars(
        select(WorkItemRow.customer_id).order_by(WorkItemRow.work_item_id).limit(1)
    ).first()
    pii = read_customer(session, settings, customer_id) if customer_id else None
    return pii.phone if pii is not None else None


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
