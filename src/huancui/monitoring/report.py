"""The collections report: one self-contained HTML file with a window's KPIs, trends, roll rates,
the contact funnel, segments, experiments and 缓催 outcomes (plotly.js embedded once, Jinja2).

    report_data(settings, start, end, lang="zh-CN") -> dict   # every number, text and figure
    render_report(data) -> str                               # the HTML, from that dict alone
    build_report(settings, start, end, lang="zh-CN") -> str  # both

Every number comes from `compute_kpis` and the experiment analysis, none is typed in; figures are
plotly JSON in the dict, so web pages can draw the same ones. Labels: LABELS, one dict per
language. What each part shows: docs/reports.md.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
import plotly.io as pio
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from plotly.offline import get_plotlyjs
from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui import __version__
from huancui.arrangements.tables import HardshipRow
from huancui.kit.database import unit_of_work
from huancui.kit.errors import HuancuiError, InvalidInput
from huancui.kit.money import display_yuan
from huancui.kit.settings import Settings
from huancui.monitoring.data import BANK_TIMEZONE, CHARGED_OFF, UNPLANNED
from huancui.monitoring.experiment_data import ExperimentData, experiment_names, load_experiment
from huancui.monitoring.experiments import (
    CHAMPION,
    LANGUAGES,
    METRIC_NAMES,
    Design,
    ExperimentReport,
    Language,
    analyse,
    format_p,
    format_value,
    peeking_rule,
    verdict_text,
)
from huancui.monitoring.kpis import (
    ALL,
    ALL_DELINQUENT,
    FOLLOW_UP_DAYS,
    KPIS,
    NOT_AVAILABLE,
    PROMISE_DAYS,
    TOTAL,
    KpiReport,
    KpiResult,
    check_window,
    compute_kpis,
    display_amount,
    display_value,
)
from huancui.portfolio.tables import SnapshotRow
from huancui.strategy.loader import parse_strategy
from huancui.strategy.repository import StrategyRepository
from huancui.strategy.tables import PlanRunRow

DEFAULT_LANGUAGE: Language = "zh-CN"
SEGMENT_FIELD = "segment"
EXPERIMENT_HORIZON_DAYS = 30  # the experiment report's default fixed horizon (docs/experiments.md)
EMPTY = "—"

# The headline cards, in order; every KPI's definition is in the report's footnotes.
CARD_KPIS = (
    "recovery_rate",
    "arrears_recovered_rate",
    "cure_rate",
    "collected",
    "net_recovery",
    "contact_cost",
    "contact_rate",
    "right_party_contact_rate",
    "promise_kept_rate",
    "promise_kept_rate_7d",
    "csat",
    "complaints_per_1000_accounts",
    "hardship_uptake",
)
SEGMENT_KPIS = (
    "recovery_rate",
    "cure_rate",
    "contact_rate",
    "right_party_contact_rate",
    "promise_rate",
    "promise_kept_rate_7d",
    "csat",
    "complaints_per_1000_accounts",
    "contact_cost",
    "net_recovery",
    "hardship_uptake",
)
TREND_KPIS = ("recovery_rate", "arrears_recovered_rate", "cure_rate")
HARDSHIP_KPIS = (
    "hardship_uptake",
    "post_hold_cure_rate",
    "post_hold_arrangement_rate",
    "post_hold_roll_rate",
)
BUCKET_COLOURS = ("#e3a21a", "#e0692b", "#c8382c", "#7d1d18", "#4d0f0c")
LINE_COLOURS = ("#1f5fa8", "#5aa0d8", "#2e9d6a")
FONT = 'system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif'
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

# --- words --------------------------------------------------------------------------------------

_ZH: dict[str, str] = {
    "title": "催收报告",
    "subtitle": "缓催 huancui 催收管理报告",
    "window": "报告期",
    "data_through": "数据截至",
    "generated": "生成时间",
    "strategy": "当前策略",
    "none": "无",
    "all": "全部",
    "nav.kpis": "核心指标",
    "nav.trends": "趋势",
    "nav.roll": "迁徙率",
    "nav.funnel": "联系漏斗",
    "nav.segments": "分客群",
    "nav.experiments": "实验",
    "nav.hardship": "缓催",
    "nav.definitions": "指标定义",
    "nav.sources": "数据来源",
    "kpis.title": "核心指标（整个报告期）",
    "kpis.hint": "鼠标悬停在指标上可查看公式；上标数字指向页末的指标定义。",
    "empty_note": "分母为 0：本报告期内没有可计算的数据",
    "empty_cells": "“—”表示分母为 0，没有可计算的数据。",
    "card_note.recovery_rate": "报告期较长时可超过 100%：还款也偿付期内新到期的款项；请结合逾期金额回收率与每月趋势阅读",
    "card_note.contact_cost": "渠道单次成本为示例数字，请换成银行自己的成本",
    "list_separator": "；",
    "colon": "：",
    "currency": "元",
    "kpi.recovery_rate": "回收率",
    "kpi.arrears_recovered_rate": "逾期金额回收率",
    "kpi.cure_rate": "治愈率",
    "kpi.collected": "回收金额",
    "kpi.contact_rate": "接通率",
    "kpi.right_party_contact_rate": "本人接触率",
    "kpi.promise_rate": "承诺还款率",
    "kpi.promise_kept_rate": "承诺兑现率（PTP 协议）",
    "kpi.promise_kept_rate_7d": "承诺兑现率（7 天内还款）",
    "kpi.arrangement_kept_rate": "协议履约率",
    "kpi.csat": "客户满意度 CSAT",
    "kpi.mean_score": "平均评分",
    "kpi.complaints_per_1000_accounts": "每千户投诉",
    "kpi.complaints_per_10000_contacts": "每万次联系投诉",
    "kpi.contact_cost": "联系成本",
    "kpi.cost_to_collect": "催收成本率",
    "kpi.net_recovery": "净回收",
    "kpi.hardship_uptake": "缓催使用率",
    "kpi.post_hold_cure_rate": f"缓催结束后 {FOLLOW_UP_DAYS} 天内治愈",
    "kpi.post_hold_arrangement_rate": f"缓催结束后 {FOLLOW_UP_DAYS} 天内达成协议",
    "kpi.post_hold_roll_rate": f"缓催结束后 {FOLLOW_UP_DAYS} 天内恶化",
    "formula.recovery_rate": "期初逾期账户在期内的还款 ÷ 这些账户期初的逾期金额",
    "formula.arrears_recovered_rate": "Σ min(账户期内还款, 期初逾期金额) ÷ 期初逾期金额（期初逾期账户）",
    "formula.cure_rate": "期初逾期账户中期内恢复正常（回到 M0）的户数 ÷ 期初逾期户数",
    "formula.collected": "期初逾期账户在期内的还款金额",
    "formula.contact_rate": "接通的电话与外访次数 ÷ 电话与外访次数",
    "formula.right_party_contact_rate": "接触到本人（债务人或担保人）的电话与外访次数 ÷ 电话与外访次数",
    "formula.promise_rate": "结果为承诺还款的本人接触 ÷ 本人接触",
    "formula.promise_kept_rate": "期内提出并已兑现的承诺还款（PTP 协议）÷ 已有结果的（兑现或违约）",
    "formula.promise_kept_rate_7d": f"当天或 {PROMISE_DAYS} 天内有还款的承诺还款联系 ÷ {PROMISE_DAYS} 天已满的承诺还款联系",
    "formula.arrangement_kept_rate": "期内提出并已履约或完成的协议 ÷ 已有结果的协议（履约、完成或违约）",
    "formula.csat": "4 分或 5 分的调查与自助评分 ÷ 全部调查与自助评分",
    "formula.mean_score": "调查与自助评分之和 ÷ 评分个数（1–5 分）",
    "formula.complaints_per_1000_accounts": "期内投诉数 × 1,000 ÷ 期内被联系的账户数",
    "formula.complaints_per_10000_contacts": "期内投诉数 × 10,000 ÷ 期内联系次数",
    "formula.contact_cost": "各渠道联系次数 × 该渠道单次成本",
    "formula.cost_to_collect": "联系成本 ÷ 回收金额",
    "formula.net_recovery": "回收金额 − 联系成本",
    "formula.hardship_uptake": "期内曾逾期且期内获批缓催的账户 ÷ 期内曾逾期的账户",
    "formula.post_hold_cure_rate": f"期内结束的缓催中，结束后 {FOLLOW_UP_DAYS} 天内治愈的 ÷ 已观察满 {FOLLOW_UP_DAYS} 天的缓催",
    "formula.post_hold_arrangement_rate": f"期内结束的缓催中，结束后 {FOLLOW_UP_DAYS} 天内达成获批协议（或有关联协议）的 ÷ 已观察满 {FOLLOW_UP_DAYS} 天的缓催",
    "formula.post_hold_roll_rate": f"期内结束的缓催中，结束后 {FOLLOW_UP_DAYS} 天内进入逾期、恶化或核销的 ÷ 已观察满 {FOLLOW_UP_DAYS} 天的缓催",
    "trends.title": "趋势",
    "trends.delinquency": "各账龄逾期率（占未核销账户）",
    "trends.delinquency_axis": "逾期率 %",
    "trends.delinquency_all": "全部逾期",
    "trends.baseline": "基准日",
    "trends.baseline_note": "基准日 {date}：{strategy} 生效前一天。最新全部逾期率 {rate}，较基准 {change}。",
    "trends.recovery": "每月回收率与治愈率",
    "trends.recovery_axis": "%",
    "roll.title": "迁徙率（月末 t → 月末 t+1，占该行账户）",
    "roll.from": "月末 t 账龄",
    "roll.to": "月末 t+1 状态",
    "roll.caption": "合并 {pairs} 个月的迁徙（{first} … {last}）；对角线为停留，第一行为入催率。",
    "roll.none": "报告期内不足两个月末，无法计算迁徙率。",
    "charged_off": "核销",
    "funnel.title": "联系漏斗：电话与外访 → 接通 → 本人 → 承诺 → 兑现",
    "funnel.attempts": "电话与外访",
    "funnel.connected": "接通",
    "funnel.right_party": "本人接触",
    "funnel.promise": "承诺还款",
    "funnel.kept": f"{PROMISE_DAYS} 天内兑现",
    "funnel.caption": f"兑现按历史数据代理口径：承诺后 {PROMISE_DAYS} 天内有任何还款；最近 {PROMISE_DAYS} 天的承诺尚未计入。",
    "funnel.none": "报告期内没有电话或外访。",
    "segments.title": "分客群指标（整个报告期）",
    "segments.segment": "客群",
    "segments.unplanned": "未规划",
    "segments.caption": "客群取自当天或之前最近一次夜间批处理的计划；没有被计划的账户（首次运行之前、正常或已核销）记为“未规划”。",
    "segments.not_sliced": "以下指标无法按客群拆分，只显示全部：{kpis}",
    "experiments.title": "实验结果",
    "experiments.none": "还没有实验：夜间批处理尚未把任何账户分入挑战组实验。",
    "experiments.arm": "组",
    "experiments.accounts": "户数",
    "experiments.difference": "与冠军组之差（95% 置信区间）",
    "experiments.p": "p（Holm 校正）",
    "experiments.primary": "主要指标",
    "experiments.started": "首次分组",
    "experiments.horizon": "观察期届满",
    "experiments.look": "结果读取自快照",
    "experiments.interim": "观察期未满：中期数字，仅供参考",
    "experiments.final": "观察期已满：结论固定",
    "experiments.recommendation": "结论",
    "experiments.after_window": "该实验在报告期之后（{date}）才开始。",
    "experiments.after_look": "{n} 个账户在 {date} 当天或之后才分组，观察窗口尚未开始，不计入。",
    "experiments.design": "固定观察期 {days} 天，显著性水平 α = {alpha}，最小关注提升 {effect}。",
    "hardship.title": "缓催（困难延期）结果",
    "hardship.period": "期间",
    "hardship.applications": "本报告期在 huancui 提交的缓催申请（按当前状态）",
    "hardship.no_applications": "本报告期内没有在 huancui 提交的缓催申请；银行自行设置的困难挂起（holds）仍计入使用率。",
    "hardship.status": "状态",
    "hardship.count": "件数",
    "hardship.caption": "缓催来自两处：huancui 中获批的申请与银行交付的 hardship 挂起。结束后结果只在 {days} 天观察期落在数据内时计入。",
    "status.applied": "已申请",
    "status.approved": "已批准",
    "status.active": "进行中",
    "status.ended": "已结束",
    "status.rejected": "已拒绝",
    "status.withdrawn": "已撤回",
    "definitions.title": "指标定义",
    "definitions.source": "数据来源",
    "definitions.note": "说明",
    "sources.title": "数据来源与说明",
    "sources.computed": "本报告中的每个数字都由 huancui {version} 于 {generated} 从下列来源计算得出，没有任何手工录入的数字。同样的数字可用 `huancui kpi --from {start} --to {end} --json` 复核。",
    "sources.snapshots": "快照",
    "sources.snapshot_role_history": "历史快照（还款、联系、反馈与逾期记录）",
    "sources.snapshot_role_exact": "当日精确逾期金额",
    "sources.as_of": "日期",
    "sources.accounts": "账户数",
    "sources.imported": "导入时间",
    "sources.role": "用途",
    "sources.runs": "夜间批处理（当前有效的运行）",
    "sources.run_id": "运行编号",
    "sources.no_runs": "报告期内没有夜间批处理运行。",
    "sources.costs": "渠道单次成本",
    "sources.notes": "计算说明（英文原文）",
    "sources.not_available": "暂不可得（英文原文）",
    "sources.engine": "策略",
}

_EN: dict[str, str] = {
    "title": "Collections report",
    "subtitle": "huancui (缓催) collections report",
    "window": "Window",
    "data_through": "Data through",
    "generated": "Generated",
    "strategy": "Active strategy",
    "none": "none",
    "all": "All",
    "nav.kpis": "KPIs",
    "nav.trends": "Trends",
    "nav.roll": "Roll rates",
    "nav.funnel": "Contact funnel",
    "nav.segments": "Segments",
    "nav.experiments": "Experiments",
    "nav.hardship": "缓催 hardship",
    "nav.definitions": "Definitions",
    "nav.sources": "Sources",
    "kpis.title": "Headline KPIs (whole window)",
    "kpis.hint": "Hover over a KPI for its formula; the superscript number points to its definition at the end.",
    "empty_note": "0 ÷ 0: nothing to measure in this window",
    "empty_cells": "'—': the denominator is 0, nothing to measure.",
    "card_note.recovery_rate": "can exceed 100% over a long window: payments also settle dues falling due within it; read it with opening arrears recovered and the monthly trend",
    "card_note.contact_cost": "unit costs per channel are placeholders until the bank supplies its own",
    "list_separator": "; ",
    "colon": ": ",
    "currency": "CNY",
    "kpi.recovery_rate": "Recovery rate",
    "kpi.arrears_recovered_rate": "Opening arrears recovered",
    "kpi.cure_rate": "Cure rate",
    "kpi.collected": "Collected",
    "kpi.contact_rate": "Contact rate",
    "kpi.right_party_contact_rate": "Right-party contact rate",
    "kpi.promise_rate": "Promise rate",
    "kpi.promise_kept_rate": "Promise-kept rate (PTP arrangements)",
    "kpi.promise_kept_rate_7d": f"Promise-kept rate ({PROMISE_DAYS}-day proxy)",
    "kpi.arrangement_kept_rate": "Arrangement-kept rate",
    "kpi.csat": "CSAT",
    "kpi.mean_score": "Mean satisfaction score",
    "kpi.complaints_per_1000_accounts": "Complaints per 1,000 accounts contacted",
    "kpi.complaints_per_10000_contacts": "Complaints per 10,000 contacts",
    "kpi.contact_cost": "Cost of contacts",
    "kpi.cost_to_collect": "Cost to collect",
    "kpi.net_recovery": "Net recovery",
    "kpi.hardship_uptake": "缓催 uptake",
    "kpi.post_hold_cure_rate": f"Cured ≤ {FOLLOW_UP_DAYS} days after a pause",
    "kpi.post_hold_arrangement_rate": f"Arrangement ≤ {FOLLOW_UP_DAYS} days after a pause",
    "kpi.post_hold_roll_rate": f"Rolled ≤ {FOLLOW_UP_DAYS} days after a pause",
    # formula.<key>: the KPI's own definition from monitoring/kpis.py, added below.
    "trends.title": "Trends",
    "trends.delinquency": "Delinquency rate by bucket (share of accounts not charged off)",
    "trends.delinquency_axis": "delinquency rate %",
    "trends.delinquency_all": "all delinquent",
    "trends.baseline": "baseline",
    "trends.baseline_note": "Baseline {date}: the day before {strategy} took effect. Latest all-bucket rate {rate}, {change} against the baseline.",
    "trends.recovery": "Recovery and cure per month",
    "trends.recovery_axis": "%",
    "roll.title": "Roll rates (month end t → month end t+1, share of the row's accounts)",
    "roll.from": "bucket at t",
    "roll.to": "state at t+1",
    "roll.caption": "Pooled over {pairs} month(s) ({first} … {last}); the diagonal stayed, the first row is the entry rate.",
    "roll.none": "The window holds fewer than two month ends: no roll rates.",
    "charged_off": "charged off",
    "funnel.title": "Contact funnel: calls and visits → connected → right party → promise → kept",
    "funnel.attempts": "call and visit attempts",
    "funnel.connected": "connected",
    "funnel.right_party": "right party",
    "funnel.promise": "promise to pay",
    "funnel.kept": f"kept within {PROMISE_DAYS} days",
    "funnel.caption": f"Kept is the history proxy: any payment within {PROMISE_DAYS} days of the promise; promises of the last {PROMISE_DAYS} days are not judged yet.",
    "funnel.none": "No call or visit attempts in the window.",
    "segments.title": "KPIs by segment (whole window)",
    "segments.segment": "Segment",
    "segments.unplanned": "unplanned",
    "segments.caption": "The segment is the one the newest nightly run on or before the day gave the account; accounts no run planned (before the first run, current or charged off) are 'unplanned'.",
    "segments.not_sliced": "Not sliceable by segment, shown for all: {kpis}",
    "experiments.title": "Experiments",
    "experiments.none": "No experiments yet: no nightly run has assigned accounts to a challenger.",
    "experiments.arm": "Arm",
    "experiments.accounts": "Accounts",
    "experiments.difference": "Difference to champion (95% CI)",
    "experiments.p": "p (Holm)",
    "experiments.primary": "Primary metric",
    "experiments.started": "First assignment",
    "experiments.horizon": "Horizon",
    "experiments.look": "Outcomes from the snapshot of",
    "experiments.interim": "Horizon not reached: interim numbers, not a basis for a decision",
    "experiments.final": "Horizon reached: the verdict is fixed",
    "experiments.recommendation": "Recommendation",
    "experiments.after_window": "This experiment started after the window ({date}).",
    "experiments.after_look": "{n} accounts first assigned on or after {date} have no days of outcome before the look yet and are not counted.",
    "experiments.design": "Fixed horizon of {days} days, α = {alpha}, smallest gain of interest {effect}.",
    "hardship.title": "缓催 hardship pause outcomes",
    "hardship.period": "Period",
    "hardship.applications": "缓催 applications made in huancui in the window (by current status)",
    "hardship.no_applications": "No 缓催 applications were made in huancui in the window; the bank's own hardship holds still count in the uptake.",
    "hardship.status": "Status",
    "hardship.count": "Applications",
    "hardship.caption": "Pauses come from two places: applications approved in huancui and the bank's delivered hardship holds. Outcomes after a pause count once its {days} days lie within the data.",
    "status.applied": "applied",
    "status.approved": "approved",
    "status.active": "active",
    "status.ended": "ended",
    "status.rejected": "rejected",
    "status.withdrawn": "withdrawn",
    "definitions.title": "Definitions",
    "definitions.source": "Source",
    "definitions.note": "Note",
    "sources.title": "Sources and notes",
    "sources.computed": "Every figure in this report was computed by huancui {version} at {generated} from the sources below; none was typed in. The same numbers: `huancui kpi --from {start} --to {end} --json`.",
    "sources.snapshots": "Snapshots",
    "sources.snapshot_role_history": "history (payments, contacts, feedback, delinquency)",
    "sources.snapshot_role_exact": "exact arrears of its day",
    "sources.as_of": "As of",
    "sources.accounts": "Accounts",
    "sources.imported": "Imported",
    "sources.role": "Used for",
    "sources.runs": "Nightly runs (current)",
    "sources.run_id": "Run id",
    "sources.no_runs": "No nightly run in the window.",
    "sources.costs": "Unit cost per contact attempt",
    "sources.notes": "Notes from the computation",
    "sources.not_available": "Not available yet",
    "sources.engine": "Strategy",
}

LABELS: dict[Language, dict[str, str]] = {
    "zh-CN": _ZH,
    "en": {**_EN, **{f"formula.{spec.key}": spec.formula for spec in KPIS}},
}


# --- numbers for people ---------------------------------------------------------------------


def _percent(value: Decimal | None) -> float | None:
    """A rate as a percentage number for a chart axis."""
    return None if value is None else float(value * 100)


def _points(value: Decimal | None) -> str:
    return EMPTY if value is None else f"{value * 100:+.2f} pp"


# --- the case plane ---------------------------------------------------------------------------


def _beijing_day(stamp: datetime) -> date:
    aware = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)  # SQLite gives naive UTC
    return aware.astimezone(ZoneInfo(BANK_TIMEZONE)).date()


def _applications(session: Session, start: date, end: date) -> dict[str, int]:
    """缓催 applications made in huancui in [start, end] (Beijing days), by current status."""
    # A day either side in UTC covers every Beijing day of the window; the exact cut is below.
    low = datetime.combine(start - timedelta(days=1), time.min, tzinfo=UTC)
    high = datetime.combine(end + timedelta(days=2), time.min, tzinfo=UTC)
    rows = session.execute(
        select(HardshipRow.status, HardshipRow.applied_at).where(
            HardshipRow.applied_at >= low, HardshipRow.applied_at < high
        )
    ).all()
    counts: dict[str, int] = {}
    for status, applied_at in rows:
        if start <= _beijing_day(applied_at) <= end:
            counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


def _runs(session: Session, start: date, end: date) -> list[dict[str, Any]]:
    """The current nightly runs that give the window's segments: those in it and the last one
    before it (as monitoring/data.py reads them)."""
    rows = session.scalars(
        select(PlanRunRow)
        .where(PlanRunRow.is_current, PlanRunRow.as_of <= end)
        .order_by(PlanRunRow.as_of)
    ).all()
    before = [r for r in rows if r.as_of < start]
    used = [r for r in rows if r.as_of >= (before[-1].as_of if before else start)]
    return [
        {
            "run_id": r.run_id,
            "as_of": r.as_of.isoformat(),
            "strategy": r.strategy_label,
            "policy": f"{r.policy_name} v{r.policy_version}",
            "engine": r.engine,
            "plan_sha256": r.plan_sha256[:12],
        }
        for r in used
    ]


def _snapshots(session: Session, report: KpiReport, labels: dict[str, str]) -> list[dict[str, Any]]:
    roles: dict[date, list[str]] = {
        report.history_snapshot: [labels["sources.snapshot_role_history"]]
    }
    for day in report.exact_snapshots:
        roles.setdefault(day, []).append(labels["sources.snapshot_role_exact"])
    rows = session.scalars(select(SnapshotRow).where(SnapshotRow.as_of.in_(list(roles)))).all()
    return [
        {
            "as_of": r.as_of.isoformat(),
            "accounts": f"{r.accounts:,}",
            "imported_at": r.imported_at.replace(microsecond=0).isoformat(sep=" "),
            "accounts_sha256": str(r.files.get("accounts", {}).get("sha256", ""))[:12],
            "role": labels["list_separator"].join(roles[r.as_of]),
        }
        for r in sorted(rows, key=lambda r: r.as_of)
    ]


def _strategy_words(session: Session, lang: Language) -> tuple[dict[str, str], dict[str, str]]:
    """The active strategy's segment labels (id → label) and challenger descriptions."""
    active = StrategyRepository(session).active()
    if active is None:
        return {}, {}
    strategy = parse_strategy(active.yaml_text, source=f"{active.name} v{active.version}").strategy
    if strategy is None:
        return {}, {}
    segments = {s.id: s.label_zh if lang == "zh-CN" else s.label_en for s in strategy.segments}
    experiments = {c.experiment: c.description for c in strategy.challengers if c.description}
    return segments, experiments


