"""`huancui kpi`: the collection KPIs of a window as rich tables or JSON.

Mounted by huancui/cli.py. Bad dates, a window that ends before it starts, an unknown --by field
or --grain exit 2 naming the option; a missing snapshot exits 3.
"""

from __future__ import annotations

from contextlib import nullcontext
from decimal import Decimal
from typing import Annotated, cast

import typer
from rich.table import Table

from huancui.cli_support import JsonFlag, emit_json, err, fail, out, parse_date
from huancui.kit.errors import HuancuiError
from huancui.kit.settings import get_settings
from huancui.monitoring.data import CHARGED_OFF, FIELDS
from huancui.monitoring.kpis import (
    ALL_DELINQUENT,
    TOTAL,
    Grain,
    KpiReport,
    check_window,
    compute_kpis,
    display_amount,
    display_value,
)

# The KPIs shown together, with the short name a period or sliced table uses.
FAMILIES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Collection 回收",
        (
            ("recovery_rate", "recovery"),
            ("arrears_recovered_rate", "arrears recovered"),
            ("cure_rate", "cure"),
            ("collected", "collected"),
            ("contact_cost", "cost"),
            ("cost_to_collect", "cost ÷ collected"),
            ("net_recovery", "net"),
        ),
    ),
    (
        "Contact and promises 联系与承诺",
        (
            ("contact_rate", "contact"),
            ("right_party_contact_rate", "RPC"),
            ("promise_rate", "promise"),
            ("promise_kept_rate", "PTP kept"),
            ("promise_kept_rate_7d", "PTP 7-day"),
            ("arrangement_kept_rate", "arrangement kept"),
        ),
    ),
    (
        "Customers 客户",
        (
            ("csat", "CSAT"),
            ("mean_score", "score"),
            ("complaints_per_1000_accounts", "complaints/1k accounts"),
            ("complaints_per_10000_contacts", "complaints/10k contacts"),
        ),
    ),
    (
        "缓催 hardship pause",
        (
            ("hardship_uptake", "缓催 uptake"),
            ("post_hold_cure_rate", "cured ≤30d after"),
            ("post_hold_arrangement_rate", "arrangement ≤30d after"),
            ("post_hold_roll_rate", "rolled ≤30d after"),
        ),
    ),
)
MAX_PERIOD_COLUMNS = 6


def _pct(value: Decimal | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.2f} pp" if signed else f"{value * 100:.2f}%"


def _window_table(report: KpiReport) -> Table:
    table = Table(title=f"KPIs {report.start} → {report.data_through}", title_justify="left")
    for heading in ("KPI", "value", "numerator", "denominator"):
        table.add_column(heading, justify="left" if heading == "KPI" else "right")
    for title, members in FAMILIES:
        table.add_row(f"[bold]{title}[/bold]", "", "", "")
        for key, _ in members:
            r = report.kpis[key]
            row = r.row()
            assert row is not None
            table.add_row(
                f"  {r.label}",
                display_value(r, row.value),
                display_amount(row.numerator, money=r.money[0]),
                display_amount(row.denominator, money=r.money[1]),
            )
        if title != FAMILIES[-1][0]:
            table.add_section()
    return table


def _period_table(report: KpiReport) -> Table | None:
    periods = [p.label for p in report.periods if p.label != TOTAL]
    if len(periods) < 2:
        return None
    shown = periods[-MAX_PERIOD_COLUMNS:]
    more = (
        f" (the last {len(shown)} of {len(periods)}; all in --json)"
        if len(shown) < len(periods)
        else ""
    )
    table = Table(title=f"By {report.grain}{more}", title_justify="left")
    table.add_column("KPI")
    for label in shown:
        table.add_column(label, justify="right")
    for _, members in FAMILIES:
        for key, name in members:
            r = report.kpis[key]
            table.add_row(name, *(display_value(r, r.value(p)) for p in shown))
    return table


def _sliced_table(
    report: KpiReport, title: str, members: tuple[tuple[str, str], ...]
) -> tuple[Table | None, list[str]]:
    sliced = [(k, h) for k, h in members if report.kpis[k].sliced_by]
    unsliced = [report.kpis[k].label for k, _ in members if not report.kpis[k].sliced_by]
    if not sliced:
        return None, unsliced
    table = Table(
        title=f"{title} by {report.by}, {report.start} → {report.data_through}",
        title_justify="left",
    )
    table.add_column(report.by or "")
    for _, heading in sliced:
        table.add_column(heading, justify="right")
    groups = dict.fromkeys(g for key, _ in sliced for g in report.kpis[key].groups())
    for group in groups:
        table.add_row(
            group,
            *(display_value(report.kpis[k], report.kpis[k].value(TOTAL, group)) for k, _ in sliced),
        )
    return table, unsliced


