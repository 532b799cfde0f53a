"""Generated blocks in the Markdown docs: the text between `<!-- name -->` and `<!-- /name -->`
is written by a script or benchmark from its measured output, so no figure there is typed by
hand; notes outside the marks stay as they are."""

from __future__ import annotations

from pathlib import Path


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