# --- figures ----------------------------------------------------------------------------------


def chart_layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "template": "none",
        "font": {"family": FONT, "size": 12, "color": "#222"},
        "height": 380,
        "margin": {"l": 64, "r": 24, "t": 56, "b": 56},
        "legend": {"orientation": "h", "y": -0.18},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
    }
    layout.update(extra)
    return layout


def figure_json(figure: go.Figure) -> dict[str, Any]:
    """The figure as plain JSON (what Plotly.newPlot takes), so pages can draw it too."""
    data: dict[str, Any] = json.loads(pio.to_json(figure, validate=False))
    return data


def _delinquency_figure(report: KpiReport, labels: dict[str, str]) -> dict[str, Any]:
    series = report.delinquency
    x = [d.isoformat() for d in series.dates]
    figure = go.Figure(
        layout=chart_layout(
            labels["trends.delinquency"],
            hovermode="x unified",
            yaxis={
                "title": {"text": labels["trends.delinquency_axis"]},
                "ticksuffix": "%",
                "rangemode": "tozero",
                "gridcolor": "#e6e6e6",
            },
            xaxis={"type": "date", "gridcolor": "#f0f0f0"},
        )
    )
    groups = [*series.bucket_groups, ALL_DELINQUENT]
    for i, bucket in enumerate(groups):
        points = [series.point(d, bucket) for d in series.dates]
        is_all = bucket == ALL_DELINQUENT
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[_percent(p.rate) if p else None for p in points],
                customdata=[[p.accounts, p.base] if p else [0, 0] for p in points],
                name=labels["trends.delinquency_all"] if is_all else bucket,
                mode="lines+markers",
                line={
                    "color": "#777" if is_all else BUCKET_COLOURS[i % len(BUCKET_COLOURS)],
                    "dash": "dot" if is_all else "solid",
                    "width": 2,
                },
                hovertemplate="%{y:.2f}% (%{customdata[0]:,} / %{customdata[1]:,})",
            )
        )
    baseline = series.baseline_date
    if baseline is not None and series.dates[0] <= baseline <= series.dates[-1]:
        day = baseline.isoformat()
        figure.add_shape(
            type="line",
            x0=day,
            x1=day,
            y0=0,
            y1=1,
            yref="paper",
            line={"color": "#999", "dash": "dash", "width": 1},
        )
        figure.add_annotation(
            x=day,
            y=1,
            yref="paper",
            text=labels["trends.baseline"],
            showarrow=False,
            yanchor="bottom",
            font={"size": 11},
        )
    return figure_json(figure)


