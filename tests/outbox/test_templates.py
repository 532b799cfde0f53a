"""Templates and call scripts: every id the shipped strategy and packs use exists in zh-CN and en
and renders on every channel and tone; missing pieces are errors that say exactly what is missing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from huancui.contact.policy import load_pack, shipped_packs
from huancui.contact.templates import (
    FORM_BY_CHANNEL,
    PLACEHOLDERS,
    TONES,
    TemplateContext,
    TemplateError,
    load_catalogue,
    shipped_catalogue,
)
from huancui.kit.settings import Settings
from huancui.strategy.loader import load_strategy
from tests.conftest import ROOT

LANGUAGES = ("zh-CN", "en")


def used_template_ids() -> set[str]:
    """Every template the shipped strategies and compliance packs can put on a message or item."""
    ids: set[str] = set()
    for path in sorted((ROOT / "strategies").glob("*.yaml")):
        loaded = load_strategy(path)
        assert loaded.strategy is not None, loaded.errors
        ids |= {t.template for t in loaded.strategy.treatments}
        ids |= {c.treatment.template for c in loaded.strategy.challengers if c.treatment.template}
    for name in shipped_packs():
        ids.add(load_pack(name).pack.vulnerable.template)
    return ids


def context(language: str, **overrides: object) -> TemplateContext:
    base = TemplateContext.for_customer(
        Settings(), language, name="王小明", amount_overdue_fen=115050, days_past_due=12
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def test_the_shipped_strategy_and_packs_use_the_known_ids() -> None:
    assert used_template_ids() == {
        "sms.reminder.friendly",
        "call.offer_solution",
        "visit.standard",
        "call.reminder",
        "legal.referral_notice",
        "call.specialist_care",
    }


def test_both_languages_hold_the_same_templates() -> None:
    catalogue = shipped_catalogue()
    assert catalogue.languages == ("en", "zh-CN")
    assert catalogue.ids("zh-CN") == catalogue.ids("en")
    assert used_template_ids() <= catalogue.ids("zh-CN")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template_id", sorted(used_template_ids()))
def test_every_used_template_renders_on_every_channel_and_tone(
    template_id: str, language: str
) -> None:
    catalogue = shipped_catalogue()
    for channel in FORM_BY_CHANNEL:
        for tone in TONES:
            rendered = catalogue.render(
                template_id,
                channel=channel,
                language=language,
                tone=tone,
                context=context(language),
            )
            assert rendered.body and "{" not in rendered.body and "}" not in rendered.body
            if channel == "sms":
                assert rendered.subject is None
            else:
                assert rendered.subject
            if language == "zh-CN":
                assert "您好" in rendered.body or "您" in rendered.body
            else:
                assert "您" not in rendered.body


def test_a_reminder_names_the_customer_the_amount_and_a_way_out() -> None:
    catalogue = shipped_catalogue()
    zh = catalogue.render(
        "sms.reminder.friendly",
        channel="sms",
        language="zh-CN",
        tone="gentle",
        context=context("zh-CN"),
    )
    assert zh.body.startswith("【缓催银行】王小明您好")
    assert "1,150.50 元" in zh.body and "12 天" in zh.body
    assert "https://bank.example/repay" in zh.body and "400-000-0000" in zh.body
    en = catalogue.render(
        "sms.reminder.friendly",
        channel="email",
        language="en",
        tone="firm",
        context=context("en", name="Li Na"),
    )
    assert en.subject == "Huancui Bank: please deal with your overdue payment"
    assert en.body.startswith("Hello Li Na,")
    assert "CNY 1,150.50" in en.body and "12 days overdue" in en.body
    assert "hardship pause" in en.body
    assert "If you dispute the debt" in en.body  # the footer


def test_tones_differ_where_they_matter() -> None:
    catalogue = shipped_catalogue()
    bodies = {
        tone: catalogue.render(
            "call.offer_solution",
            channel="sms",
            language="en",
            tone=tone,
            context=context("en"),
        ).body
        for tone in TONES
    }
    assert len(set(bodies.values())) == 3


@pytest.mark.parametrize("language", LANGUAGES)
def test_scripts_guide_the_collector_lawfully(language: str) -> None:
    catalogue = shipped_catalogue()
    script = catalogue.render(
        "visit.standard", channel="visit", language=language, tone="firm", context=context(language)
    ).body
    if language == "en":
        for part in ("[Identify]", "[Opening]", "[Offer a solution]", "[Closing]", "[Always]"):
            assert part in script
        assert "instalment plan" in script and "deferral" in script and "hardship pause" in script
        assert "never tell family" in script
        assert "Never threaten" in script
    else:
        for part in ("[核实身份]", "[开场]", "[提供方案]", "[结束]", "[必须遵守]"):
            assert part in script
        assert "分期" in script and "延期" in script and "缓催" in script
        assert "不得向家人" in script
        assert "不得威胁" in script


def test_specialist_care_never_asks_for_payment() -> None:
    catalogue = shipped_catalogue()
    for language in LANGUAGES:
        sms = catalogue.render(
            "call.specialist_care",
            channel="sms",
            language=language,
            tone="firm",  # one text for every tone: specialist care is always gentle
            context=context(language),
        ).body
        assert "1,150.50" not in sms


def test_a_missing_template_names_the_id_and_language() -> None:
    with pytest.raises(TemplateError, match=r"no template 'sms\.nope' in language 'en'") as caught:
        shipped_catalogue().render(
            "sms.nope", channel="sms", language="en", tone="gentle", context=context("en")
        )
    assert (caught.value.template_id, caught.value.language) == ("sms.nope", "en")


def test_a_missing_language_names_it() -> None:
    with pytest.raises(TemplateError, match=r"no templates in language 'fr'"):
        shipped_catalogue().render(
            "call.reminder", channel="sms", language="fr", tone="gentle", context=context("en")
        )


def test_a_missing_placeholder_value_names_template_language_and_placeholder() -> None:
    with pytest.raises(TemplateError) as caught:
        shipped_catalogue().render(
            "call.reminder",
            channel="sms",
            language="zh-CN",
            tone="neutral",
            context=context("zh-CN", amount_overdue_fen=None),
        )
    error = caught.value
    assert (error.template_id, error.language, error.placeholder) == (
        "call.reminder",
        "zh-CN",
        "amount",
    )
    assert "template 'call.reminder' (zh-CN, sms) needs placeholder {amount}" in str(error)
    assert "王小明" not in str(error)


def test_unknown_channel_or_tone_is_refused() -> None:
    catalogue = shipped_catalogue()
    with pytest.raises(TemplateError, match="unknown channel 'fax'"):
        catalogue.render(
            "call.reminder", channel="fax", language="en", tone="gentle", context=context("en")
        )
    with pytest.raises(TemplateError, match="unknown tone 'harsh'"):
        catalogue.render(
            "call.reminder", channel="sms", language="en", tone="harsh", context=context("en")
        )


def test_language_preferences_resolve_to_a_catalogue_language() -> None:
    catalogue = shipped_catalogue()
    assert catalogue.resolve_language("en") == "en"
    assert catalogue.resolve_language("en-US") == "en"
    assert catalogue.resolve_language("zh-TW") == "zh-CN"
    assert catalogue.resolve_language("fr") == "zh-CN"
    assert catalogue.resolve_language(None) == "zh-CN"


def _write_language(folder: Path, language: str, sms: str) -> None:
    folder.mkdir(exist_ok=True)
    text = (ROOT / "src/huancui/contact/templates/en.yaml").read_text(encoding="utf-8")
    text = text.replace("language: en\n", f"language: {language}\n", 1)
    old = "    sms: >-\n      {bank}: Hello {name}, we understand things may be difficult"
    assert old in text
    text = text.replace(old, f"    sms: >-\n      {sms} we understand things may be difficult")
    (folder / f"{language}.yaml").write_text(text, encoding="utf-8")


def test_a_file_with_an_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    _write_language(tmp_path, "zh-CN", "Hello {name}, {balance}")
    with pytest.raises(TemplateError) as caught:
        load_catalogue(tmp_path)
    message = str(caught.value)
    assert "templates.call.specialist_care.sms: unknown placeholder {balance}" in message
    assert all("{" + p + "}" in message for p in PLACEHOLDERS)


def test_a_file_missing_a_tone_is_refused(tmp_path: Path) -> None:
    _write_language(tmp_path, "zh-CN", "Hello {name},")
    path = tmp_path / "zh-CN.yaml"
    text = path.read_text(encoding="utf-8")
    old = '        firm: "{bank}: please deal with your overdue payment"\n'
    assert old in text
    path.write_text(text.replace(old, ""), encoding="utf-8")
    with pytest.raises(TemplateError, match=r"templates\.sms\.reminder\.friendly\.email\.subject"):
        load_catalogue(tmp_path)


def test_a_catalogue_needs_the_default_language(tmp_path: Path) -> None:
    _write_language(tmp_path, "en", "Hello {name},")
    with pytest.raises(TemplateError, match="no templates in the default language zh-CN"):
        load_catalogue(tmp_path)
