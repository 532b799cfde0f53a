"""`huancui staffing` (staff needed per queue against the rollout plan) and `huancui strategy
rollout` (the active version's owner, resources and milestones), as rich tables or JSON.

Mounted by huancui/cli.py with `register`. Warnings (a queue short of staff, a queue not staffed)
are printed but exit 0; a missing run or active strategy exits 3 with the command that fixes it.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from huancui.cli_support import JsonFlag, emit_json, fail, out, parse_date
from huancui.kit.database import migrate, unit_of_work
from huancui.kit.errors import HuancuiError
from huancui.kit.settings import get_settings
from huancui.monitoring.staffing import (
    QueueDay,
    StaffingReport,
    rollout_json,
    staffing_for,
)
from huancui.strategy.service import active_strategy

STATUS_STYLE = {"done": "green", "due": "", "overdue": "bold red"}


def staffing_command(
    as_of: Annotated[str, typer.Option("--as-of", help="As-of date of the run, YYYY-MM-DD.")],
    json_out: JsonFlag = False,
) -> None:
    """Staff each queue needs for the run's planned calls (Erlang C) and visits, against the
    staff in the strategy's rollout plan; warns where it falls short (人力需求)."""
    day = parse_date(as_of)
    settings = get_settings()
    url = settings.resolved_database_url
    migrate(url)
    try:
        with unit_of_work(url) as session:
            report = staffing_for(session, settings, as_of=day)
    except HuancuiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(report.as_json())
        return
    _print_staffing(report)


def _print_staffing(report: StaffingReport) -> None:
    out.print(
        f"Staffing for run {report.run_id} of {report.as_of} (contacts from"
        f" {report.planned_date}), strategy {report.strategy}",
        highlight=False,
    )
    if not report.has_rollout:
        out.print(
            f"[yellow]strategy {report.strategy} has no rollout section: no queue is staffed"
            " (docs/strategy.md, rollout)[/yellow]",
            highlight=False,
        )
    table = Table(
        title="Staff needed per queue and contact day 人力需求",
        title_justify="left",
        caption="Erl.: call load in Erlangs; phones: agents on the phones at once (Erlang C);"
        " need, staff, short: agents (FTE) a day; SL, ASA, occ.: service level, average speed"
        " of answer and occupancy with the staffed agents",
        caption_justify="left",
    )
    headings = ("day", "queue", "calls", "visits", "Erl.", "phones", "need", "staff", "short",
                "SL", "ASA s", "occ.")  # fmt: skip
    for heading in headings:
        left = heading in headings[:2]
        table.add_column(heading, justify="left" if left else "right", no_wrap=left)
    for row in report.forecast.rows:
        table.add_row(*_cells(row))
    out.print(table)
    warnings = report.forecast.warnings
    if not warnings:
        out.print("[green]Every queue is staffed for its planned work.[/green]")
        return
    out.print(f"[bold yellow]{len(warnings)} warning(s):[/bold yellow]")
    for w in warnings:
        out.print(f"[yellow]  ⚠ {w.message}[/yellow]", highlight=False)


def _cells(row: QueueDay) -> list[str]:
    w, call = row.workload, row.call

    def number(value: int | None) -> str:
        return "—" if value is None else f"{value:,}"

    short = f"[bold red]{row.shortfall:,}[/bold red]" if row.shortfall else ""
    if row.staffed is None:
        short = "[yellow]not staffed[/yellow]"
    sl = asa = occupancy = ""
    if call is not None and w.calls:
        sl = f"{call.service_level:.1%}"
        seconds = call.average_speed_of_answer_s
        asa = "∞" if math.isinf(seconds) else f"{seconds:.1f}"
        occupancy = "—" if call.occupancy is None else f"{call.occupancy:.0%}"
    return [
        w.contact_date.isoformat(),
        w.queue,
        f"{w.calls:,}",
        f"{w.visits:,}",
        f"{call.traffic_erlangs:.2f}" if call is not None else "",
        f"{call.agents_on_phones:,}" if call is not None else "",
        number(row.needed),
        number(row.staffed),
        short,
        sl,
        asa,
        occupancy,
    ]


def rollout_command(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date milestones are judged on, YYYY-MM-DD (default today)."),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """The active strategy version's rollout plan: owner, effective date, staff per queue and
    milestones (done, due or overdue)."""
    today = parse_date(as_of) if as_of else date.today()
    url = get_settings().resolved_database_url
    migrate(url)
    try:
        with unit_of_work(url) as session:
            name, strategy = active_strategy(session)
    except HuancuiError as exc:
        raise fail(exc) from None
    data = rollout_json(name, strategy, today=today)
    if json_out:
        emit_json(data)
        return
    _print_rollout(data)


def _print_rollout(d: dict[str, Any]) -> None:
    in_force = "in force" if d["in_force"] else "not yet in force"
    out.print(
        f"Strategy {d['strategy']}: owner {d['owner']}, effective {d['effective_date']}"
        f" ({in_force})",
        highlight=False,
    )
    if not d["has_rollout"]:
        out.print("No rollout section (docs/strategy.md, rollout).")
        return
    table = Table(title="Resources per queue 各队列人力", title_justify="left")
    for heading in ("queue", "agents", "shift", "shrinkage", "calls", "visits"):
        table.add_column(heading, justify="right" if heading == "agents" else "left")
    for queue, r in d["resources"].items():
        calls, visits = r["calls"], r["visits"]
        table.add_row(
            queue,
            str(r["agents"]),
            f"{r['shift_hours']:g} h",
            f"{r['shrinkage']:.0%}",
            (
                f"AHT {calls['aht_seconds']:g} s, {calls['service_level']:.0%} in"
                f" {calls['answer_within_seconds']:g} s, occ. ≤ {calls['max_occupancy']:.0%}"
                f" ({r['calls_per_agent_day_at_max_occupancy']:g}/agent/day)"
            )
            if calls
            else "",
            (f"{visits['hours_per_visit']:g} h each ({r['visits_per_agent_day']:g}/agent/day)")
            if visits
            else "",
        )
    out.print(table)
    milestones = Table(title="Milestones 里程碑", title_justify="left")
    for heading in ("date", "milestone", "status", "description"):
        milestones.add_column(heading)
    for m in d["milestones"]:
        style = STATUS_STYLE[m["status"]]
        status = f"[{style}]{m['status']}[/{style}]" if style else m["status"]
        milestones.add_row(m["date"], m["name"], status, m["description"])
    out.print(milestones)


def register(app: typer.Typer) -> None:
    """`huancui staffing`, and `huancui strategy rollout` on the strategy sub-app."""
    from huancui.strategy.cli import strategy_app

    app.command("staffing")(staffing_command)
    strategy_app.command("rollout")(rollout_command)
