"""Message templates and collector scripts in every language the bank writes in (zh-CN, en).

The texts live in YAML, one file per language in contact/templates/ (`zh-CN.yaml`, `en.yaml`).
A template id (the strategy's `template`, e.g. `sms.reminder.friendly`) has three forms, because a
treatment applies one template to every channel it lists:

- `sms`: the text of an SMS;
- `email`: subject and body (the language's footer is appended); letters use this form too;
- `script`: guidance for a collector on a call, visit or legal referral — identify the customer,
  opening, offer a solution (instalment plan, deferral, hardship pause 缓催), lawful closing —
  followed by the rules every collector keeps.

A text is one string for every tone, or one per tone (gentle, neutral, firm). Placeholders are
`{name}`, `{amount}` (yuan, e.g. 1,150.50), `{days_past_due}`, `{bank}`, `{link}` and `{hotline}`;
an unknown one is refused when the files are read, and rendering without a value for one that a
text uses is a TemplateError naming the template id, the language and the placeholder. Errors
never contain the customer's data.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huancui.kit.errors import InvalidInput
from huancui.kit.money import display_yuan
from huancui.kit.settings import Settings

TEMPLATES_DIR = Path(__file__).parent / "templates"
DEFAULT_LANGUAGE = "zh-CN"
TONES = ("gentle", "neutral", "firm")
PLACEHOLDERS = ("name", "amount", "days_past_due", "bank", "link", "hotline")
Form = Literal["sms", "email", "script"]
FORM_BY_CHANNEL: dict[str, Form] = {
    "sms": "sms",
    "email": "email",
    "letter": "email",
    "call": "script",
    "visit": "script",
    "legal": "script",
}


class TemplateError(InvalidInput):
    """A template, language or placeholder value is missing, or a template file is wrong."""

    def __init__(
        self,
        message: str,
        *,
        template_id: str | None = None,
        language: str | None = None,
        placeholder: str | None = None,
    ) -> None:
        super().__init__(message)
        self.template_id = template_id
        self.language = language
        self.placeholder = placeholder


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToneTexts(_Frozen):
    """One text per tone; all three are required so no tone can fall through."""

    gentle: str
    neutral: str
    firm: str


Toned = str | ToneTexts


class EmailForm(_Frozen):
    subject: Toned
    body: Toned


class ScriptForm(_Frozen):
    identify: Toned | None = None  # None: the language's script_identify
    opening: Toned
    offer: Toned
    closing: Toned


class TemplateSpec(_Frozen):
    purpose: str
    sms: Toned
    email: EmailForm
    script: ScriptForm


class Labels(_Frozen):
    identify: str
    opening: str
    offer: str
    closing: str
    rules: str


class LanguageFile(_Frozen):
    language: str
    name: str
    labels: Labels
    email_footer: str
    script_identify: str
    script_rules: list[str] = Field(min_length=1)
    templates: dict[str, TemplateSpec]


@dataclass(frozen=True)
class TemplateContext:
    """The values a template may use; None where unknown (a text needing it then fails)."""

    name: str | None = field(default=None, repr=False)
    amount_overdue_fen: int | None = None
    days_past_due: int | None = None
    bank: str | None = None
    link: str | None = None
    hotline: str | None = None

    @classmethod
    def for_customer(
        cls,
        settings: Settings,
        language: str,
        *,
        name: str | None,
        amount_overdue_fen: int | None,
        days_past_due: int | None,
    ) -> TemplateContext:
        """The bank's name in the customer's language, hotline and link from the settings."""
        bank = settings.bank_name_zh if language.lower().startswith("zh") else settings.bank_name
        return cls(
            name=name,
            amount_overdue_fen=amount_overdue_fen,
            days_past_due=days_past_due,
            bank=bank,
            link=settings.self_service_url,
            hotline=settings.hotline,
        )

    def values(self) -> dict[str, str | None]:
        amount = self.amount_overdue_fen
        days = self.days_past_due
        return {
            "name": self.name or None,
            "amount": display_yuan(amount) if amount is not None else None,
            "days_past_due": str(days) if days is not None else None,
            "bank": self.bank or None,
            "link": self.link or None,
            "hotline": self.hotline or None,
        }


@dataclass(frozen=True)
class Rendered:
    """A rendered message or script: `subject` is the e-mail subject (the purpose, for a script;
    None for an SMS)."""

    template_id: str
    language: str
    channel: str
    tone: str
    subject: str | None = field(repr=False)
    body: str = field(repr=False)


def _pick(text: Toned, tone: str) -> str:
    return text if isinstance(text, str) else str(getattr(text, tone))


def _fields(text: str) -> list[str]:
    """The placeholder names in `text`, in order; ValueError when its braces are malformed."""
    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must not carry a format or conversion")
        names.append(name)
    return names


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, BaseModel):
        for key in type(value).model_fields:
            yield from _strings(getattr(value, key), f"{path}.{key}" if path else key)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def parse_language_file(text: str, *, source: str) -> LanguageFile:
    """A language file, checked: its structure, every tone present, only known placeholders."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise TemplateError(f"{source}:{line}: not valid YAML") from None
    try:
        loaded = LanguageFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{source}: {'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise TemplateError("\n".join(problems)) from None
    problems = []
    for where, value in _strings(loaded, ""):
        try:
            names = _fields(value)
        except ValueError as exc:
            problems.append(f"{source}: {where}: {exc}")
            continue
        for name in names:
            if name not in PLACEHOLDERS:
                problems.append(
                    f"{source}: {where}: unknown placeholder {{{name}}}"
                    f" (known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})"
                )
    if problems:
        raise TemplateError("\n".join(problems), language=loaded.language)
    return loaded


class TemplateCatalogue:
    """Every language's templates; renders one template for a channel, language and tone."""

    def __init__(self, files: Mapping[str, LanguageFile]) -> None:
        self._files = dict(files)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._files))

    def ids(self, language: str) -> frozenset[str]:
        return frozenset(self._language(language, None).templates)

    def resolve_language(self, preferred: str | None) -> str:
        """The catalogue's language for a customer's preference: exact, then by primary subtag
        ('en-US' → 'en'), else the default (zh-CN)."""
        if preferred and preferred in self._files:
            return preferred
        if preferred:
            primary = preferred.split("-")[0].lower()
            for language in self.languages:
                if language.split("-")[0].lower() == primary:
                    return language
        return DEFAULT_LANGUAGE

    def _language(self, language: str, template_id: str | None) -> LanguageFile:
        found = self._files.get(language)
        if found is None:
            raise TemplateError(
                f"no templates in language '{language}'"
                + (f" for template '{template_id}'" if template_id else "")
                + f" (languages: {', '.join(self.languages)})",
                template_id=template_id,
                language=language,
            )
        return found

    def spec(self, template_id: str, language: str) -> TemplateSpec:
        spec = self._language(language, template_id).templates.get(template_id)
        if spec is None:
            raise TemplateError(
                f"no template '{template_id}' in language '{language}'",
                template_id=template_id,
                language=language,
            )
        return spec

    def render(
        self,
        template_id: str,
        *,
        channel: str,
        language: str,
        tone: str,
        context: TemplateContext,
    ) -> Rendered:
        """The text for `channel` (sms, email/letter, or a script for call/visit/legal)."""
        form = FORM_BY_CHANNEL.get(channel)
        if form is None:
            raise TemplateError(
                f"template '{template_id}' ({language}): unknown channel '{channel}'"
                f" (known: {', '.join(FORM_BY_CHANNEL)})",
                template_id=template_id,
                language=language,
            )
        if tone not in TONES:
            raise TemplateError(
                f"template '{template_id}' ({language}): unknown tone '{tone}'"
                f" (known: {', '.join(TONES)})",
                template_id=template_id,
                language=language,
            )
        file = self._language(language, template_id)
        spec = self.spec(template_id, language)
        values = context.values()

        def fill(text: str) -> str:
            missing = [n for n in _fields(text) if values.get(n) is None]
            if missing:
                raise TemplateError(
                    f"template '{template_id}' ({language}, {channel}) needs placeholder"
                    f" {{{missing[0]}}}, which has no value"
                    + (
                        f" (also missing: {', '.join('{' + m + '}' for m in missing[1:])})"
                        if len(missing) > 1
                        else ""
                    ),
                    template_id=template_id,
                    language=language,
                    placeholder=missing[0],
                )
            return text.format_map(values)

        if form == "sms":
            subject, body = None, fill(_pick(spec.sms, tone))
        elif form == "email":
            subject = fill(_pick(spec.email.subject, tone))
            body = fill(_pick(spec.email.body, tone)) + "\n\n" + fill(file.email_footer)
        else:
            script = spec.script
            labels = file.labels
            identify = script.identify if script.identify is not None else file.script_identify
            sections = [
                (labels.identify, fill(_pick(identify, tone))),
                (labels.opening, fill(_pick(script.opening, tone))),
                (labels.offer, fill(_pick(script.offer, tone))),
                (labels.closing, fill(_pick(script.closing, tone))),
                (labels.rules, "\n".join(f"- {fill(rule)}" for rule in file.script_rules)),
            ]
            subject = spec.purpose
            body = "\n\n".join(f"[{label}]\n{text.strip()}" for label, text in sections)
        return Rendered(template_id, language, channel, tone, subject, body.strip())


def load_catalogue(directory: Path | None = None) -> TemplateCatalogue:
    """Every `*.yaml` language file in `directory` (default: the shipped templates)."""
    folder = directory or TEMPLATES_DIR
    files: dict[str, LanguageFile] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{path}: cannot read the template file ({exc})") from None
        loaded = parse_language_file(text, source=str(path))
        if loaded.language in files:
            raise TemplateError(
                f"{path}: language '{loaded.language}' is defined twice", language=loaded.language
            )
        files[loaded.language] = loaded
    if DEFAULT_LANGUAGE not in files:
        raise TemplateError(
            f"{folder}: no templates in the default language {DEFAULT_LANGUAGE}",
            language=DEFAULT_LANGUAGE,
        )
    return TemplateCatalogue(files)


@cache
def shipped_catalogue() -> TemplateCatalogue:
    """The shipped templates, read once per process."""
    return load_catalogue()
