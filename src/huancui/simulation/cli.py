"""`huancui simulate`: try strategies on a synthetic world through the production engine, before
any of them touches a customer (docs/simulation.md, docs/case-studies.md).

    huancui simulate --strategy A.yaml [--vs B.yaml ...] --accounts N --days D --seeds K
    huancui simulate --scenario scenarios/segmented.yaml --scenario scenarios/uniform-gentle.yaml
    [--ope] [--json] [--report FILE.html] [--lang zh-CN|en] [--engine duckdb|spark]
    [--decisions-log FILE.parquet]   (scenarios with a dispatch: block log every candidate)

Mounted by huancui/cli.py with `register`. The heavy modules load only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from huancui.cli_support import JsonFlag, emit_json, err, fail, out, parse_date
from huancui.kit.errors import HuancuiError
from huancui.kit.settings import get_settings

DEFAULT_START = "2026-11-27"


def simulate_command(
    strategy: Annotated[
        list[Path] | None, typer.Option("--strategy", help="Strategy YAML to simulate.")
    ] = None,
    vs: Annotated[
        list[Path] | None, typer.Option("--vs", help="Another strategy YAML to compare with.")
    ] = None,
    scenario: Annotated[
        list[Path] | None,
        typer.Option("--scenario", help="Scenario YAML (scenarios/*.yaml); may repeat."),
    ] = None,
    accounts: Annotated[int, typer.Option(help="Accounts in the synthetic world.")] = 20_000,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 90,
    seeds: Annotated[int, typer.Option(help="Worlds (seeds 1..K); intervals need 2+.")] = 3,
    start: Annotated[str, typer.Option(help="First as-of date, YYYY-MM-DD.")] = DEFAULT_START,
    engine: Annotated[str, typer.Option(help="duckdb or spark.")] = "duckdb",
    behaviour: Annotated[
        Path | None, typer.Option(help="Behaviour model YAML (default: the shipped one).")
    ] = None,
    ope: Annotated[
        bool,
        typer.Option(
            "--ope",
            help="Estimate each challenger arm offline (IPW, DR) and check against a run of it.",
        ),
    ] = False,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    lang: Annotated[str, typer.Option(help="Report language: zh-CN or en.")] = "zh-CN",
    work: Annotated[
        Path | None,
        typer.Option(help="Folder for worlds and plans (default: HUANCUI_HOME/simulations)."),
    ] = None,
    decisions_log: Annotated[
        Path | None,
        typer.Option(
            "--decisions-log",
            help="Write the dispatch decision logs of every run here (Parquet); needs a scenario"
            " with a dispatch: block.",
        ),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Closed-loop simulation: each night the real nightly engine plans on the world, each day
    simulated customers respond; KPIs per strategy with 95 % intervals across seeds (模拟)."""
    from huancui.simulation.report import render_simulation_report
    from huancui.simulation.runner import (
        DecisionLogs,
        from_scenario_file,
        from_strategy_file,
        simulate,
    )

    settings = get_settings()
    first = parse_date(start, option="--start")
    try:
        contenders = [from_scenario_file(p) for p in scenario or []]
        contenders += [from_strategy_file(p) for p in [*(strategy or []), *(vs or [])]]
        if report is not None and lang not in ("zh-CN", "en"):
            raise HuancuiError(f"--lang {lang!r}: use zh-CN or en")
        logs = DecisionLogs()
        if decisions_log is not None and not any(c.dispatch for c in contenders):
            raise HuancuiError(
                "--decisions-log: no scenario has a dispatch: block, so nothing is decided"
            )
        with err.status("simulating…") as status:
            result = simulate(
                contenders,
                accounts=accounts,
                days=days,
                seeds=list(range(1, seeds + 1)),
                start=first,
                work=work or settings.home / "simulations",
                settings=settings,
                engine=engine,
                behaviour_path=behaviour,
                ope=ope,
                on_progress=None if json_out else status.update,
                on_outcome=logs.add,
            )
        if decisions_log is not None:
            logs.write(decisions_log)
        if report is not None:
            report.write_text(render_simulation_report(result, lang=lang), encoding="utf-8")
    except HuancuiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(result)
        return
    _print(result)
    if report is not None:
        out.print(f"report written to {report}", highlight=False)
    if decisions_log is not None:
        out.print(f"decision log written to {decisions_log}", highlight=False)


def _cell(summary: dict[str, object], unit: str) -> str:
    from huancui.simulation.report import format_summary

    return format_summary(summary, unit)


def _print(result: dict[str, object]) -> None:
    simulation = result["simulation"]
    assert isinstance(simulation, dict)
    strategies = result["strategies"]
    assert isinstance(strategies, list)
    table = Table(
        title=(
            f"Simulated {simulation['accounts']:,} accounts × {simulation['days']} days,"
            f" seeds {simulation['seeds']}: mean (95 % interval across seeds)"
        ),
        title_justify="left",
    )
    table.add_column("KPI", no_wrap=True)
    for s in strategies:
        table.add_column(str(s["name"]), justify="right")
    results = result["results"]
    assert isinstance(results, dict)
    kpis = result["kpis"]
    assert isinstance(kpis, list)
    for kpi in kpis:
        table.add_row(
            f"{kpi['label_en']} {kpi['label_zh']}",
            *(_cell(results[s["name"]][kpi["key"]], kpi["unit"]) for s in strategies),
        )
    out.print(table)
    for row in result.get("ope", []) or []:  # type: ignore[attr-defined]
        if "skipped" in row:
            out.print(f"offline estimate of {row['experiment']} skipped: {row['skipped']}")
            continue
        out.print(
            f"offline estimate of {row['strategy']} {row['experiment']}={row['arm']} for everyone"
            f" (30-day recovery per account, yuan): DR {row['dr']['value'] / 100:.2f}"
            f" [{row['dr']['low'] / 100:.2f}, {row['dr']['high'] / 100:.2f}], IPW"
            f" {row['ipw']['value'] / 100:.2f}; simulated truth"
            f" {_yuan(row['truth']['value'])}",
            highlight=False,
        )
    seconds = simulation["seconds"]
    out.print(f"{seconds['total']} s in all, {seconds['per_run_mean']} s per run", highlight=False)


def _yuan(fen: object) -> str:
    return "n/a" if not isinstance(fen, (int, float)) else f"{fen / 100:.2f}"


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
