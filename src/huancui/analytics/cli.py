"""`huancui model train|validate|score|report|truth|uplift` and `huancui optimise`.

Mounted by huancui/cli.py with `register` and `register_optimise`; the model libraries load only
when a command runs (docs/analytics.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from huancui.cli_support import JsonFlag, answer, err, fail, out, parse_date
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

    def train() -> dict[str, Any]:
        with err.status("training…"):
            return service.train(get_settings(), target=target, as_of=day)

    result = answer(train, json_out=json_out)
    if result is None:
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

    result = answer(
        lambda: service.validate(
            get_settings(), target=target, as_of=parse_date(as_of), version=version
        ),
        json_out=json_out,
    )
    if result is None:
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

    result = answer(
        lambda: service.score(
            get_settings(), target=target, as_of=parse_date(as_of), lang=lang, version=version
        ),
        json_out=json_out,
    )
    if result is None:
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

    result = answer(
        lambda: service.check_truth(get_settings(), as_of=parse_date(as_of), truth=truth),
        json_out=json_out,
    )
    if result is None:
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


def _yuan(fen: float | None) -> str:
    return "n/a (no uplift model)" if fen is None else f"{fen / 100:,.2f} yuan"


@model_app.command("uplift")
def uplift_command(
    log: Annotated[Path, typer.Option("--log", help="Decision log Parquet (huancui simulate).")],
    learner: Annotated[
        str, typer.Option("--learner", help="t (T-learner) or x (X-learner).")
    ] = "t",
    outcome: Annotated[
        str,
        typer.Option(
            "--outcome", help="share (of the arrears, the default) or fen: what the learner fits."
        ),
    ] = "share",
    json_out: JsonFlag = False,
) -> None:
    """Train the uplift model of calls and visits over automated contact.

    Fitted on a randomised decision log (huancui simulate), validated on held-out accounts and
    registered as model target "uplift"."""
    from huancui.analytics import optimise

    def train() -> dict[str, Any]:
        with err.status("training…"):
            return optimise.train(get_settings(), log=log, learner=learner, outcome=outcome)

    result = answer(train, json_out=json_out)
    if result is None:
        return
    out.print(
        f"uplift v{result['version']} ({result['learner']}-learner on {result['outcome']}):"
        f" {result['rows']:,} decisions"
        f" of {result['accounts']:,} accounts, days {result['days'][0]}–{result['days'][1]};"
        f" held out {result['n_test']:,}; saved to {result['artifact']}",
        highlight=False,
    )
    for name, v in result["treatments"].items():
        out.print(
            f"  {name:6s} vs automated: effect {_yuan(v['ate'])} per account"
            f" (95% CI {v['ate_ci_low'] / 100:,.2f} to {v['ate_ci_high'] / 100:,.2f}),"
            f" mean predicted {_yuan(v['mean_predicted_uplift'])};"
            f" on {v['n_treated'] + v['n_control']:,} held-out first nights Qini"
            f" {_yuan(v['qini_coefficient'])} per account (arrears alone"
            f" {_yuan(v['qini_average_only'])}, random rankings ±{_yuan(v['qini_null_sd'])}),"
            f" blend {v['blend']}",
            highlight=False,
        )


def optimise_command(
    as_of: AsOf,
    capacity: Annotated[
        str, typer.Option("--capacity", help="Staffed contacts available, e.g. call=40,visit=5.")
    ],
    policy: Annotated[
        str, typer.Option("--policy", help="optimised (uplift model) or balance (arrears first).")
    ] = "optimised",
    model_version: Annotated[
        int | None, typer.Option("--model-version", help="Uplift model version (default: newest).")
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Defer the open calls and visits not allocated.")
    ] = False,
    actor: Annotated[str | None, typer.Option(help="Who applies (default: OS user).")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Choose who gets tonight's calls and visits within capacity (调度).

    The uplift model's optimum, compared with ranking by arrears on the same candidates; writes
    HUANCUI_HOME/allocations/DATE/allocation.parquet. --apply defers the run's open calls and
    visits that were not allocated (audited; re-running changes nothing)."""
    from huancui.analytics import optimise
    from huancui.cli_support import actor_or_os_user

    day = parse_date(as_of)
    result = answer(
        lambda: optimise.optimise(
            get_settings(),
            as_of=day,
            capacity=optimise.parse_capacity(capacity),
            policy=policy,
            model_version=model_version,
            apply=apply,
            actor=actor_or_os_user(actor),
        ),
        json_out=json_out,
    )
    if result is None:
        return
    c, cap, used = result["candidates"], result["capacity"], result["used"]
    model = f"uplift v{result['model_version']}" if result["model_version"] else "no model"
    out.print(
        f"Allocation for {result['as_of']} (run {result['run_id']}, policy {result['policy']},"
        f" {model}): {c['accounts']:,} accounts with a planned call or visit",
        highlight=False,
    )
    for r in ("call", "visit"):
        out.print(
            f"  {r:5s} {c[r]:,} candidates, capacity {cap[r]:,}, used {used[r]:,}"
            f" (balance ranking {result['balance_used'][r]:,})",
            highlight=False,
        )
    out.print(
        f"  expected extra recovery minus cost: {_yuan(result['expected_net_fen'])};"
        f" balance ranking on the same candidates {_yuan(result['balance_expected_net_fen'])}",
        highlight=False,
    )
    if result["solver_status"] is not None:
        out.print(
            f"  solver {result['solver_status']}, proven gap {result['gap']:.2%}"
            f" (bound {_yuan(result['bound_fen'])})",
            highlight=False,
        )
    out.print(f"  written to {result['file']}", highlight=False)
    if result["applied"] is not None:
        a = result["applied"]
        out.print(
            f"  applied: {a['deferred']:,} work items deferred, {a['reopened']:,} reopened",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")


def register_optimise(app: typer.Typer) -> None:
    app.command("optimise")(optimise_command)
