"""Write the case studies' tables into docs/case-studies.md from a `huancui simulate --json`
result, so that no figure in that page is typed by hand. Usage:

    .venv/bin/huancui simulate --scenario scenarios/segmented.yaml \\
        --scenario scenarios/uniform-gentle.yaml --scenario scenarios/uniform-harsh.yaml \\
        --accounts 100000 --days 90 --seeds 5 --ope --json > docs/case-studies.json
    .venv/bin/python scripts/case_study_tables.py docs/case-studies.json \
        [--variant docs/case-studies-variant.json]   # the "what to try next" run, two scenarios
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from huancui.kit.doc_blocks import write_block
from huancui.simulation.kpis import interval
from huancui.simulation.report import format_summary, format_value

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "case-studies.md"


def _verdict(summary: dict[str, Any], better: str) -> str:
    low, high = summary.get("low"), summary.get("high")
    if low is None or high is None or low <= 0 <= high:
        return "no clear difference"
    if better == "none":
        return "differs"
    up = low > 0
    return "better" if (up and better == "higher") or (not up and better == "lower") else "worse"


def tables(result: dict[str, Any]) -> str:
    sim = result["simulation"]
    names = [s["name"] for s in result["strategies"]]
    first = names[0]
    lines = [
        f"Run: {sim['accounts']:,} accounts × {sim['days']} days from {sim['start']}, seeds "
        f"{', '.join(str(s) for s in sim['seeds'])}, engine {sim['engine']}, pack {sim['pack']}, "
        f"behaviour model sha256 {sim['behaviour']['sha256'][:12]}; {sim['seconds']['runs']} runs "
        f"in {sim['seconds']['total'] / 60:,.1f} min.",
        "",
        "### Every KPI: mean across seeds (95 % interval)",
        "",
        "| KPI | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for kpi in result["kpis"]:
        cells = [format_summary(result["results"][n][kpi["key"]], kpi["unit"]) for n in names]
        lines.append(f"| {kpi['label_en']} ({kpi['key']}) | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"### Paired differences from {first} (same worlds, same luck)",
        "",
        "| KPI | " + " | ".join(f"{n} − {first}" for n in names[1:]) + " |",
        "|---|" + "---|" * (len(names) - 1),
    ]
    for kpi in result["kpis"]:
        cells = []
        for n in names[1:]:
            d = result["differences"][n][kpi["key"]]
            text = format_summary(d, kpi["unit"], difference=True)
            cells.append(f"{text} — {_verdict(d, kpi['better'])}")
        lines.append(f"| {kpi['label_en']} | " + " | ".join(cells) + " |")
    rows = [r for r in result.get("ope") or [] if "skipped" not in r]
    if rows:
        lines += [
            "",
            "### Offline policy evaluation against the simulator's truth",
            "",
            "Mean recovery per account in the 30 days after entering the cell, yuan.",
            "",
            "| strategy | experiment = arm for everyone | logged accounts | IPW | SNIPW | DR | "
            "truth (run of the arm) | champion's truth | truth inside DR's interval? |",
            "|---|---|---:|---|---|---|---|---|---|",
        ]
        for r in rows:

            def cell(e: dict[str, Any]) -> str:
                return format_summary(
                    {"mean": e["value"], "low": e["low"], "high": e["high"]}, "money"
                )

            inside = r["dr"]["low"] <= r["truth"]["value"] <= r["dr"]["high"]
            lines.append(
                f"| {r['strategy']} | {r['experiment']} = {r['arm']} | "
                f"{format_value(r['n'], 'count')} | {cell(r['ipw'])} | {cell(r['snipw'])} | "
                f"{cell(r['dr'])} | {cell(r['truth'])} (n = {r['truth'].get('n')}) | "
                f"{cell(r['champion_truth'])} | {'yes' if inside else 'no'} |"
            )
    return "\n".join(lines) + "\n"


def variant_table(result: dict[str, Any], main: dict[str, Any], against: str) -> str:
    """Two strategies: each KPI's mean for both and their paired difference; and the variant's
    paired difference from `against` of the main run (same seeds, so the same worlds and luck:
    the per-seed values of the two runs pair up)."""
    sim = result["simulation"]
    first, second = (s["name"] for s in result["strategies"][:2])
    same = (main["simulation"]["seeds"], main["simulation"]["accounts"]) == (
        sim["seeds"],
        sim["accounts"],
    )
    if not same:
        raise SystemExit("the variant run must use the main run's seeds and accounts")
    lines = [
        f"{sim['accounts']:,} accounts × {sim['days']} days, seeds "
        f"{', '.join(str(s) for s in sim['seeds'])}; paired differences (95 % interval).",
        "",
        f"| KPI | {first} | {second} | {second} − {first} | {second} − {against} |",
        "|---|---:|---:|---|---|",
    ]
    for kpi in result["kpis"]:
        key, unit = kpi["key"], kpi["unit"]
        a = format_value(result["results"][first][key]["mean"], unit)
        b = format_value(result["results"][second][key]["mean"], unit)
        d = result["differences"][second][key]
        text = format_summary(d, unit, difference=True)
        pairs = zip(
            result["results"][second][key]["per_seed"],
            main["results"][against][key]["per_seed"],
            strict=True,
        )
        other = interval([None if x is None or y is None else x - y for x, y in pairs])
        other_text = format_summary(other, unit, difference=True)
        lines.append(
            f"| {kpi['label_en']} | {a} | {b} | {text} — {_verdict(d, kpi['better'])} "
            f"| {other_text} — {_verdict(other, kpi['better'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("result", type=Path)
    parser.add_argument("--variant", type=Path)
    args = parser.parse_args()
    section = tables(json.loads(args.result.read_text(encoding="utf-8")))
    write_block(DOC, "results", section)
    print(section)
    if args.variant is not None:
        main_result = json.loads(args.result.read_text(encoding="utf-8"))
        variant = variant_table(
            json.loads(args.variant.read_text(encoding="utf-8")), main_result, "uniform-gentle"
        )
        write_block(DOC, "variant", variant)
        print(variant)


if __name__ == "__main__":
    main()
