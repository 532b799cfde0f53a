"""`huancui report`: the collections report of a window as one HTML file that opens offline.

Mounted by huancui/cli.py. plotly and Jinja2 load only when the command runs (monitoring/report.py),
so other commands start as fast as before. Bad dates, --to before --from, an --out whose folder
does not exist and an unknown --lang exit 2 naming the option; a missing snapshot exits 3.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, cast

import typer

from huancui.cli_support import choose, err, fail, out, parse_date
from huancui.kit.errors import HuancuiError
from huancui.kit.settings import get_settings
from huancui.monitoring.experiments import LANGUAGES, Language
from huancui.monitoring.kpis import check_window


def _language(text: str) -> Language:
    return cast(Language, choose(text, LANGUAGES, option="--lang"))


def _check_out(path: Path) -> None:
    if path.is_dir():
        message = (
            f"--out: {path} is a folder; name the HTML file to write, e.g. {path / 'report.html'}"
        )
    elif not path.parent.is_dir():
        message = f"--out: the folder {path.parent} does not exist; create it or choose another"
    else:
        return
    err.print(f"[red]{message}[/red]", highlight=False)
    raise typer.Exit(2)


def _write(path: Path, html: str) -> None:
    """Write through a temporary file beside the target so a failed run leaves no half file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, path)


def report_command(
    from_: Annotated[str, typer.Option("--from", help="First day of the window, YYYY-MM-DD.")],
    to: Annotated[str, typer.Option("--to", help="Last day of the window, YYYY-MM-DD.")],
    output: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    lang: Annotated[str, typer.Option("--lang", help="Labels in zh-CN or en.")] = "zh-CN",
) -> None:
    """Write the collections report of a window: KPIs, trends, roll rates, contact funnel,
    segments, experiments and 缓催 outcomes, as one HTML file that opens offline
    (docs/reports.md)."""
    start = parse_date(from_, option="--from")
    end = parse_date(to, option="--to")
    language = _language(lang)
    _check_out(output)
    try:
        check_window(start, end, by=None, grain="month")
        from huancui.monitoring.report import build_report

        spinner = err.status("computing the report…", spinner="dots")
        with spinner if err.is_terminal else nullcontext():
            html = build_report(get_settings(), start, end, language)
    except HuancuiError as exc:
        raise fail(exc) from None
    _write(output, html)
    size = output.stat().st_size
    out.print(f"Wrote {output} ({size / 1_048_576:.1f} MB), {start} → {end}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
