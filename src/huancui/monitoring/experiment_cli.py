"""`huancui experiment report EXP`: a challenger experiment's arms, differences with intervals and
p-values, power, guardrails and the recommendation in words (rich tables or JSON)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from huancui.cli_support import JsonFlag, choose, emit_json, err, fail, out, parse_date
from huancui.kit.errors import HuancuiError
from huancui.kit.money import format_yuan, round_half_up
from huancui.kit.settings import get_settings
from huancui.monitoring.experiments import (
    CHAMPION,
    DEFAULT_MIN_EFFECT,
    LANGUAGES,
    METRIC_NAMES,
    PRIMARY_METRICS,
    Comparison,
    ExperimentReport,
    Language,
    Metric,
    Unit,
    format_p,
    format_value,
    peeking_rule,
    verdict_text,
)

if TYPE_CHECKING:
    from huancui.monitoring.experiment_data import ExperimentData

experiment_app = typer.Typer(
    help="Challenger experiments: is the new treatment better? (实验分析)", no_args_is_help=True
)


@experiment_app.callback()
def _group() -> None:
    """Challenger experiments: is the new treatment better? (实验分析)"""


@experiment_app.command("report")
def report_command(
    experiment: Annotated[str, typer.Argument(help="Experiment id, e.g. prime_early_email.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Report date, YYYY-MM-DD (default: the newest snapshot)."),
    ] = None,
    horizon_days: Annotated[
        int,
        typer.Option(
            "--horizon-days", min=1, help="Fixed horizon: days after the first assignment."
        ),
    ] = 30,
    primary: Annotated[
        str, typer.Option("--primary", help="Primary metric: cure_rate or recovery_rate.")
    ] = Metric.CURE_RATE.value,
    min_effect: Annotated[
        float,
        typer.Option(
            "--min-effect", help="Smallest gain in the primary metric worth finding (0.02 = 2 pp)."
        ),
    ] = DEFAULT_MIN_EFFECT,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    lang: Annotated[str, typer.Option("--lang", help="Words in en or zh-CN.")] = "en",
    json_out: JsonFlag = False,
) -> None:
    """Compare every challenger arm with the champion and say: promote, keep, or run longer."""
    from huancui.kit.database import migrate, unit_of_work
    from huancui.monitoring.experiment_data import load_experiment
    from huancui.monitoring.experiments import Design, analyse

    language = _language(lang)
    try:
        design = Design(primary=Metric(primary), alpha=alpha, min_effect=min_effect)
    except ValueError as exc:
        names = ", ".join(PRIMARY_METRICS)
        message = str(exc) if primary in PRIMARY_METRICS else f"--primary {primary!r}: use {names}"
        err.print(f"[red]{message}[/red]", highlight=False)
        raise typer.Exit(2) from None
    day = parse_date(as_of) if as_of else None
    settings = get_settings()
    url = settings.resolved_database_url
    migrate(url)
    try:
        with unit_of_work(url) as session:
            data = load_experiment(
                session, settings, experiment=experiment, horizon_days=horizon_days, as_of=day
            )
    except HuancuiError as exc:
        raise fail(exc) from None
    report = analyse(
        data.arms, design=design, timing=data.timing, intake_per_day=data.intake_per_day
    )
    if json_out:
        emit_json(report_json(report, data, language))
        return
    print_report(report, data, language)


def _language(lang: str) -> Language:
    return cast(Language, choose(lang, LANGUAGES, option="--lang"))


def _number(value: float, digits: int = 6) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def _yuan(fen: float) -> str | None:
    """Fen (possibly fractional: a mean) as yuan text with two decimals, half-up."""
    if math.isnan(fen):
        return None
    return format_yuan(round_half_up(Decimal(repr(fen))))


def _value(unit: Unit, value: float) -> float | str | None:
    return _yuan(value) if unit is Unit.FEN else _number(value)


def _comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "arm": c.arm,
        "metric": c.metric.value,
        "unit": "yuan" if c.unit is Unit.FEN else c.unit.value,
        "champion": _value(c.unit, c.champion),
        "challenger": _value(c.unit, c.challenger),
        "difference": _value(c.unit, c.difference),
        "ci_low": _value(c.unit, c.ci_low),
        "ci_high": _value(c.unit, c.ci_high),
        "p_value": _number(c.p_value),
        "p_adjusted": None if c.p_adjusted is None else _number(c.p_adjusted),
        "test": c.test,
        "alternative": c.alternative,
    }


def report_json(report: ExperimentReport, data: ExperimentData, lang: Language) -> dict[str, Any]:
    """The report for machines: rates as numbers (0–1), money as yuan text with two decimals."""
    timing, design = report.timing, report.design
    return {
        "experiment": data.experiment,
        "as_of": timing.as_of.isoformat(),
        "look_date": data.look_date.isoformat(),
        "started_on": timing.started_on.isoformat(),
        "horizon_days": timing.horizon_days,
        "horizon_date": timing.horizon_date.isoformat(),
        "horizon_reached": timing.horizon_reached,
        "peeking_rule": peeking_rule(timing, lang),
        "design": {
            "primary_metric": design.primary.value,
            "alpha": design.alpha,
            "power": design.power,
            "min_effect": design.min_effect,
            "correction": report.correction,
            "guardrails": {
                "complaint_rate": "higher (one-sided)",
                "csat_mean": "lower (one-sided)",
            },
        },
        "arms": [
            {
                "arm": s.arm,
                "accounts": s.accounts,
                "assigned": data.assigned.get(s.arm, 0),
                "arrears_at_start": format_yuan(s.arrears_at_start_fen),
                "collected": format_yuan(s.collected_fen),
                "recovered": format_yuan(s.recovered_fen),
                "recovery_rate": _number(s.recovery_rate),
                "cure_rate": _number(s.cure_rate),
                "complaint_rate": _number(s.complaint_rate),
                "csat_responses": s.csat_responses,
                "csat_mean": _number(s.csat_mean),
                "csat_satisfied": _number(s.csat_satisfied),
                "cost": format_yuan(s.cost_fen),
                "cost_per_account": _yuan(s.cost_per_account_fen),
            }
            for s in report.summaries
        ],
        "comparisons": [_comparison_json(c) for c in report.comparisons],
        "power": [
            {
                "arm": p.arm,
                "metric": p.metric.value,
                "mde": _number(p.mde),
                "observed_power": _number(p.observed_power),
                "min_effect": p.min_effect,
                "underpowered": p.underpowered,
                "accounts": {CHAMPION: p.champion_accounts, p.arm: p.challenger_accounts},
                "needed": {CHAMPION: p.needed_champion, p.arm: p.needed_challenger},
            }
            for p in report.power
        ],
        "guardrails": [
            {**_comparison_json(g.comparison), "breached": g.breached} for g in report.guardrails
        ],
        "verdicts": [
            {
                "arm": v.arm,
                "action": v.action.value,
                "reason": v.reason.value,
                "text": verdict_text(report, v, lang),
            }
            for v in report.verdicts
        ],
        "recommendation": {
            "action": report.recommendation.action.value,
            "arm": report.recommendation.arm,
            "reason": report.recommendation.reason.value,
            "breaches": [m.value for m in report.recommendation.breaches],
            "extra_days": report.recommendation.extra_days,
            "text": verdict_text(report, report.recommendation, lang),
        },
        "data": {
            "not_in_look_snapshot": data.not_in_look_snapshot,
            "assigned_after_look": data.assigned_after_look,
            "feedback_file": data.feedback_file,
            "unit_costs": {c: format_yuan(fen) for c, fen in sorted(data.unit_costs_fen.items())},
            "unit_costs_source": data.costs_source,
            "intake_per_day": {arm: round(r, 3) for arm, r in data.intake_per_day.items()},
        },
    }


def _ci(c: Comparison) -> str:
    if math.isnan(c.ci_low):
        return "—"
    low = format_value(c.metric, c.ci_low, signed=True)
    return f"{low} … {format_value(c.metric, c.ci_high, signed=True)}"


def print_report(report: ExperimentReport, data: ExperimentData, lang: Language) -> None:
    timing, design = report.timing, report.design
    names = METRIC_NAMES[lang]
    state = "reached" if timing.horizon_reached else "NOT reached (interim numbers)"
    out.print(
        f"[bold]Experiment {data.experiment}[/bold] — 实验报告  primary 主要指标: "
        f"{names[design.primary]}, α = {design.alpha}, power 检验力 {design.power:.0%}",
        highlight=False,
    )
    out.print(
        f"First assignment {timing.started_on}; horizon {timing.horizon_days} days → "
        f"{timing.horizon_date} ({state}); report date {timing.as_of}; outcomes read from the "
        f"snapshot of {data.look_date}",
        highlight=False,
    )
    arms = Table(title="Arms 各组", title_justify="left")
    for header in ("Arm 组", "Accounts 户数", names[Metric.RECOVERY_RATE], names[Metric.CURE_RATE],
                   names[Metric.COMPLAINT_RATE], f"{names[Metric.CSAT_MEAN]} (ratings)",
                   names[Metric.CSAT_SATISFIED], names[Metric.COST_PER_ACCOUNT]):  # fmt: skip
        first = header.startswith("Arm")
        arms.add_column(header, justify="left" if first else "right", no_wrap=first)
    for s in report.summaries:
        arms.add_row(
            s.arm,
            f"{s.accounts:,}",
            format_value(Metric.RECOVERY_RATE, s.recovery_rate),
            format_value(Metric.CURE_RATE, s.cure_rate),
            format_value(Metric.COMPLAINT_RATE, s.complaint_rate),
            f"{format_value(Metric.CSAT_MEAN, s.csat_mean)} ({s.csat_responses:,})",
            format_value(Metric.CSAT_SATISFIED, s.csat_satisfied),
            format_value(Metric.COST_PER_ACCOUNT, s.cost_per_account_fen),
        )
    out.print(arms)
    for arm in report.challengers:
        diffs = Table(title=f"{arm} − champion 与冠军组之差", title_justify="left")
        for header in ("Metric 指标", "Champion", arm, "Difference", "95% CI", "p",
                       f"p ({report.correction})", "Test 检验"):  # fmt: skip
            diffs.add_column(header, justify="left" if header[0] in "MT" else "right")
        for c in (c for c in report.comparisons if c.arm == arm):
            diffs.add_row(
                names[c.metric] + (" ★" if c.metric is design.primary else ""),
                format_value(c.metric, c.champion),
                format_value(c.metric, c.challenger),
                format_value(c.metric, c.difference, signed=True),
                _ci(c),
                format_p(c.p_value),
                format_p(c.p_adjusted),
                c.test,
            )
        out.print(diffs)
    power = Table(title=f"Power 检验力 ({names[design.primary]})", title_justify="left")
    for header in ("Arm 组", "MDE at 80%", "Power at observed", "Effect of interest",
                   "Accounts now (champion / arm)", "Accounts needed"):  # fmt: skip
        power.add_column(header, justify="left" if header.startswith("Arm") else "right")
    for p in report.power:
        needed = (
            "—" if p.needed_champion is None else f"{p.needed_champion:,} / {p.needed_challenger:,}"
        )
        power.add_row(
            p.arm,
            format_value(p.metric, p.mde, signed=True),
            "—" if math.isnan(p.observed_power) else f"{p.observed_power:.0%}",
            format_value(p.metric, p.min_effect, signed=True),
            f"{p.champion_accounts:,} / {p.challenger_accounts:,}",
            needed,
        )
    out.print(power)
    guards = Table(title="Guardrails 护栏 (one-sided, α each)", title_justify="left")
    for header in ("Arm 组", "Guardrail", "Champion", "Challenger", "one-sided p", "Status"):
        guards.add_column(header, justify="left" if header in ("Arm 组", "Guardrail") else "right")
    for g in report.guardrails:
        c = g.comparison
        guards.add_row(
            g.arm,
            f"{names[g.metric]} ({'higher' if c.alternative == 'larger' else 'lower'} = harm)",
            format_value(c.metric, c.champion),
            format_value(c.metric, c.challenger),
            format_p(c.p_value),
            "[red]VETO 否决[/red]" if g.breached else "ok",
        )
    out.print(guards)
    for v in report.verdicts:
        out.print(f"  {v.arm}: {verdict_text(report, v, lang)}", highlight=False)
    out.print(
        f"\n[bold]{verdict_text(report, report.recommendation, lang)}[/bold]", highlight=False
    )
    out.print(peeking_rule(timing, lang), highlight=False, style="dim")
    for note in _notes(data, report):
        out.print(f"[yellow]note:[/yellow] {note}", highlight=False)


def _notes(data: ExperimentData, report: ExperimentReport) -> list[str]:
    notes = []
    judged = sum(s.accounts for s in report.summaries)
    if data.not_in_look_snapshot:
        notes.append(
            f"{data.not_in_look_snapshot:,} of {judged:,} accounts are missing from the snapshot "
            f"of {data.look_date}; they count as not cured"
        )
    if data.assigned_after_look:
        notes.append(
            f"{data.assigned_after_look:,} accounts first assigned on or after {data.look_date}"
            " have no window before the look and are not counted"
        )
    if not data.feedback_file:
        notes.append(
            f"the snapshot of {data.look_date} has no feedback file: the complaint and CSAT "
            "guardrails have nothing to test"
        )
    notes.append(f"contact costs per channel from {data.costs_source}")
    return notes
