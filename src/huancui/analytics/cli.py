"""`huancui model train|validate|score --target NAME --as-of DATE [--json]` (docs/analytics.md).

Mounted by huancui/cli.py with `register`; the model libraries load only when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from huancui.cli_support import JsonFlag, emit_json, err, fail, out, parse_date
from huancui.kit.errors import HuancuiError
from huancui.kit.settings import get_settings

model_app = typer.Typer(
    help="Models of ability and willingness to pay and early warning (模型).", no_args_is_help=True
)
Target = Annotated[
    str, typer.Option("--target", help="pay_30d, roll, early_warning, ability or willingness.")
]
AsOf = Annotated[str, typer.Option("--as-of", help="Snapshot date, YYYY-MM-DD.")]
Version = Annotated[int | None, typer.Option("--version", help="Model version (default: newest).")]


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@model_app.command("train")
def train_command(target: Target, as_of: AsOf, json_out: JsonFlag = False) -> None:
    """Train LightGBM and a WoE scorecard on earlier month ends, validate on the latest."""
    from huancui.analytics import service

    day = parse_date(as_of)
    try:
        with err.status("training…"):
            result = service.train(get_settings(), target=target, as_of=day)
    except HuancuiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(result)
        return
    out.print(
        f"{target}: trained on {', '.join(result['train_dates'])}"
        f" ({result['rows']['train']:,} rows), validated on {result['validation_dates'][0]}"
        f" ({result['rows']['validation']:,} rows); saved to {result['artifact']}",
        highlight=False,
    )
    for model, parts in result["metrics"].items():
        v = parts["validation"]
        out.print(
            f"  {model:9s} validation AUC {_pct(v['auc'])}, Gini {_pct(v['gini'])},"
            f" KS {_pct(v['ks'])}, PSI vs training {_pct(v.get('psi'))}",
            highlight=False,
        )


@model_app.command("validate")
def validate_command(
    target: Target, as_of: AsOf, version: Version = None, json_out: JsonFlag = False
) -> None:
    """Re-measure a registered model on the latest month end whose outcome is known."""
    from huancui.analytics import service

    try:
        result = service.validate(
            get_settings(), target=target, as_of=parse_date(as_of), version=version
        )
    except HuancuiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(result)
        return
    out.print(
        f"{target} v{result['model_version']} (trained {result['trained']}) on {result['on']},"
        f" {result['rows']:,} accounts",
        highlight=False,
    )
    for model, v in result["report"].items():
        out.print(
            f"  {model:9s} AUC {_pct(v['auc'])}, Gini {_pct(v['gini'])}, KS {_pct(v['ks'])},"
            f" Brier {_pct(v['brier'])}, PSI vs training {_pct(v.get('psi'))}",
            highlight=False,
        )


@model_app.command("score")
def score_command(
    target: Target,
    as_of: AsOf,
    version: Version = None,
    lang: Annotated[str, typer.Option(help="Language of the reasons: zh-CN or en.")] = "zh-CN",
    json_out: JsonFlag = False,
) -> None:
    """Score the target's population on a date; writes HUANCUI_HOME/scores/DATE/TARGET.parquet."""
    from huancui.analytics import service

    try:
        result = service.score(
            get_settings(), target=target, as_of=parse_date(as_of), lang=lang, version=version
        )
    except HuancuiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(result)
        return
    out.print(
        f"{target} v{result['model_version']}: {result['accounts']:,} accounts scored on"
        f" {result['as_of']}, mean score {_pct(result['mean_score'])}, PSI vs training"
        f" {_pct(result['psi_vs_training'])}; written to {result['file']}",
        highlight=False,
    )


@model_app.command("report")
def report_command(
    target: Target,
    as_of: AsOf,
    out_file: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    version: Version = None,
    lang: Annotated[str, typer.Option(help="zh-CN or en.")] = "zh-CN",
) -> None:
    """A registered model's validation report: one HTML file with ROC, calibration, score
    distributions, feature importance and the scorecard (opens offline)."""
    from huancui.analytics import service
    from huancui.analytics.report import render_model_report

    try:
        data = service.report_data(
            get_settings(), target=target, as_of=parse_date(as_of), version=version
        )
        out_file.write_text(render_model_report(data, lang=lang), encoding="utf-8")
    except HuancuiError as exc:
        raise fail(exc) from None
    out.print(f"{target} v{data['version']}: report written to {out_file}", highlight=False)


@model_app.command("truth")
def truth_command(
    as_of: AsOf,
    truth: Annotated[Path, typer.Option(help="The generated world's truth folder (DIR/truth).")],
    json_out: JsonFlag = False,
) -> None:
    """Synthetic worlds only: rank correlation of the ability and willingness scores with the
    customers' latent traits, and agreement of the four quadrants."""
    from huancui.analytics import service

    try:
        result = service.check_truth(get_settings(), as_of=parse_date(as_of), truth=truth)
    except HuancuiError as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(result)
        return
    out.print(
        f"{result['customers']:,} customers on {result['as_of']} (models"
        f" {result['model_versions']}): Spearman",
        highlight=False,
    )
    for pair, value in result["spearman"].items():
        out.print(f"  {pair:34s} {value:+.3f}", highlight=False)
    out.print(
        f"  quadrants agree for {result['quadrant_agreement']:.1%} of customers (25% by chance)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
