"""The check of a collector's note: abusive, threatening or unlawful wording (insults, threats of
violence or arrest, threats to tell family or employer, pretending to be police, court or lawyer)
in zh-CN and en, from the word and pattern list note_patterns.yaml."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from huancui.kit.errors import InvalidInput

PATTERNS_FILE = Path(__file__).parent / "note_patterns.yaml"
_LATIN = re.compile(r"[a-z]")


@dataclass(frozen=True)
class NoteFinding:
    """One refused piece of wording: its category (e.g. 'violence') and the text that matched."""

    category: str
    matched: str
    label_en: str
    label_zh: str


class _Category(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    labels: dict[str, str]
    phrases: list[str] = []
    patterns: list[str] = []


class _PatternsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    categories: dict[str, _Category]


@dataclass(frozen=True)
class _Rule:
    category: str
    shown: str  # what a finding names: the listed phrase, or None for a pattern (its match)
    regex: re.Pattern[str]
    spaceless: bool  # matched against the note with its spaces removed (Chinese phrases)


def normalise(text: str) -> str:
    """NFKC (full-width letters become ASCII), lower case, runs of white space as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _phrase_rule(category: str, phrase: str) -> _Rule:
    wanted = normalise(phrase)
    if _LATIN.search(wanted):
        # Whole words: "kill" must not fire inside "skill".
        body = r"\s+".join(re.escape(w) for w in wanted.split())
        return _Rule(category, phrase, re.compile(rf"(?<![a-z]){body}(?![a-z])"), False)
    return _Rule(category, phrase, re.compile(re.escape(wanted.replace(" ", ""))), True)


@cache
def _rules(path: Path = PATTERNS_FILE) -> tuple[tuple[_Rule, ...], dict[str, dict[str, str]]]:
    try:
        loaded = _PatternsFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise InvalidInput(f"{path}: not a valid note pattern file ({exc})") from None
    rules: list[_Rule] = []
    for category, spec in loaded.categories.items():
        rules += [_phrase_rule(category, p) for p in spec.phrases]
        for pattern in spec.patterns:
            try:
                rules.append(_Rule(category, "", re.compile(pattern), False))
            except re.error as exc:
                raise InvalidInput(f"{path}: {category}: bad pattern {pattern!r} ({exc})") from None
    labels = {name: dict(spec.labels) for name, spec in loaded.categories.items()}
    return tuple(rules), labels


def listed_phrases() -> list[tuple[str, str]]:
    """(category, phrase) of every listed phrase (patterns not included)."""
    rules, _ = _rules()
    return [(r.category, r.shown) for r in rules if r.shown]


def check_note(text: str) -> list[NoteFinding]:
    """The refused wording in `text`, in list order, each (category, text) once; empty: fine."""
    rules, labels = _rules()
    plain = normalise(text)
    spaceless = plain.replace(" ", "")
    found: dict[tuple[str, str], NoteFinding] = {}
    for rule in rules:
        match = rule.regex.search(spaceless if rule.spaceless else plain)
        if match is None:
            continue
        shown = rule.shown or match.group(0)
        label = labels[rule.category]
        found.setdefault(
            (rule.category, shown),
            NoteFinding(rule.category, shown, label.get("en", ""), label.get("zh-CN", "")),
        )
    return list(found.values())


def refusal(findings: list[NoteFinding]) -> InvalidInput:
    """The error a refused note gets: every category with its words, so the collector can
    rephrase (in English and Chinese)."""
    by_category: dict[str, list[NoteFinding]] = {}
    for finding in findings:
        by_category.setdefault(finding.category, []).append(finding)
    parts_en = [
        f"{items[0].label_en} ({category}): " + ", ".join(repr(f.matched) for f in items)
        for category, items in by_category.items()
    ]
    parts_zh = [
        f"{items[0].label_zh}：" + "、".join(f"“{f.matched}”" for f in items)
        for items in by_category.values()
    ]
    return InvalidInput(
        "note: please rephrase; it contains "
        + "; ".join(parts_en)
        + ". 备注含有不当用语，请修改："
        + "；".join(parts_zh)
    )