def _parts(result: KpiResult, period: str = TOTAL, group: str = ALL) -> tuple[str, str]:
    """A KPI's numerator and denominator for people (money in yuan, counts with separators)."""
    row = result.row(period, group)
    if row is None:
        return "", ""
    return (
        display_amount(row.numerator, money=result.money[0]),
        display_amount(row.denominator, money=result.money[1]),
    )


def _detail(result: KpiResult, period: str = TOTAL) -> str:
    """What a value is made of: 'numerator / denominator', 'collected − cost', or nothing for
    an amount."""
    if result.unit == "money" or result.row(period) is None:
        return ""
    numerator, denominator = _parts(result, period)
    return f"{numerator} {'−' if result.unit == 'net' else '/'} {denominator}"


def _recovery_figure(report: KpiReport, labels: dict[str, str]) -> dict[str, Any]:
    periods = [p.label for p in report.periods if p.label != TOTAL]
    figure = go.Figure(
        layout=chart_layout(
            labels["trends.recovery"],
            hovermode="x unified",
            yaxis={
                "title": {"text": labels["trends.recovery_axis"]},
                "ticksuffix": "%",
                "rangemode": "tozero",
                "gridcolor": "#e6e6e6",
            },
            xaxis={"type": "category"},
        )
    )
    for i, key in enumerate(TREND_KPIS):
        result = report.kpis[key]
        values = [result.value(p) for p in periods]
        figure.add_trace(
            go.Scatter(
                x=periods,
                y=[_percent(v) if isinstance(v, Decimal) else None for v in values],
                customdata=[list(_parts(result, p)) for p in periods],
                name=labels[f"kpi.{key}"],
                mode="lines+markers",
                line={"color": LINE_COLOURS[i % len(LINE_COLOURS)], "width": 2},
                hovertemplate="%{y:.2f}% (%{customdata[0]} / %{customdata[1]})",
            )
        )
    return figure_json(figure)


