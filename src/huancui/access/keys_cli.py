"""`huancui keys ...`: personal-data encryption keys (being built: issue 6)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds the key commands to `app`."""
