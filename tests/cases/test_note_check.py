"""The note check (cases/note_check.py): abusive, threatening or unlawful wording in Chinese and
English is found and named by category; everyday notes pass."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huancui.cases.note_check import check_note, listed_phrases, refusal


@pytest.mark.parametrize(
    ("note", "category", "matched"),
    [
        ("Told him he is an idiot for not paying", "insult", "idiot"),
        ("客户是个老赖，一直拖", "insult", "老赖"),
        ("Said we would KILL YOU if he does not pay", "violence", "kill you"),
        ("再不还就打死你", "violence", "打死你"),
        ("Warned that we will tell your employer tomorrow", "exposure", "tell your employer"),
        ("我们会通知你单位和家人", "exposure", "通知你单位"),
        ("we will contact your colleagues", "exposure", "contact your colleagues"),
        ("I said: this is the police, pay now", "impersonation", "this is the police"),
        ("我是法院的，今天必须还", "impersonation", "我是法院的"),
        ("Told her she will be arrested", "arrest", "will be arrested"),
        ("不还钱就让你坐牢", "arrest", "坐牢"),
        # Spaces between Chinese characters or full-width letters do not hide anything.
        ("打 死 你", "violence", "打死你"),
        ("ｉｄｉｏｔ", "insult", "idiot"),
    ],
)
def test_abusive_threatening_or_unlawful_wording_is_found(
    note: str, category: str, matched: str
) -> None:
    findings = check_note(note)
    assert (category, matched) in [(f.category, f.matched) for f in findings]


@pytest.mark.parametrize(
    "note",
    [
        "customer will pay on Friday",
        "客户说周五还款",
        "Customer lost her job in October; offered a 6-month instalment plan, she will think.",
        "客户称已通过手机银行还款，需核实到账情况",
        "Customer's skill set: works as a nurse; asked us to call after 18:00",
        "Customer thought we were a scam and will call the hotline to check",
        "客户表示会咨询律师后再联系我们",
        "Left a message with the customer's voicemail",
    ],
)
def test_everyday_notes_pass(note: str) -> None:
    assert check_note(note) == []


def test_the_refusal_names_each_category_and_its_words_in_both_languages() -> None:
    message = str(refusal(check_note("我是警察，再不还就让你坐牢, idiot")))
    assert "impersonation" in message and "'我是警察'" in message
    assert "arrest" in message and "'坐牢'" in message
    assert "insult" in message and "'idiot'" in message
    assert "请修改" in message and "冒充公检法或律师" in message


PHRASES = listed_phrases()
# Everyday text with no letters glued to an inserted phrase: words are separated by spaces.
_WORDS = st.lists(
    st.sampled_from(
        ["customer", "will", "pay", "on", "Friday", "客户", "说", "周五", "还款", "。"]
    ),
    max_size=8,
)


@given(before=_WORDS, after=_WORDS, phrase=st.sampled_from(PHRASES))
def test_any_note_with_a_listed_phrase_inserted_is_caught(
    before: list[str], after: list[str], phrase: tuple[str, str]
) -> None:
    category, text = phrase
    note = " ".join([*before, text, *after])
    assert category in {f.category for f in check_note(note)}


def test_every_category_has_phrases_in_chinese_and_english() -> None:
    by_category: dict[str, set[bool]] = {}
    for category, phrase in PHRASES:
        by_category.setdefault(category, set()).add(phrase.isascii())
    assert set(by_category) == {"insult", "violence", "exposure", "impersonation", "arrest"}
    assert all(kinds == {True, False} for kinds in by_category.values())
