"""`huancui case ...`: casework from the command line (being built: issue 6)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds the casework commands to `app`."""