def _roll_table(report: KpiReport) -> Table | None:
    roll = report.roll
    if not roll.cells:
        return None
    counts = roll.counts()
    shares = roll.shares()
    table = Table(
        title=f"Roll rates 迁徙率: bucket at month end t → t+1, share of the row's accounts,"
        f" pooled over {len(roll.pairs)} month(s) {roll.month_ends[0]} … {roll.month_ends[-1]}",
        title_justify="left",
    )
    table.add_column("from \\ to")
    for state in roll.to_states:
        table.add_column("CO" if state == CHARGED_OFF else state, justify="right")
    table.add_column("accounts", justify="right")
    for source in roll.from_states:
        total = sum(counts[source].values())
        if total == 0:
            continue
        table.add_row(
            source,
            *(_pct(shares[source][t]) if counts[source][t] else "·" for t in roll.to_states),
            f"{total:,}",
        )
    return table


def _delinquency_table(report: KpiReport) -> Table:
    series = report.delinquency
    table = Table(
        title="Delinquency rate by bucket 逾期率 (accounts not charged off)", title_justify="left"
    )
    for heading in ("as of", *series.bucket_groups, "all 1+", "change", "vs baseline"):
        table.add_column(heading, justify="left" if heading == "as of" else "right")
    for as_of in series.dates:
        cells = []
        for bucket in series.bucket_groups:
            point = series.point(as_of, bucket)
            cells.append(_pct(point.rate if point else None))
        total = series.point(as_of, ALL_DELINQUENT)
        table.add_row(
            as_of.isoformat(),
            *cells,
            _pct(total.rate if total else None),
            _pct(total.change if total else None, signed=True),
            _pct(total.vs_baseline if total else None, signed=True),
        )
    return table


def _print(report: KpiReport) -> None:
    strategy = report.strategy.label if report.strategy else "none active"
    out.print(
        f"History from the snapshot of {report.history_snapshot}; data through"
        f" {report.data_through}; strategy {strategy}",
        highlight=False,
    )
    if report.by is None:
        out.print(_window_table(report))
        periods = _period_table(report)
        if periods is not None:
            out.print(periods)
    else:
        for title, members in FAMILIES:
            table, unsliced = _sliced_table(report, title, members)
            if table is not None:
                out.print(table)
            if unsliced:
                out.print(f"  not sliceable by {report.by}: {', '.join(unsliced)}", highlight=False)
    roll = _roll_table(report)
    if roll is not None:
        out.print(roll)
    out.print(_delinquency_table(report))
    baseline = report.delinquency.baseline_date
    if baseline:
        out.print(
            f"  baseline: {baseline}, the day before {report.delinquency.baseline_strategy}"
            " took effect",
            highlight=False,
        )
    notes = [*report.notes, *report.roll.notes, *report.delinquency.notes]
    if report.by:
        notes.append("every KPI per period and group, with numerators and denominators: --json")
    for note in dict.fromkeys(notes):
        out.print(f"[dim]• {note}[/dim]", highlight=False)


def kpi_command(
    from_: Annotated[str, typer.Option("--from", help="First day of the window, YYYY-MM-DD.")],
    to: Annotated[str, typer.Option("--to", help="Last day of the window, YYYY-MM-DD.")],
    by: Annotated[
        str | None, typer.Option("--by", help=f"Slice by one of: {', '.join(FIELDS)}.")
    ] = None,
    grain: Annotated[str, typer.Option("--grain", help="Periods: day or month.")] = "month",
    json_out: JsonFlag = False,
) -> None:
    """Collection KPIs of a window: recovery, cure, roll rates, delinquency, promises, contact,
    satisfaction, cost to collect and 缓催 (definitions: docs/kpis.md)."""
    start = parse_date(from_, option="--from")
    end = parse_date(to, option="--to")
    try:
        check_window(start, end, by=by, grain=grain)
        spinner = err.status("computing KPIs…", spinner="dots")
        with spinner if not json_out and err.is_terminal else nullcontext():
            report = compute_kpis(get_settings(), start, end, by=by, grain=cast(Grain, grain))
    except HuancuiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(report.as_json())
        return
    _print(report)


def register(app: typer.Typer) -> None:
    app.command("kpi")(kpi_command)
