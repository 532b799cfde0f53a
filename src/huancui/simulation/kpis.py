"""The KPIs of a simulated run, named and defined as the monitoring KPIs (docs/kpis.md) where the
world has the same facts, plus the two the world alone can see (attrition, by latent value).

Every KPI is a ratio of two sums over the world's tallies (whole-window cohort: accounts open on
the first day); `summarise` gives each its mean across seeds with a 95 % t-interval, and the
paired (same seed) difference of every strategy from the first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from huancui.monitoring.data import ChannelCosts
from huancui.simulation.behaviour import CHANNELS
from huancui.simulation.world import CH, OPEN, World


@dataclass(frozen=True)
class KpiDef:
    key: str
    label_en: str
    label_zh: str
    unit: str  # rate | money | per_1000 | mean | points | count
    better: str  # higher | lower | none

    def as_json(self) -> dict[str, str]:
        return {
            "key": self.key,
            "label_en": self.label_en,
            "label_zh": self.label_zh,
            "unit": self.unit,
            "better": self.better,
        }


KPIS: tuple[KpiDef, ...] = (
    KpiDef("recovery_rate", "Recovery rate", "回收率", "rate", "higher"),
    KpiDef("collected", "Collected", "回收金额", "money", "higher"),
    KpiDef("cure_rate", "Cure rate", "治愈率", "rate", "higher"),
    KpiDef("roll_to_30_rate", "Rolled to 30+ days", "滚动至逾期30天以上", "rate", "lower"),
    KpiDef("charge_off_rate", "Charged off", "核销率", "rate", "lower"),
    KpiDef("delinquency_rate_change", "Delinquency rate change", "逾期率变化", "points", "lower"),
    KpiDef("contact_rate", "Contact rate", "接通率", "rate", "none"),
    KpiDef("right_party_contact_rate", "Right-party contact rate", "本人接触率", "rate", "none"),
    KpiDef("promise_rate", "Promise rate", "承诺还款率", "rate", "higher"),
    KpiDef("promise_kept_rate", "Promise-kept rate", "承诺兑现率", "rate", "higher"),
    KpiDef(
        "complaints_per_1000_accounts",
        "Complaints per 1,000 accounts contacted",
        "每千户投诉数",
        "per_1000",
        "lower",
    ),
    KpiDef("csat", "CSAT (share of 4-5 scores)", "客户满意度", "rate", "higher"),
    KpiDef("mean_score", "Mean satisfaction score", "平均评分", "mean", "higher"),
    KpiDef("attrition_rate", "Attrition of contacted customers", "客户流失率", "rate", "lower"),
    KpiDef(
        "good_customer_attrition_rate",
        "Attrition of good customers contacted",
        "优质客户流失率",
        "rate",
        "lower",
    ),
    KpiDef("hardship_uptake", "缓催 uptake", "缓催使用率", "rate", "none"),
    KpiDef("paused_cured_rate", "Paused accounts cured", "缓催后治愈率", "rate", "higher"),
    KpiDef("contact_cost", "Cost of contacts", "联系成本", "money", "lower"),
    KpiDef("cost_to_collect", "Cost to collect", "催收成本率", "rate", "lower"),
    KpiDef("net_recovery", "Net recovery", "净回收", "money", "higher"),
    KpiDef("calls_made", "Calls made", "外呼次数", "count", "none"),
    KpiDef("visits_made", "Visits made", "外访次数", "count", "none"),
    # Planned for the next day but cut by staff capacity (simulation/loop.Dispatch), summed over
    # the nights: an account deferred three nights running counts three times. 0 without one.
    KpiDef(
        "calls_deferred", "Calls deferred by staff capacity", "因人力顺延的外呼", "count", "none"
    ),
    KpiDef(
        "visits_deferred", "Visits deferred by staff capacity", "因人力顺延的外访", "count", "none"
    ),
)
KPI_KEYS = tuple(k.key for k in KPIS)


def _ratio(part: float, whole: float) -> float | None:
    return None if whole == 0 else float(part) / float(whole)


def run_kpis(
    world: World, costs: ChannelCosts, *, capacity: Mapping[str, int] | None = None
) -> dict[str, float | int | None]:
    """Every KPI of one run (one strategy on one seed); `capacity` is the run's planned and
    deferred calls and visits (RunOutcome.capacity, None: no staff capacity)."""
    t = world.tally
    cohort = t.start_open
    owed = int((t.opening_arrears[cohort] + t.arrears_added[cohort]).sum())
    collected = int(t.collected[cohort].sum())
    delinquent = t.ever_delinquent & cohort
    work = t.attempts[CH["call"]] + t.attempts[CH["visit"]]
    unit = costs.fen()
    cost = int(sum(int(t.attempts[CH[ch]].sum()) * unit.get(ch, 0) for ch in CHANNELS))
    open_end = world.status == OPEN
    dpd_end = world.days_past_due()
    start_rate = _ratio(int(t.start_delinquent.sum()), int(cohort.sum()))
    end_rate = _ratio(
        int(((dpd_end > 0) & open_end & cohort).sum()), int((open_end & cohort).sum())
    )
    contacted_customers = np.zeros(world.ability.shape[0], dtype=bool)
    contacted_customers[world.cust[t.contacted]] = True
    left = world.attrited & contacted_customers
    good = contacted_customers & world.good
    paused = t.pauses > 0
    return {
        "recovery_rate": _ratio(collected, owed),
        "collected": collected,
        "cure_rate": _ratio(int(((t.cured > 0) & delinquent).sum()), int(delinquent.sum())),
        "roll_to_30_rate": _ratio(
            int((t.reached_30 & cohort).sum()), int((t.early_delinquent & cohort).sum())
        ),
        "charge_off_rate": _ratio(
            int((t.charged_off_in_window & cohort).sum()), int(delinquent.sum())
        ),
        "delinquency_rate_change": None
        if start_rate is None or end_rate is None
        else 100.0 * (end_rate - start_rate),
        "contact_rate": _ratio(int(t.connected.sum()), int(work.sum())),
        "right_party_contact_rate": _ratio(int(t.right_party.sum()), int(work.sum())),
        "promise_rate": _ratio(int(t.promises.sum()), int(t.right_party.sum())),
        "promise_kept_rate": _ratio(
            int(t.promises_kept.sum()), int(t.promises_kept.sum() + t.promises_broken.sum())
        ),
        "complaints_per_1000_accounts": None
        if not t.contacted.any()
        else 1000.0 * int(t.complaints.sum()) / int(t.contacted.sum()),
        "csat": _ratio(int(t.survey_satisfied.sum()), int(t.surveys.sum())),
        "mean_score": _ratio(int(t.survey_score_sum.sum()), int(t.surveys.sum())),
        "attrition_rate": _ratio(int(left.sum()), int(contacted_customers.sum())),
        "good_customer_attrition_rate": _ratio(int((left & good).sum()), int(good.sum())),
        "hardship_uptake": _ratio(int((paused & delinquent).sum()), int(delinquent.sum())),
        "paused_cured_rate": _ratio(int((paused & (t.cured > 0)).sum()), int(paused.sum())),
        "contact_cost": cost,
        "cost_to_collect": _ratio(cost, collected),
        "net_recovery": collected - cost,
        "calls_made": int(t.attempts[CH["call"]].sum()),
        "visits_made": int(t.attempts[CH["visit"]].sum()),
        "calls_deferred": 0 if capacity is None else int(capacity["call_deferred"]),
        "visits_deferred": 0 if capacity is None else int(capacity["visit_deferred"]),
    }


def interval(values: Sequence[float | int | None]) -> dict[str, Any]:
    """Mean of the seeds' values and its 95 % t-interval (None with fewer than 2 values)."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return {"mean": None, "low": None, "high": None, "per_seed": list(values)}
    mean = float(np.mean(present))
    if len(present) < 2:
        return {"mean": mean, "low": None, "high": None, "per_seed": list(values)}
    half = float(
        stats.t.ppf(0.975, len(present) - 1) * np.std(present, ddof=1) / np.sqrt(len(present))
    )
    return {"mean": mean, "low": mean - half, "high": mean + half, "per_seed": list(values)}


def summarise(
    per_run: dict[str, dict[int, dict[str, float | int | None]]], order: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """results[strategy][kpi] and differences[strategy][kpi] (paired by seed, vs order[0])."""
    results = {
        name: {
            key: interval([per_run[name][seed][key] for seed in sorted(per_run[name])])
            for key in KPI_KEYS
        }
        for name in order
    }
    differences: dict[str, dict[str, Any]] = {}
    reference = order[0]
    for name in order[1:]:
        seeds = sorted(set(per_run[name]) & set(per_run[reference]))
        row: dict[str, Any] = {}
        for key in KPI_KEYS:
            pairs = [(per_run[name][s][key], per_run[reference][s][key]) for s in seeds]
            row[key] = interval(
                [None if a is None or b is None else float(a) - float(b) for a, b in pairs]
            )
        differences[name] = row
    return results, differences
