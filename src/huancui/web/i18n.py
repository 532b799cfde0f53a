"""The web app's two languages: the messages of every web/messages/*.yaml file, and which
language a request is answered in (?lang=, then the session's choice, then a cookie, then
Accept-Language, then zh-CN)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
MESSAGES_DIR = Path(__file__).resolve().parent / "messages"
# The cookie that keeps the choice before sign-in (and for pages that have no session).
LANGUAGE_COOKIE = "huancui_lang"


class MessageFileError(ValueError):
    """A messages file that does not follow `key: {en: "...", zh-CN: "..."}`."""


class MissingMessage(LookupError):
    """A key (or a language of it) that no messages file defines: a bug, found by the tests."""


def _load_file(path: Path) -> dict[str, dict[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise MessageFileError(f"{path.name}: expected a mapping of keys to {{en, zh-CN}}")
    loaded: dict[str, dict[str, str]] = {}
    for key, texts in data.items():
        if not isinstance(texts, dict) or set(texts) != set(LANGUAGES):
            raise MessageFileError(
                f"{path.name}, key {key!r}: needs exactly the languages {', '.join(LANGUAGES)}"
            )
        if not all(isinstance(text, str) and text.strip() for text in texts.values()):
            raise MessageFileError(f"{path.name}, key {key!r}: every text must be non-empty")
        loaded[str(key)] = {str(lang): str(text) for lang, text in texts.items()}
    return loaded


@functools.cache
def messages() -> dict[str, dict[str, str]]:
    """Every key of every messages file → {language: text}. A key defined twice is an error."""
    merged: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    for path in sorted(MESSAGES_DIR.glob("*.yaml")):
        for key, texts in _load_file(path).items():
            if key in merged:
                raise MessageFileError(f"key {key!r} is defined in {origin[key]} and {path.name}")
            merged[key] = texts
            origin[key] = path.name
    return merged


def translate(key: str, language: str, **values: Any) -> str:
    """The text of `key` in `language`, with str.format `values` filled in."""
    texts = messages().get(key)
    if texts is None or language not in texts:
        raise MissingMessage(f"no message {key!r} in {language!r}: add it to web/messages/")
    text = texts[language]
    return text.format(**values) if values else text


def translate_or(key: str, language: str, fallback: str, **values: Any) -> str:
    """`key`'s text, or `fallback` when no file defines it: for codes that come from data
    (a policy's hardship reasons, hold types), which may include ones we have no label for."""
    if key in messages():
        return translate(key, language, **values)
    return fallback


def normalise(tag: str | None) -> str | None:
    """One of LANGUAGES for a language tag ('zh', 'zh-Hans-CN', 'en-GB', 'EN'), else None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    if primary == "zh":
        return "zh-CN"
    if primary == "en":
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The most preferred of our languages in an Accept-Language header (q-values honoured)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = normalise(tag)
        if language and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def choose(
    *,
    query: str | None,
    session_language: str | None,
    cookie: str | None,
    accept_language: str | None,
) -> str:
    """The language of a request: an explicit ?lang= wins, then the session's, the cookie's,
    the browser's preference, and zh-CN."""
    for candidate in (query, session_language, cookie):
        language = normalise(candidate)
        if language:
            return language
    return from_accept_language(accept_language) or DEFAULT_LANGUAGE
