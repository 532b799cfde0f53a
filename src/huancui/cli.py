"""The `huancui` command line: a thin layer over the services (Typer + rich)."""

from __future__ import annotations

import dataclasses
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from huancui.access.keys_cli import register as register_key_commands
from huancui.analytics.cli import register as register_model_commands
from huancui.analytics.cli import register_optimise
from huancui.arrangements.cli import register as register_arrangement_commands
from huancui.arrangements.quote_cli import quote_app
from huancui.cases.cli import register as register_case_commands
from huancui.cli_support import JsonFlag, emit_json, err, fail, out, parse_date
from huancui.contact.cli import outbox_app
from huancui.kit.errors import HuancuiError
from huancui.kit.money import display_yuan, format_yuan, parse_yuan
from huancui.kit.settings import Settings, get_settings
from huancui.monitoring.experiment_cli import experiment_app
from huancui.monitoring.kpi_cli import register as register_kpi_command
from huancui.monitoring.report_cli import register as register_report_command
from huancui.monitoring.staffing_cli import register as register_staffing_commands
from huancui.portfolio.policy import DelinquencyPolicy, load_policy
from huancui.serve_cli import register as register_serve_command
from huancui.simulation.cli import register as register_simulate_command
from huancui.strategy.cli import strategy_app
from huancui.strategy.run_cli import register as register_run_commands

app = typer.Typer(
    help="huancui (缓催): humane, data-driven collections for banks and lenders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
portfolio_app = typer.Typer(help="Look at imported portfolio snapshots.", no_args_is_help=True)
contract_app = typer.Typer(help="The data contract for deliveries.", no_args_is_help=True)
db_app = typer.Typer(help="The case-plane database.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(portfolio_app, name="portfolio")
app.add_typer(contract_app, name="contract")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(strategy_app, name="strategy")
app.add_typer(outbox_app, name="outbox")
app.add_typer(quote_app, name="quote")
app.add_typer(experiment_app, name="experiment")
register_run_commands(app)
register_arrangement_commands(app)
register_kpi_command(app)
register_report_command(app)
register_staffing_commands(app)
register_serve_command(app)
register_case_commands(app)
register_key_commands(app)
register_simulate_command(app)
register_model_commands(app)
register_optimise(app)


AsOf = Annotated[str, typer.Option("--as-of", help="As-of date, YYYY-MM-DD.")]
PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="Delinquency policy YAML (default: HUANCUI_DELINQUENCY_POLICY)."),
]


def policy_from(path: Path | None, settings: Settings) -> DelinquencyPolicy:
    try:
        return load_policy(path or settings.delinquency_policy)
    except (OSError, ValueError) as exc:
        err.print(f"delinquency policy: {exc}", markup=False)
        raise typer.Exit(2) from None


def progress_bar(*, json_mode: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=json_mode or not err.is_terminal,
    )


@app.command()
def generate(
    accounts: Annotated[int, typer.Option(min=1, help="Number of accounts.")] = 20_000,
    months: Annotated[int, typer.Option(min=1, max=120, help="Months of history.")] = 15,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 7,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Last day of history, YYYY-MM-DD (default today).")
    ] = None,
    output: Annotated[
        Path, typer.Option("--out", help="Directory to write the delivery to.")
    ] = Path("var/demo-delivery"),
    json_out: JsonFlag = False,
) -> None:
    """Write a synthetic delivery in the data contract (latent truth goes to OUT/truth/)."""
    from huancui.portfolio.synthetic import generate_portfolio

    day = parse_date(as_of) if as_of else date.today()
    with progress_bar(json_mode=json_out) as bar:
        task = bar.add_task("generating", total=1.0, detail="")

        def on_progress(stage: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=stage, detail=f"{fraction:.0%}")

        report = generate_portfolio(
            accounts=accounts, months=months, seed=seed, as_of=day, out=output,
            on_progress=on_progress,
        )  # fmt: skip
    if json_out:
        emit_json(dataclasses.asdict(report))
        return
    out.print(f"Wrote a synthetic delivery to [bold]{output}[/bold] (truth in {output / 'truth'})")
    for name, rows in sorted(report.rows.items()):
        out.print(f"  {name:<12} {rows:>12,} rows")
    out.print(f"  in {report.elapsed_seconds:.1f} s")


