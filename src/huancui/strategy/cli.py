"""`huancui strategy …`: validate, activate and list strategy versions (a thin Typer sub-app).

Kept apart from huancui/cli.py, which mounts it with one line; shared console helpers live in
huancui/cli_support.py.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from huancui.cli_support import JsonFlag, emit_json, err, out
from huancui.kit.errors import HuancuiError
from huancui.kit.settings import get_settings
from huancui.strategy.loader import StrategyFile

strategy_app = typer.Typer(
    help="Collection strategies: validate, activate, list versions.", no_args_is_help=True
)

StrategyPath = Annotated[Path, typer.Argument(help="Strategy YAML file.")]


def _report(loaded: StrategyFile) -> dict[str, Any]:
    strategy = loaded.strategy
    return {
        "file": loaded.source,
        "valid": loaded.valid,
        "name": strategy.name if strategy else None,
        "version": strategy.version if strategy else None,
        "sha256": loaded.sha256,
        "errors": [f.as_json() for f in loaded.errors],
        "warnings": [f.as_json() for f in loaded.warnings],
    }


def _print_findings(loaded: StrategyFile) -> None:
    for finding in loaded.findings:
        style = "red" if finding in loaded.errors else "yellow"
        err.print(f"[{style}]{finding.severity}[/{style}] ", end="")
        err.print(str(finding), markup=False, highlight=False)


@strategy_app.command("validate")
def validate(path: StrategyPath, json_out: JsonFlag = False) -> None:
    """Check a strategy file; exit 2 and list every error (file:line) if it is invalid."""
    from huancui.strategy.service import validate_file

    try:
        loaded = validate_file(path)
    except HuancuiError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    if json_out:
        emit_json(_report(loaded))
    else:
        _print_findings(loaded)
        if loaded.valid and loaded.strategy is not None:
            s = loaded.strategy
            out.print(
                f"{path}: strategy {s.name} v{s.version} is valid (segments {len(s.segments)},"
                f" stages {len(s.stages)}, treatments {len(s.treatments)},"
                f" challengers {len(s.challengers)},"
                f" early warning {'on' if s.early_warning else 'off'})",
                highlight=False,
            )
        else:
            err.print(f"{path}: {len(loaded.errors)} error(s); nothing was changed", markup=False)
    if not loaded.valid:
        raise typer.Exit(2)


@strategy_app.command("activate")
def activate(
    path: StrategyPath,
    actor: Annotated[str | None, typer.Option(help="Who activates (default: OS user).")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Store the strategy as a version (if new) and make it the one every run uses."""
    from huancui.kit.database import migrate, unit_of_work
    from huancui.strategy.service import StrategyRejected, activate

    url = get_settings().resolved_database_url
    migrate(url)
    try:
        with unit_of_work(url) as session:
            result = activate(session, path=path, actor=actor or getpass.getuser())
    except StrategyRejected as exc:
        if json_out:
            emit_json({"status": "rejected", "errors": [f.as_json() for f in exc.findings]})
        for finding in exc.findings:
            err.print(str(finding), markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except HuancuiError as exc:
        if json_out:
            emit_json({"status": "refused", "error": str(exc)})
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    if json_out:
        emit_json({"status": "activated" if result.changed else "unchanged", **result.as_json()})
        return
    active = f"{result.name} v{result.version}"
    if not result.changed:
        out.print(f"{active} is already the active strategy; nothing changed", highlight=False)
        return
    before = f" (was {result.previous})" if result.previous else ""
    stored = "stored and " if result.stored else ""
    out.print(
        f"{active} {stored}activated{before}: in force for contact days from"
        f" {result.effective_date} (until then the version in force before stays)",
        highlight=False,
    )


@strategy_app.command("list")
def list_(json_out: JsonFlag = False) -> None:
    """Every stored strategy version, the active one marked."""
    from huancui.kit.database import migrate, unit_of_work
    from huancui.strategy.service import list_versions

    url = get_settings().resolved_database_url
    migrate(url)
    with unit_of_work(url) as session:
        rows: list[dict[str, Any]] = [
            {
                "name": r.name,
                "version": r.version,
                "active": r.is_active,
                "owner": r.owner,
                "effective_date": r.effective_date.isoformat(),
                "activated_at": r.activated_at.isoformat(),
                "activated_by": r.activated_by,
                "sha256": r.sha256,
                "change_note": r.change_note,
            }
            for r in list_versions(session)
        ]
    if json_out:
        emit_json(rows)
        return
    if not rows:
        out.print("no strategy has been activated yet (huancui strategy activate FILE)")
        return
    table = Table(title="Strategy versions 策略版本", title_justify="left")
    for col in ("", "name", "version", "effective", "activated", "by", "change note"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            "●" if r["active"] else "",
            r["name"],
            str(r["version"]),
            r["effective_date"],
            r["activated_at"][:19],
            r["activated_by"],
            r["change_note"],
        )
    out.print(table)
