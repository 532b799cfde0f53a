"""Generated blocks in the Markdown docs and the saved reports they are written from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from huancui.kit.doc_blocks import measured, show, write_block


def test_a_block_is_replaced_in_place_and_notes_around_it_stay(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("# Title\n\nA note.\n\n<!-- figures -->\nold\n<!-- /figures -->\n\nAfter.\n")
    write_block(doc, "figures", "new table\n")
    assert doc.read_text() == (
        "# Title\n\nA note.\n\n<!-- figures -->\nnew table\n<!-- /figures -->\n\nAfter.\n"
    )
    write_block(doc, "other", "more")
    assert doc.read_text().endswith("After.\n\n<!-- other -->\nmore\n<!-- /other -->\n")


def test_a_report_is_measured_once_and_read_back_without_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    runs: list[int] = []

    def run() -> dict[str, object]:
        runs.append(1)
        return {"figure": 12.5, "name": "缓催"}

    first = measured(run, out=out, table_from=None)
    assert runs == [1] and json.loads(out.read_text(encoding="utf-8")) == first
    again = measured(run, out=tmp_path / "unused.json", table_from=out)
    assert runs == [1] and again == first and not (tmp_path / "unused.json").exists()

    doc = tmp_path / "doc.md"
    show("| a | b |\n", doc=doc, name="table")
    show("| c | d |\n", doc=None, name="table")
    assert "<!-- table -->\n| a | b |\n<!-- /table -->" in doc.read_text(encoding="utf-8")
    assert capsys.readouterr().out == "| a | b |\n\n| c | d |\n\n"