def _share_text(share: Decimal | None) -> str:
    return EMPTY if share is None else f"{share * 100:.1f}%"


def _state_label(state: str, labels: dict[str, str]) -> str:
    return labels["charged_off"] if state == CHARGED_OFF else state


def _roll_figure(report: KpiReport, labels: dict[str, str]) -> dict[str, Any] | None:
    roll = report.roll
    if not roll.cells:
        return None
    counts = roll.counts()
    shares = roll.shares()
    rows = [f for f in roll.from_states if sum(counts[f].values()) > 0]
    columns = list(roll.to_states)
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    custom: list[list[list[int]]] = []
    for source in rows:
        total = sum(counts[source].values())
        z.append([_percent(shares[source][t]) if counts[source][t] else None for t in columns])
        text.append([_share_text(shares[source][t]) if counts[source][t] else "" for t in columns])
        custom.append([[counts[source][t], total] for t in columns])
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[_state_label(t, labels) for t in columns],
            y=rows,
            text=text,
            texttemplate="%{text}",
            customdata=custom,
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar={"ticksuffix": "%", "thickness": 12},
            hovertemplate="%{y} → %{x}: %{text} (%{customdata[0]:,} / %{customdata[1]:,})"
            "<extra></extra>",
            xgap=1,
            ygap=1,
        ),
        layout=chart_layout(
            labels["roll.title"],
            height=120 + 40 * len(rows),
            xaxis={"title": {"text": labels["roll.to"]}, "side": "top", "type": "category"},
            yaxis={
                "title": {"text": labels["roll.from"]},
                "autorange": "reversed",
                "type": "category",
            },
            margin={"l": 80, "r": 24, "t": 96, "b": 24},
        ),
    )
    return figure_json(figure)


