"""What each guard rule id means, in English and Chinese, for explanations and reports."""

from __future__ import annotations

from huancui.contact.policy import (
    CADENCE_RULE,
    CONSENT_RULE,
    HARD_HOLDS,
    HOLIDAY_DEFERRED_RULE,
    HOURS_CLOSED_RULE,
    HOURS_NARROWED_RULE,
    OPT_OUT_RULE,
    VULNERABLE_RULE,
    CompliancePack,
)

Language = str  # "en" or "zh-CN"

_TEXT: dict[str, tuple[str, str]] = {
    "hold.deceased": (
        "The customer is recorded as deceased: no collection contact.",
        "客户已身故：停止一切催收联系。",
    ),
    "hold.bankruptcy": (
        "Bankruptcy proceedings: no collection contact.",
        "客户处于破产程序：停止一切催收联系。",
    ),
    "hold.legal": (
        "The account is in legal proceedings: contact goes through them only.",
        "账户已进入法律程序：不再进行催收联系。",
    ),
    "hold.dispute": (
        "The customer disputes the debt: no collection until it is resolved.",
        "客户对债务有异议：异议解决前暂停催收。",
    ),
    "hold.hardship": (
        "Hardship pause (缓催) in force: collection pauses until the pause ends, then resumes by itself.",
        "缓催（困难暂停）生效中：暂停催收，到期后自动恢复。",
    ),
    "hold.do_not_contact": (
        "Do-not-contact request: no contact about any of the customer's accounts.",
        "客户要求勿扰：其所有账户均不得联系。",
    ),
    "hold.arrangement": (
        "On an arrangement in good standing (promise or plan being kept): no dunning.",
        "客户正在履行还款承诺或还款计划：不催收。",
    ),
    "hold.channel_opt_out": ("The customer opted out of this channel.", "客户已退订该渠道。"),
    "consent.missing": ("No recorded consent for this channel.", "该渠道未获客户授权同意。"),
    "vulnerable.specialist_queue": (
        "Vulnerable customer: automated contact replaced by one call per customer from the specialist care queue.",
        "弱势客户：以专门关怀团队对客户的一次人工联系代替自动催收。",
    ),
    "holiday.deferred": (
        "Public holiday: moved to the next day that is not one.",
        "法定节假日：顺延至节后第一天。",
    ),
    "hours.narrowed": (
        "The bank's hours were cut to the lawful contact hours in the customer's local time.",
        "按客户当地时间，将银行作业时段收窄至合规联系时段。",
    ),
    "hours.no_lawful_window": (
        "No lawful contact hours left in the customer's local time on that day.",
        "按客户当地时间，当日没有合规的联系时段。",
    ),
    "strategy.cadence": (
        "Contacted on this channel within the treatment's cadence: not again yet.",
        "在策略规定的联系间隔内已通过该渠道联系过：暂不重复。",
    ),
    "strategy.no_segment": (
        "No segment of the strategy matched: no treatment (the strategy needs a catch-all).",
        "未匹配任何客户分类：无处置方案（策略缺少兜底分类）。",
    ),
    "strategy.early_warning_holdout": (
        "Early-warning holdout: drawn by the stable hash to get no contact, the randomised"
        " control that measures the effect of the early-warning treatment.",
        "预警对照组：按稳定哈希抽中，不作联系，作为衡量预警关怀效果的随机对照。",
    ),
}


def describe(rule: str, pack: CompliancePack, language: Language = "en") -> str:
    """The rule's meaning in `language`; pack rules (caps, cool-downs) from the pack's text."""
    chinese = language.lower().startswith("zh")
    for cap in pack.frequency_caps:
        if cap.id == rule:
            return cap.text_zh if chinese else cap.text_en
    for cooldown in pack.cooldowns:
        if cooldown.id == rule:
            return cooldown.text_zh if chinese else cooldown.text_en
    if rule in _TEXT:
        en, zh = _TEXT[rule]
        return zh if chinese else en
    return rule


def known_rules(pack: CompliancePack) -> list[str]:
    """Every rule id the guard can record under this pack, in the guard's order."""
    return [
        VULNERABLE_RULE,
        *(rule for _, rule in HARD_HOLDS),
        OPT_OUT_RULE,
        CONSENT_RULE,
        HOLIDAY_DEFERRED_RULE,
        HOURS_NARROWED_RULE,
        HOURS_CLOSED_RULE,
        CADENCE_RULE,
        *(c.id for c in pack.frequency_caps),
        *(c.id for c in pack.cooldowns),
    ]