@app.command("import")
def import_(
    directory: Annotated[Path, typer.Argument(help="Folder with the delivery files.")],
    as_of: AsOf,
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Store the valid rows and write refused rows with reasons to FILE."),
    ] = None,
    max_errors: Annotated[int, typer.Option(min=1, help="Errors to print before a count.")] = 50,
    actor: Annotated[str | None, typer.Option(help="Who imports (default: OS user).")] = None,
    note: Annotated[str | None, typer.Option(help="Why: recorded in the audit log.")] = None,
    policy: PolicyOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Validate a delivery against the data contract and load it as the snapshot for --as-of."""
    from huancui.portfolio.importer import DeliveryRejected, import_delivery

    settings = get_settings()
    day = parse_date(as_of)
    delinquency_policy = policy_from(policy, settings)
    try:
        with progress_bar(json_mode=json_out) as bar:
            task = bar.add_task("importing", total=None, detail="")

            def on_progress(stage: str, rows: int) -> None:
                bar.update(task, description=stage, detail=f"{rows:,} rows" if rows else "")

            result = import_delivery(
                directory=directory, as_of=day, settings=settings, policy=delinquency_policy,
                actor=actor, note=note, quarantine=quarantine, max_errors=max_errors,
                on_progress=on_progress,
            )  # fmt: skip
    except DeliveryRejected as exc:
        if json_out:
            emit_json(
                {
                    "status": "rejected",
                    "errors": [
                        {"file": f.file, "row": f.row, "column": f.column, "message": f.message,
                         "severity": str(f.severity)}
                        for f in exc.findings
                    ],
                }
            )  # fmt: skip
        raise fail(exc) from None
    except HuancuiError as exc:
        raise fail(exc) from None
    for warning in result.warnings:
        err.print(f"[yellow]{warning}[/yellow]", highlight=False)
    if json_out:
        emit_json(
            {
                "status": "imported",
                "as_of": result.as_of.isoformat(),
                "snapshot_id": result.snapshot_id,
                "replaced": result.replaced,
                "accounts": result.accounts,
                "delinquency_spells": result.spells,
                "rejected_rows": result.rejected_rows,
                "quarantine_file": str(result.quarantine_file) if result.quarantine_file else None,
                "files": result.files,
                "seconds": round(result.seconds, 2),
                "seconds_by_step": {k: round(v, 2) for k, v in result.timings.items()},
                "warnings": [str(w) for w in result.warnings],
            }
        )
        return
    verb = "Replaced" if result.replaced else "Imported"
    out.print(
        f"{verb} snapshot {result.as_of}: {result.accounts:,} accounts, "
        f"{result.spells:,} delinquency records, in {result.seconds:.1f} s"
    )
    if result.quarantine_file:
        out.print(
            f"[yellow]{result.rejected_rows:,} rows refused; reasons in "
            f"{result.quarantine_file}[/yellow]"
        )


@portfolio_app.command("summary")
def portfolio_summary_command(as_of: AsOf, json_out: JsonFlag = False) -> None:
    """Accounts and balances per bucket and product, and the delinquency rate."""
    from huancui.kit.database import migrate, unit_of_work
    from huancui.portfolio.summary import portfolio_summary

    settings = get_settings()
    day = parse_date(as_of)
    url = settings.resolved_database_url
    migrate(url)
    try:
        with unit_of_work(url) as session:
            summary = portfolio_summary(session, as_of=day, policy=policy_from(None, settings))
    except HuancuiError as exc:
        raise fail(exc) from None
    data = summary.as_json()
    if json_out:
        emit_json(data)
        return
    table = Table(title=f"Portfolio {day} — 资产组合概览", title_justify="left")
    table.add_column("Bucket 账龄")
    products = sorted(data["products"])
    for product in products:
        table.add_column(f"{product} accts", justify="right")
    table.add_column("Accounts 户数", justify="right")
    table.add_column("Balance 余额 (CNY)", justify="right")
    table.add_column("Arrears 逾期金额 (CNY)", justify="right")
    for line in data["buckets"]:
        per = [f"{line['by_product'].get(p, {}).get('accounts', 0):,}" for p in products]
        table.add_row(
            line["bucket"],
            *per,
            f"{line['accounts']:,}",
            display_yuan(parse_yuan(line["balance"])),
            display_yuan(parse_yuan(line["arrears"])),
        )
    out.print(table)
    out.print(
        f"Delinquency rate 逾期率: {float(data['delinquency_rate']):.2%} of accounts "
        f"({data['delinquent_accounts']:,} of {data['accounts'] - data['charged_off_accounts']:,}"
        f" not charged off), {float(data['delinquency_rate_by_balance']):.2%} of balance"
    )
    for product, p in data["products"].items():
        out.print(
            f"  {product}: {p['accounts']:,} accounts, balance "
            f"{display_yuan(parse_yuan(p['balance']))} CNY, "
            f"delinquency {float(p['delinquency_rate']):.2%}, charged off {p['charged_off']:,}"
        )


@portfolio_app.command("account")
def portfolio_account(
    account_id: Annotated[str, typer.Argument(help="Account number.")],
    as_of: AsOf,
    json_out: JsonFlag = False,
) -> None:
    """One account's arrears, days past due, bucket and delinquency history."""
    from huancui.kit.database import migrate, unit_of_work
    from huancui.portfolio.repository import PortfolioRepository

    settings = get_settings()
    day = parse_date(as_of)
    url = settings.resolved_database_url
    migrate(url)
    with unit_of_work(url) as session:
        repo = PortfolioRepository(session)
        snapshot = repo.snapshot_for(day)
        state = repo.account_snapshot(snapshot.snapshot_id, account_id) if snapshot else None
        if snapshot is None or state is None:
            err.print(f"no account {account_id!r} in the snapshot for {day}", markup=False)
            raise typer.Exit(3)
        spells = repo.spells(snapshot.snapshot_id, account_id)
        data: dict[str, Any] = {
            "account_id": state.account_id,
            "as_of": day.isoformat(),
            "product": state.product,
            "credit_grade": state.credit_grade,
            "balance": format_yuan(state.balance_fen),
            "arrears": format_yuan(state.arrears_fen),
            "arrears_principal": format_yuan(state.arrears_principal_fen),
            "arrears_interest": format_yuan(state.arrears_interest_fen),
            "arrears_fee": format_yuan(state.arrears_fee_fen),
            "days_past_due": state.days_past_due,
            "bucket": state.bucket,
            "oldest_unpaid_due_date": state.oldest_unpaid_due_date,
            "delinquent_since": state.delinquent_since,
            "charged_off": state.charged_off,
            "charge_off_date": state.charge_off_date,
            "history": [
                {"bucket": s.bucket, "event": s.event, "started_on": s.started_on,
                 "ended_on": s.ended_on}
                for s in spells
            ],
        }  # fmt: skip
    if json_out:
        emit_json(data)
        return
    for key, value in data.items():
        if key != "history":
            out.print(f"{key:<24} {value if value is not None else '—'}", highlight=False)
    table = Table(title="Delinquency history 逾期历史", title_justify="left")
    for col in ("event", "bucket", "from", "until"):
        table.add_column(col)
    for s in data["history"]:
        table.add_row(s["event"], s["bucket"], str(s["started_on"]), str(s["ended_on"] or "—"))
    out.print(table)


@contract_app.command("docs")
def contract_docs(
    output: Annotated[Path | None, typer.Option("--out", help="Write to FILE.")] = None,
) -> None:
    """Render the data contract as Markdown (docs/data-contract.md is made with this)."""
    from huancui.portfolio.contract_docs import render_contract

    text = render_contract()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    from huancui.kit.database import migrate

    url = get_settings().resolved_database_url
    migrate(url)
    out.print(f"database is at the newest schema ({url.split('@')[-1]})")


@audit_app.command("verify")
def audit_verify(json_out: JsonFlag = False) -> None:
    """Check the audit log's hash chain; exit 1 if an event was changed or removed."""
    from huancui.access.audit import verify
    from huancui.kit.database import migrate, unit_of_work

    url = get_settings().resolved_database_url
    migrate(url)
    with unit_of_work(url) as session:
        check = verify(session)
    if json_out:
        emit_json({"ok": check.ok, "events": check.events, "first_bad_event": check.first_bad_event,
                   "problem": check.problem})  # fmt: skip
    elif check.ok:
        out.print(f"audit log intact: {check.events} events")
    else:
        err.print(f"audit log broken at event {check.first_bad_event}: {check.problem}")
    if not check.ok:
        raise typer.Exit(1)