def _funnel_counts(report: KpiReport) -> list[tuple[str, int]]:
    """The funnel's stages (label key, count), read off the contact KPIs' numerators."""

    def numerator(key: str) -> int:
        row = report.kpis[key].row()
        return 0 if row is None else row.numerator

    attempts = report.kpis["contact_rate"].row()
    return [
        ("funnel.attempts", 0 if attempts is None else attempts.denominator or 0),
        ("funnel.connected", numerator("contact_rate")),
        ("funnel.right_party", numerator("right_party_contact_rate")),
        ("funnel.promise", numerator("promise_rate")),
        ("funnel.kept", numerator("promise_kept_rate_7d")),
    ]


def _funnel_figure(report: KpiReport, labels: dict[str, str]) -> dict[str, Any] | None:
    stages = _funnel_counts(report)
    if stages[0][1] == 0:
        return None
    figure = go.Figure(
        go.Funnel(
            y=[labels[key] for key, _ in stages],
            x=[n for _, n in stages],
            textinfo="value+percent previous",
            marker={"color": ["#1f5fa8", "#3b7dc4", "#5aa0d8", "#2e9d6a", "#1d7a4f"]},
            connector={"line": {"color": "#ccc"}},
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        ),
        layout=chart_layout(
            labels["funnel.title"], height=340, margin={"l": 160, "r": 24, "t": 56, "b": 24}
        ),
    )
    return figure_json(figure)


