"""Both languages everywhere: every message has zh-CN and en, every key a template uses exists,
and a page is answered in the language the user chose (or their browser prefers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from huancui.web import i18n
from tests.web.conftest import COLLECTOR, WebClient

TEMPLATES = Path(i18n.__file__).resolve().parent / "templates"
PYTHON = Path(i18n.__file__).resolve().parent
# t("key" ...), t('key' ...) and t_or("key" ...) with a literal key, in templates and code.
_USED = re.compile(r"""\bt(?:_or)?\(\s*["']([a-zA-Z0-9_.\-]+)["']""")
_FLASH = re.compile(r"""\bflash\(\s*request,\s*["']([a-zA-Z0-9_.\-]+)["']""")


def _files() -> list[Path]:
    return sorted(i18n.MESSAGES_DIR.glob("*.yaml"))


def test_every_message_has_both_languages_and_its_files_prefix() -> None:
    assert _files(), "no messages files"
    for path in _files():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, texts in data.items():
            assert set(texts) == set(i18n.LANGUAGES), f"{path.name}: {key} lacks a language"
            assert all(str(t).strip() for t in texts.values()), f"{path.name}: {key} is empty"
            assert key.startswith(path.stem + "."), f"{path.name}: {key} lacks its prefix"
    assert len(i18n.messages()) >= 100


def test_placeholders_agree_between_languages() -> None:
    placeholder = re.compile(r"\{(\w+)\}")
    for key, texts in i18n.messages().items():
        found = {lang: set(placeholder.findall(text)) for lang, text in texts.items()}
        assert found["en"] == found["zh-CN"], f"{key}: placeholders differ {found}"


def test_every_key_a_template_or_page_uses_exists() -> None:
    """Templates of every area (E's and F's included) and the page modules."""
    known = i18n.messages()
    sources = [*TEMPLATES.rglob("*.html"), *PYTHON.glob("*.py")]
    missing = [
        f"{path.relative_to(PYTHON)}: {key}"
        for path in sources
        for pattern in (_USED, _FLASH)
        for key in pattern.findall(path.read_text(encoding="utf-8"))
        if key not in known and not key.endswith(".")  # t_or("prefix." ~ code, code)
    ]
    assert not missing, "keys used but not defined:\n" + "\n".join(missing)


def test_a_missing_key_is_an_error_not_a_blank() -> None:
    with pytest.raises(i18n.MissingMessage):
        i18n.translate("common.no_such_key", "en")
    with pytest.raises(i18n.MissingMessage):
        i18n.translate("common.sign_out", "fr")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-GB,en;q=0.9", "en"),
        ("zh-TW,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("fr-FR,en;q=0.5,zh;q=0.9", "zh-CN"),
        ("fr-FR", None),
        ("", None),
    ],
)
def test_accept_language_picks_the_preferred_of_ours(header: str, expected: str | None) -> None:
    assert i18n.from_accept_language(header) == expected


def test_sign_in_page_is_chinese_by_default_and_follows_the_browser(web: WebClient) -> None:
    chinese = web.get("/login")
    assert '<html lang="zh-CN">' in chinese.text and "员工登录" in chinese.text
    english = web.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Staff sign-in" in english.text


def test_the_language_switch_is_remembered_before_and_after_sign_in(web: WebClient) -> None:
    switched = web.get("/login?lang=en")
    assert "Staff sign-in" in switched.text
    assert "Staff sign-in" in web.get("/login").text  # the cookie keeps the choice
    web.sign_in(COLLECTOR)
    queue = web.get("/work")
    assert "My queue" in queue.text and "Sign out" in queue.text
    chinese = web.get("/work?lang=zh-CN")
    assert "我的队列" in chinese.text and "退出登录" in chinese.text
    # The session remembers it even without the cookie (another tab, a cleared cookie).
    web.http.cookies.delete(i18n.LANGUAGE_COOKIE)
    assert "我的队列" in web.get("/work", headers={"Accept-Language": "en"}).text
