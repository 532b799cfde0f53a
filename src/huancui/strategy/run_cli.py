"""`huancui run`, `huancui plan` and `huancui explain`: the nightly job and what it decided."""

from __future__ import annotations

import getpass
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.table import Table

from huancui.cli_support import JsonFlag, emit_json, err, fail, out, parse_date
from huancui.kit.database import migrate, unit_of_work
from huancui.kit.errors import HuancuiError
from huancui.kit.settings import get_settings
from huancui.kit.sql import lit

AsOf = Annotated[str, typer.Option("--as-of", help="As-of date of the snapshot, YYYY-MM-DD.")]


def run_command(
    as_of: AsOf,
    engine: Annotated[
        str, typer.Option("--engine", help="duckdb (default, embedded) or spark.")
    ] = "duckdb",
    actor: Annotated[str | None, typer.Option(help="Who runs it (default: OS user).")] = None,
    json_out: JsonFlag = False,
) -> None:
    """The nightly job: plan every delinquent account's contacts, lawfully, and queue the work."""
    from huancui.strategy.engines import ENGINES
    from huancui.strategy.nightly import run_nightly

    day = parse_date(as_of)
    if engine not in ENGINES:
        err.print(f"--engine: choose one of {', '.join(ENGINES)}", markup=False)
        raise typer.Exit(2)
    settings = get_settings()
    try:
        with err.status("planning…", spinner="dots") if not json_out else nullcontext():
            report = run_nightly(
                settings, as_of=day, engine=engine, actor=actor or getpass.getuser()
            )
    except HuancuiError as exc:
        raise fail(exc) from None
    except ValueError as exc:  # bad reference data, e.g. an unknown time zone
        err.print(f"run {day}: {exc}", markup=False)
        raise typer.Exit(2) from None
    if json_out:
        emit_json(report.as_json())
        return
    s = report.summary
    out.print(
        f"Run {report.run_id} for {report.as_of} (contacts on {report.planned_date}):"
        f" strategy {report.strategy}, compliance {report.policy}, engine {report.engine}",
        highlight=False,
    )
    table = Table(title="Planned actions")
    for name in ("segment", "stage", "channel", "actions"):
        table.add_column(name, justify="right" if name == "actions" else "left")
    for cell in s["planned_by_cell"]:
        table.add_row(cell["segment"], cell["stage"], cell["channel"], f"{cell['actions']:,}")
    out.print(table)
    rules = Table(title="Suppressed by rule")
    rules.add_column("rule")
    rules.add_column("actions", justify="right")
    for line in s["suppressed_by_rule"]:
        rules.add_row(line["rule"], f"{line['actions']:,}")
    out.print(rules)
    same = {None: "first run of this date", True: "same plan as before", False: "plan changed"}
    m: dict[str, Any] = report.monitoring
    out.print(
        f"{report.rows_planned:,} actions planned for {s['accounts_contacted']:,} of"
        f" {s['accounts_in_plan']:,} accounts; {report.rows_suppressed:,} suppressed;"
        f" {s['moved_by_holiday']:,} moved by a holiday; {s['window_narrowed']:,} windows narrowed"
        f" to lawful hours.\nQueued: {report.messages_added:,} messages,"
        f" {report.work_items_added:,} work items ({report.already_present:,} already queued,"
        f" {report.cancelled:,} cancelled); {same[report.same_as_previous]}.\n"
        f"Arrangements: {m['arrangements_activated']} activated, {m['kept']} kept,"
        f" {m['completed']} completed, {m['broken']} broken; 缓催 pauses:"
        f" {m['hardship_started']} started, {m['hardship_ended']} ended,"
        f" {m['hardship_reminders']} reminders.\n"
        f"Models: {_models(report.models)}.\n"
        f"Plan: {report.plan_path}",
        highlight=False,
    )


def _models(models: dict[str, Any]) -> str:
    if not models:
        return "no score files for this date (every score_* column is NULL)"
    return ", ".join(
        f"{entry['column']} from {target} v{entry['version']} ({entry['accounts']:,} accounts)"
        for target, entry in sorted(models.items())
    )


