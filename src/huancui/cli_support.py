"""What every command-line module shares: the two consoles, JSON output and common options."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from huancui.kit.errors import HuancuiError

# Tables stay readable when output goes to a file or CI log (rich would assume 80 columns).
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def parse_date(text: str, *, option: str = "--as-of") -> date:
    """A YYYY-MM-DD option value, or exit 2 saying what is wrong."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        err.print(f"[red]{option}: {text!r} is not a date; write YYYY-MM-DD[/red]")
        raise typer.Exit(2) from None


def fail(exc: HuancuiError) -> typer.Exit:
    """Print a business error for the person who must act and exit with its code."""
    err.print(str(exc), markup=False, highlight=False)
    return typer.Exit(exc.exit_code)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def answer(action: Callable[[], T], *, json_out: bool) -> T | None:
    """Run a command's use case: a refusal exits with its code and message; under --json the
    result is printed as JSON and None returned, since nothing is left to print."""
    try:
        result = action()
    except HuancuiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(result)
        return None
    return result


def choose(text: str, options: Sequence[str], *, option: str) -> str:
    """The option value among `options` (case-insensitive), or exit 2 naming the option."""
    for known in options:
        if text.lower() == known.lower():
            return known
    err.print(f"[red]{option}: {text!r}; use one of {', '.join(options)}[/red]", highlight=False)
    raise typer.Exit(2)


if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from huancui.kit.settings import Settings

T = TypeVar("T")


def in_unit_of_work(action: Callable[[Session, Settings], T]) -> T:
    """Run `action` in one transaction on the migrated case-plane database of the current
    settings: committed when it returns, rolled back (and shown as a clear error with its exit
    code) when it raises one of ours."""
    from huancui.kit.database import migrate, unit_of_work  # Alembic: slow to import
    from huancui.kit.settings import get_settings

    settings = get_settings()
    try:
        migrate(settings.resolved_database_url)
        with unit_of_work(settings.resolved_database_url) as session:
            return action(session, settings)
    except HuancuiError as exc:
        raise fail(exc) from None


def actor_or_os_user(actor: str | None) -> str:
    """Who does it: the --actor given, else the operating-system user."""
    return actor or getpass.getuser()