# --- tables -------------------------------------------------------------------------------


def _footnote(key: str) -> int:
    return [spec.key for spec in KPIS].index(key) + 1


def _card_note(key: str, value: Decimal | int | None, labels: dict[str, str]) -> str:
    """Why a card shows '—', or what to keep in mind reading it (a recovery rate above 100 %,
    placeholder costs)."""
    if value is None:
        return labels["empty_note"]
    if key == "recovery_rate" and value <= 1:
        return ""
    return labels.get(f"card_note.{key}", "")


def _card(report: KpiReport, key: str, labels: dict[str, str]) -> dict[str, Any]:
    result = report.kpis[key]
    value = result.value()
    return {
        "key": key,
        "label": labels[f"kpi.{key}"],
        "value": display_value(result, value),
        "raw": result.value_text(value),
        "unit": labels["currency"] if result.unit in ("money", "net") else "",
        "detail": _detail(result),
        "formula": labels[f"formula.{key}"],
        "footnote": _footnote(key),
        "empty": value is None,
        "note": _card_note(key, value, labels),
    }


def _column(key: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "key": key,
        "label": labels[f"kpi.{key}"],
        "formula": labels[f"formula.{key}"],
        "footnote": _footnote(key),
    }


def _segment_table(
    report: KpiReport, labels: dict[str, str], segment_names: dict[str, str]
) -> dict[str, Any]:
    results = [report.kpis[k] for k in SEGMENT_KPIS]
    groups = list(dict.fromkeys(g for r in results for g in r.groups()))
    groups = [ALL, *(g for g in groups if g != ALL)]

    def name(group: str) -> str:
        if group == ALL:
            return labels["all"]
        if group == UNPLANNED:
            return labels["segments.unplanned"]
        label = segment_names.get(group)
        return f"{label} ({group})" if label and label != group else group

    unsliced = [labels[f"kpi.{r.key}"] for r in results if r.sliced_by is None]
    return {
        "columns": [_column(r.key, labels) for r in results],
        "rows": [
            {
                "group": g,
                "label": name(g),
                "cells": [display_value(r, r.value(TOTAL, g)) for r in results],
            }
            for g in groups
        ],
        "caption": f"{labels['segments.caption']} {labels['empty_cells']}",
        "not_sliced": labels["segments.not_sliced"].format(kpis=", ".join(unsliced))
        if unsliced
        else "",
    }


