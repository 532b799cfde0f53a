"""`huancui outbox …`: send the SMS and e-mail that are due, and list the outbox (masked).

Mounted by huancui/cli.py as `outbox`. Sending is safe to repeat (from cron, say): a message is
sent at most once, and one left 'sending' by a dispatch that stopped is reported, never re-sent.
"""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from huancui.cli_support import JsonFlag, emit_json, err, fail, out
from huancui.kit.errors import HuancuiError
from huancui.kit.settings import get_settings

outbox_app = typer.Typer(
    help="The outbox of SMS and e-mail: send what is due, list messages.", no_args_is_help=True
)


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now().astimezone()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.utcoffset() is None:
        err.print(
            f"--now: {text!r} is not an ISO-8601 time with an offset;"
            " write e.g. 2026-11-28T09:30:00+08:00",
            markup=False,
        )
        raise typer.Exit(2)
    return value


@outbox_app.command("send")
def send(
    adapter: Annotated[
        str | None,
        typer.Option(
            "--adapter",
            help="file (masked JSON lines under HUANCUI_HOME/outbox/), log, or smtp (e-mail only)."
            " Default: HUANCUI_OUTBOX_ADAPTER (file).",
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", help="Dispatch as of this instant, ISO-8601 with offset (default: now)."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help="Send at most N messages.")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Who sends (default: OS user).")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Send the messages whose contact window contains now; expire those whose window ended."""
    from huancui.contact.channels import ADAPTER_NAMES, build_adapters
    from huancui.contact.outbox import dispatch
    from huancui.kit.database import migrate

    settings = get_settings()
    name = adapter or settings.outbox_adapter
    if name not in ADAPTER_NAMES:
        err.print(f"--adapter: choose one of {', '.join(ADAPTER_NAMES)}", markup=False)
        raise typer.Exit(2)
    moment = _now(now)
    url = settings.resolved_database_url
    migrate(url)
    with _logged_to_stderr(name == "log"):
        try:
            adapters = build_adapters(name, settings)
            report = dispatch(
                url,
                adapters=adapters,
                now=moment,
                actor=actor or getpass.getuser(),
                limit=limit,
                settings=settings,
            )
        except HuancuiError as exc:
            raise fail(exc) from None
    if json_out:
        emit_json(report.as_json())
        return
    via = ", ".join(f"{c} → {a}" for c, a in report.adapters.items())
    out.print(
        f"outbox at {moment.isoformat()} ({via}): sent {report.sent}, expired {report.expired},"
        f" failed {report.failed}, cancelled {report.cancelled}, left pending {report.left_pending}",
        highlight=False,
    )
    if report.no_adapter:
        missing = [c for c in ("sms", "email") if c not in report.adapters]
        out.print(
            f"  {report.no_adapter} due message(s) on {', '.join(missing)} have no adapter here"
            " and stay pending",
            highlight=False,
        )
    if report.over_limit:
        out.print(
            f"  {report.over_limit} due message(s) over --limit stay pending", highlight=False
        )
    for note in report.failures[:20]:
        err.print(f"failed #{note.message_id} ({note.channel}): {note.reason}", markup=False)
    if len(report.failures) > 20:
        err.print(f"… and {len(report.failures) - 20} more failed (see --json)", markup=False)
    for note in report.cancellations[:20]:
        out.print(f"cancelled #{note.message_id} ({note.channel}): {note.reason}", markup=False)
    if report.stuck:
        ids = ", ".join(f"#{n.message_id}" for n in report.stuck[:20])
        err.print(
            f"[yellow]{len(report.stuck)} message(s) still 'sending'[/yellow] ({ids}): a dispatch"
            " stopped between sending and recording (or is running now). They are NOT re-sent;"
            " check with the provider by idempotency key (huancui outbox list --status sending).",
            highlight=False,
        )


@contextmanager
def _logged_to_stderr(enabled: bool) -> Iterator[None]:
    """The log adapter's lines (masked) on stderr while the command runs."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("huancui.contact.channels")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@outbox_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most N rows, newest first.")
    ] = 100,
    json_out: JsonFlag = False,
) -> None:
    """Outbox messages, newest first; recipients and names masked."""
    from huancui.contact.outbox import list_messages
    from huancui.contact.tables import OUTBOX_STATUSES
    from huancui.kit.database import migrate, unit_of_work

    if status is not None and status not in OUTBOX_STATUSES:
        err.print(f"--status: choose one of {', '.join(OUTBOX_STATUSES)}", markup=False)
        raise typer.Exit(2)
    url = get_settings().resolved_database_url
    migrate(url)
    with unit_of_work(url) as session:
        rows: list[dict[str, Any]] = list_messages(session, status=status, limit=limit)
    if json_out:
        emit_json(rows)
        return
    if not rows:
        out.print("the outbox is empty" + (f" (status {status})" if status else ""))
        return
    table = Table(title="Outbox 待发消息", title_justify="left")
    for col in (
        "#",
        "day",
        "channel",
        "to",
        "template",
        "tone",
        "window",
        "status",
        "tries",
        "note",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["message_id"]),
            r["contact_date"],
            r["channel"],
            r["recipient"] or "—",
            r["template"],
            r["tone"],
            f"{r['window_start'][11:16]}–{r['window_end'][11:16]}{r['window_end'][19:]}",
            r["status"],
            str(r["attempts"]),
            r["provider_ref"] if r["status"] == "sent" else (r["status_reason"] or ""),
        )
    out.print(table)