def plan_command(
    as_of: AsOf,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    include_suppressed: Annotated[
        bool,
        typer.Option("--all", help="Include suppressed actions and the rule that stopped each."),
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout.")
    ] = None,
) -> None:
    """Print the current plan of a date (planned actions; --all adds suppressed ones)."""
    from huancui.strategy.nightly import current_run

    day = parse_date(as_of)
    if fmt not in ("csv", "json"):
        err.print("--format: csv or json", markup=False)
        raise typer.Exit(2)
    settings = get_settings()
    url = settings.resolved_database_url
    migrate(url)
    with unit_of_work(url) as session:
        run = current_run(session, day)
        if run is None:
            err.print(f"no run for {day}; run it first: huancui run --as-of {day}", markup=False)
            raise typer.Exit(3)
        plan_file = settings.home / run.plan_path
    columns = (
        "account_id, segment, stage, channel, template, tone, queue, experiment, arm,"
        " round(priority, 2) AS priority, contact_date, window_start, window_end"
    )
    if include_suppressed:
        columns += ", status, suppressed_by, rules"
    where = "" if include_suppressed else "WHERE status = 'planned'"
    query = f"SELECT {columns} FROM read_parquet({lit(str(plan_file))}) {where}"
    con = duckdb.connect()
    try:
        if output is not None:
            options = "FORMAT csv, HEADER" if fmt == "csv" else "FORMAT json, ARRAY true"
            con.execute(f"COPY ({query}) TO {lit(str(output))} ({options})")
            err.print(f"wrote {output}", markup=False)
            return
        result = con.execute(query)
        names = [d[0] for d in result.description]
        if fmt == "json":
            rows: list[dict[str, Any]] = []
            while batch := result.fetchmany(10_000):
                rows.extend(dict(zip(names, r, strict=True)) for r in batch)
            emit_json(rows)
            return
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        while batch := result.fetchmany(10_000):
            writer.writerows(["" if v is None else v for v in r] for r in batch)
    finally:
        con.close()


def explain_command(
    account: Annotated[str, typer.Argument(help="Account id.")],
    as_of: AsOf,
    lang: Annotated[str, typer.Option("--lang", help="en or zh-CN for rule meanings.")] = "en",
    json_out: JsonFlag = False,
) -> None:
    """Why the plan treats one account so: segment rule, stage, treatment, cell, every
    compliance rule and what it changed, and the priority arithmetic."""
    from huancui.strategy.explain import explain

    day = parse_date(as_of)
    settings = get_settings()
    url = settings.resolved_database_url
    migrate(url)
    try:
        with unit_of_work(url) as session:
            data = explain(session, settings, account_id=account, as_of=day, language=lang).data
    except HuancuiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(data)
        return
    _print_explanation(data)


def _print_explanation(d: dict[str, Any]) -> None:
    p = out.print
    p(
        f"[bold]Account {d['account_id']}[/bold] — run {d['run_id']} for {d['as_of']}"
        f" (strategy {d['strategy']}, compliance {d['policy']}, engine {d['engine']})",
        highlight=False,
    )
    p("Facts: " + ", ".join(f"{k} = {v}" for k, v in d["facts"].items()), highlight=False)
    for s in d.get("scores", []):
        value = "NULL" if s["value"] is None else f"{s['value']:.4f}"
        line = f"Score {s['column']} = {value} (model {s['target']} v{s['model_version']})"
        if s.get("reasons"):
            line += f"; reasons: {s['reasons']}"
        if s.get("note"):
            line += f"; {s['note']}"
        if s.get("file_changed_since_run"):
            line += "; WARNING: the score file changed after this run"
        p(line, markup=False, highlight=False)
    if not d["in_plan"]:
        p(f"Not in the plan: {d['why_not']}", highlight=False)
        return
    p("\n[bold]Segment[/bold] (first matching rule wins):")
    for check in d["segment"]["checks"]:
        mark = (
            "✔ matched" if check["holds"] else ("✘ no" if check["holds"] is False else "NULL → no")
        )
        p(
            f"  {check['segment']} ({check['label_en']} / {check['label_zh']}):"
            f" {check['condition']}  → {mark}",
            markup=False,
            highlight=False,
        )
    st = d["stage"]
    p(
        f"\n[bold]Stage[/bold] {st['id']}: {st['days_past_due']} days past due lies in"
        f" {st['range_dpd']}",
        highlight=False,
    )
    if d.get("reason"):
        p(f"No contact: {d['reason']}", markup=False, highlight=False)
    e = d["experiment"]
    if e:
        slices = ", ".join(f"{s['arm']} [{s['from']:.3f}, {s['to']:.3f})" for s in e["slices"])
        p(
            f"\n[bold]Experiment[/bold] {e['experiment']}: arm {e['arm']} (hash position"
            f" {e['hash_position']:.4f}; {slices})",
            highlight=False,
        )
    pr = d["priority"]
    p("\n[bold]Priority[/bold] (higher is worked first)")
    p(
        f"  {pr['expression']}\n  = {pr['with_values']}\n  = {pr['result']}",
        markup=False,
        highlight=False,
    )
    p("\n[bold]Actions[/bold]")
    for a in d["actions"]:
        head = f"  {a['channel']}: {a['status'].upper()}"
        if a["status"] == "planned":
            head += (
                f" on {a['contact_date']} {a['window_start']} → {a['window_end']}"
                f" ({a['timezone']}), queue {a['queue']}, template {a['template']}, tone {a['tone']}"
            )
        else:
            head += f" by {a['suppressed_by']}"
        p(head, markup=False, highlight=False)
        for r in a["rules"]:
            p(f"      · {r['rule']}: {r['meaning']}", markup=False, highlight=False)
    p("\n[bold]Compliance rules checked[/bold]")
    for r in d["rules_checked"]:
        changed = ", ".join(r["changed"]) if r["changed"] else "no change"
        p(f"  {r['rule']}: {changed} — {r['meaning']}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("plan")(plan_command)
    app.command("explain")(explain_command)
