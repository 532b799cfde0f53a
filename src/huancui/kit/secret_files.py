"""Local secret files for demos (the JWT dev key, the demo PII key): created once, readable by
the owner only, never overwritten by a second process starting at the same moment."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The secret in `path` (stripped); on first use `make()` is written there with mode 0600
    in a 0700 folder. O_EXCL: if two processes race, both read the winner's secret."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(make() + "\n")
    return path.read_text(encoding="utf-8").strip()