def _kpi_cell(result: KpiResult, period: str) -> dict[str, str]:
    return {"value": display_value(result, result.value(period)), "detail": _detail(result, period)}


def _hardship(
    report: KpiReport, labels: dict[str, str], applications: dict[str, int]
) -> dict[str, Any]:
    results = [report.kpis[k] for k in HARDSHIP_KPIS]
    periods = [p.label for p in report.periods]
    return {
        "cards": [_card(report, key, labels) for key in HARDSHIP_KPIS],
        "columns": [_column(r.key, labels) for r in results],
        "rows": [
            {
                "period": labels["all"] if p == TOTAL else p,
                "cells": [_kpi_cell(r, p) for r in results],
            }
            for p in periods
        ],
        "applications": [
            {"status": labels.get(f"status.{s}", s), "count": f"{n:,}"}
            for s, n in applications.items()
        ],
        "caption": labels["hardship.caption"].format(days=FOLLOW_UP_DAYS)
        + f" {labels['empty_cells']}",
    }


def _definitions(report: KpiReport, labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "key": spec.key,
            "footnote": i + 1,
            "label": labels[f"kpi.{spec.key}"],
            "formula": labels[f"formula.{spec.key}"],
            "source": spec.source,
            "notes": list(report.kpis[spec.key].notes),
        }
        for i, spec in enumerate(KPIS)
    ]


# --- experiments ------------------------------------------------------------------------------


def _experiment(
    data: ExperimentData, report: ExperimentReport, lang: Language, description: str
) -> dict[str, Any]:
    design, timing = report.design, report.timing
    labels = LABELS[lang]
    primary = design.primary
    arms = []
    for s in report.summaries:
        row: dict[str, Any] = {
            "arm": s.arm,
            "accounts": f"{s.accounts:,}",
            "value": format_value(primary, s.value(primary)),
            "difference": "",
            "p": "",
            "verdict": "",
        }
        if s.arm != CHAMPION:
            c = report.comparison(s.arm, primary)
            low = format_value(primary, c.ci_low, signed=True)
            high = format_value(primary, c.ci_high, signed=True)
            row["difference"] = (
                f"{format_value(primary, c.difference, signed=True)} ({low} … {high})"
            )
            row["p"] = format_p(c.p_adjusted)
            row["verdict"] = verdict_text(report, report.verdict(s.arm), lang)
        arms.append(row)
    return {
        "name": data.experiment,
        "description": description,
        "primary": METRIC_NAMES[lang][primary],
        "started_on": timing.started_on.isoformat(),
        "horizon_date": timing.horizon_date.isoformat(),
        "look_date": data.look_date.isoformat(),
        "interim": not timing.horizon_reached,
        "status": labels["experiments.final" if timing.horizon_reached else "experiments.interim"],
        "design": labels["experiments.design"].format(
            days=timing.horizon_days,
            alpha=design.alpha,
            effect=format_value(primary, design.min_effect, signed=True),
        ),
        "arms": arms,
        "recommendation": verdict_text(report, report.recommendation, lang),
        "peeking_rule": peeking_rule(timing, lang),
        "note": labels["experiments.after_look"].format(
            n=f"{data.assigned_after_look:,}", date=data.look_date
        )
        if data.assigned_after_look
        else "",
        "error": None,
    }


def _unjudged(name: str, description: str, why: str) -> dict[str, Any]:
    """An experiment the report cannot judge, and why (same keys as a judged one)."""
    return {
        "name": name,
        "description": description,
        "primary": "",
        "started_on": "",
        "horizon_date": "",
        "look_date": "",
        "interim": None,
        "status": "",
        "design": "",
        "arms": [],
        "recommendation": "",
        "peeking_rule": "",
        "note": "",
        "error": why,
    }


def _experiments(
    session: Session, settings: Settings, as_of: date, lang: Language, descriptions: dict[str, str]
) -> list[dict[str, Any]]:
    """Every experiment with assigned accounts, judged as of the report's last day."""
    found = []
    for name in experiment_names(session):
        try:
            data = load_experiment(
                session,
                settings,
                experiment=name,
                horizon_days=EXPERIMENT_HORIZON_DAYS,
                as_of=as_of,
            )
        except HuancuiError as exc:
            found.append(_unjudged(name, descriptions.get(name, ""), str(exc)))
            continue
        if data.timing.started_on > as_of:
            text = LABELS[lang]["experiments.after_window"].format(date=data.timing.started_on)
            found.append(_unjudged(name, descriptions.get(name, ""), text))
            continue
        report = analyse(
            data.arms, design=Design(), timing=data.timing, intake_per_day=data.intake_per_day
        )
        found.append(_experiment(data, report, lang, descriptions.get(name, "")))
    return found


