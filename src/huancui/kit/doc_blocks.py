"""Generated blocks in the Markdown docs: the text between `<!-- name -->` and `<!-- /name -->`
is written by a script or benchmark from its measured output, so no figure there is typed by
hand; notes outside the marks stay as they are."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_block(path: Path, name: str, section: str, *, head: str = "") -> None:
    """Replace block `name` in `path` with `section`, or append it (to `head` for a new file)."""
    start_mark, end_mark = f"<!-- {name} -->", f"<!-- /{name} -->"
    body = path.read_text(encoding="utf-8") if path.exists() else head
    block = f"{start_mark}\n{section.rstrip()}\n{end_mark}"
    if start_mark in body:
        start = body.index(start_mark)
        end = body.index(end_mark, start) + len(end_mark)
        body = body[:start] + block + body[end:]
    else:
        body = body.rstrip() + f"\n\n{block}\n"
    path.write_text(body, encoding="utf-8")


def measured(
    run: Callable[[], dict[str, Any]], *, out: Path, table_from: Path | None
) -> dict[str, Any]:
    """A script's report: read from `table_from` (an earlier `out`), or measured by `run` and
    saved to `out` as JSON, so the tables can be rewritten later without running again."""
    if table_from is not None:
        report: dict[str, Any] = json.loads(table_from.read_text(encoding="utf-8"))
        return report
    report = run()
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n", "utf-8")
    return report


def show(text: str, *, doc: Path | None, name: str) -> None:
    """Print a script's Markdown and, with `doc`, write it into that file's block `name`."""
    if doc is not None:
        write_block(doc, name, text)
    print(text)