# --- the report -------------------------------------------------------------------------------


def _notes(report: KpiReport) -> list[str]:
    """The computation's notes, less those about slicing by segment: the report slices only its
    segment table (and says so there)."""
    notes = [*report.notes, *report.roll.notes, *report.delinquency.notes]
    return [
        n for n in dict.fromkeys(notes) if not n.startswith(f"not sliceable by {SEGMENT_FIELD}")
    ]


def _baseline_note(report: KpiReport, labels: dict[str, str]) -> str:
    series = report.delinquency
    if series.baseline_date is None or not series.dates:
        return ""
    latest = series.point(series.dates[-1], ALL_DELINQUENT)
    return labels["trends.baseline_note"].format(
        date=series.baseline_date.isoformat(),
        strategy=series.baseline_strategy or "",
        rate=EMPTY if latest is None or latest.rate is None else f"{latest.rate * 100:.2f}%",
        change=_points(latest.vs_baseline if latest else None),
    )


def report_data(
    settings: Settings,
    start: date,
    end: date,
    *,
    lang: Language = DEFAULT_LANGUAGE,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """Everything the report shows, as JSON-able values: texts already in `lang`, numbers already
    formatted (with the raw values beside the cards'), figures as plotly JSON (None: nothing to
    draw). Raises InvalidInput for a bad window, NotFound when no snapshot covers it."""
    if lang not in LABELS:
        raise ValueError(f"lang {lang!r}: use one of {', '.join(LABELS)}")
    check_window(start, end, by=None, grain="month")
    labels = LABELS[lang]
    kpis = compute_kpis(settings, start, end, by=SEGMENT_FIELD, grain="month")
    stamp = (generated_at or datetime.now(UTC)).astimezone(ZoneInfo(BANK_TIMEZONE))
    with unit_of_work(settings.resolved_database_url) as session:
        segment_names, descriptions = _strategy_words(session, lang)
        applications = _applications(session, start, kpis.data_through)
        runs = _runs(session, start, kpis.data_through)
        snapshots = _snapshots(session, kpis, labels)
        experiments = _experiments(session, settings, kpis.data_through, lang, descriptions)
    roll = kpis.roll
    return {
        "lang": lang,
        "labels": labels,
        "window": {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "data_through": kpis.data_through.isoformat(),
        },
        "generated_at": stamp.replace(microsecond=0).isoformat(sep=" "),
        "version": __version__,
        "strategy": kpis.strategy.label if kpis.strategy else labels["none"],
        "cards": [_card(kpis, key, labels) for key in CARD_KPIS],
        "figures": {
            "delinquency": _delinquency_figure(kpis, labels),
            "recovery": _recovery_figure(kpis, labels),
            "roll": _roll_figure(kpis, labels),
            "funnel": _funnel_figure(kpis, labels),
        },
        "baseline_note": _baseline_note(kpis, labels),
        "roll_caption": labels["roll.caption"].format(
            pairs=len(roll.pairs), first=roll.month_ends[0], last=roll.month_ends[-1]
        )
        if roll.cells
        else labels["roll.none"],
        "funnel": [{"stage": labels[k], "count": n} for k, n in _funnel_counts(kpis)],
        "segments": _segment_table(kpis, labels, segment_names),
        "experiments": experiments,
        "hardship": _hardship(kpis, labels, applications),
        "definitions": _definitions(kpis, labels),
        "sources": {
            "computed": labels["sources.computed"].format(
                version=__version__,
                generated=stamp.replace(microsecond=0).isoformat(sep=" "),
                start=start.isoformat(),
                end=end.isoformat(),
            ),
            "snapshots": snapshots,
            "runs": runs,
            "costs_source": kpis.channel_costs_source,
            "costs": {c: display_yuan(f) for c, f in kpis.channel_costs_fen.items()},
        },
        "notes": _notes(kpis),
        "not_available": [{"what": what, "why": why} for what, why in NOT_AVAILABLE],
    }


def report_language(lang: str) -> Language:
    """`lang` as one of the languages reports are written in, or InvalidInput naming `lang`."""
    for known in LANGUAGES:
        if lang == known:
            return known
    raise InvalidInput(f"lang {lang!r}: use one of zh-CN, en")


def render_offline(
    package: str, template: str, view: dict[str, Any], *, figure_prefix: str = ""
) -> str:
    """A self-contained HTML report from `package`'s templates/`template`: the view's "figures"
    (plotly JSON) drawn by one inline plotly.js, nothing fetched. Shared by the collections,
    simulation and model reports."""
    environment = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    figures = {
        name: figure_html(f"{figure_prefix}{name}", f) for name, f in view["figures"].items()
    }
    return environment.get_template(template).render(
        **view, figure_html=figures, plotly_js=Markup(get_plotlyjs())
    )


def figure_html(name: str, figure: dict[str, Any] | None) -> Markup | None:
    if figure is None:
        return None
    html = pio.to_html(
        figure,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"figure-{name}",
        config=PLOTLY_CONFIG,
        validate=False,
    )
    return Markup(html)  # plotly's own markup: a div and the script that draws it


def render_report(data: dict[str, Any]) -> str:
    """The HTML document of `report_data`'s dict: plotly.js once, inline; nothing fetched."""
    return render_offline("huancui.monitoring", "report.html.j2", data)


def build_report(
    settings: Settings, start: date, end: date, lang: Language = DEFAULT_LANGUAGE
) -> str:
    """The report of [start, end] as one self-contained HTML document."""
    return render_report(report_data(settings, start, end, lang=lang))
