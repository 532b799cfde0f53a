"""The strategy manager's pages: stored versions, one version's YAML, the editor (paste or upload)
with every validation error shown next to the line it names, the comparison with the active
version, and activation (strategy:activate; effective date and change note confirmed).

Activation goes through strategy.service.activate like the CLI and the API: a version's
effective date and change note are part of its YAML (versions never change once stored), so the
form repeats them and they must agree with the text, as the API requires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import Response
from starlette.datastructures import UploadFile as StarletteUpload

from huancui.access import permissions
from huancui.kit.calendar import zone
from huancui.kit.errors import NotFound
from huancui.strategy import service
from huancui.strategy.compare import SECTIONS, StrategyDiff, compare
from huancui.strategy.loader import Finding, StrategyFile, parse_strategy
from huancui.strategy.pipeline import planned_date_for
from huancui.strategy.repository import StrategyRepository
from huancui.strategy.service import StrategyRejected, VersionConflict, label
from huancui.strategy.spec import Strategy
from huancui.strategy.tables import StrategyVersionRow
from huancui.web.csrf import CsrfChecked
from huancui.web.deps import DbSession, Principal, flash, page_requires, redirect, render

router = APIRouter(include_in_schema=False)

EDIT = "strategy:edit"
ACTIVATE = "strategy:activate"
# Reading and editing need either permission; only activation needs strategy:activate.
Editor = Annotated[Principal, page_requires(EDIT, ACTIVATE)]
Activator = Annotated[Principal, page_requires(ACTIVATE)]

MAX_UPLOAD_BYTES = 256 * 1024  # the shipped strategy is ~10 KiB
MAX_TEXT_CHARS = MAX_UPLOAD_BYTES
UPLOAD_SUFFIXES = (".yaml", ".yml")
SOURCE = "editor"  # how findings name the text (never a path on this server)
MAX_NOTE_CHARS = 4000


@dataclass
class YamlLine:
    """One line of the submitted YAML with the findings that name it."""

    number: int
    text: str
    findings: list[Finding] = field(default_factory=list)


@dataclass
class EditorState:
    """Everything the editor page shows after a submission."""

    text: str
    parsed: StrategyFile | None = None
    problems: list[str] = field(default_factory=list)  # message keys of form-level problems
    problem_values: dict[str, Any] = field(default_factory=dict)
    field_errors: dict[str, str] = field(default_factory=dict)  # form field → message key
    conflict: str | None = None  # the service's refusal of a stored name + version
    diff: StrategyDiff | None = None
    effective_date: str = ""
    change_note: str = ""

    @property
    def lines(self) -> list[YamlLine]:
        lines = [YamlLine(i, t) for i, t in enumerate(self.text.splitlines(), start=1)]
        if not lines:
            lines = [YamlLine(1, "")]
        if self.parsed is not None:
            for finding in self.parsed.findings:
                lines[min(max(finding.line, 1), len(lines)) - 1].findings.append(finding)
        return lines

    @property
    def errors(self) -> list[Finding]:
        return self.parsed.errors if self.parsed is not None else []

    @property
    def warnings(self) -> list[Finding]:
        return self.parsed.warnings if self.parsed is not None else []

    @property
    def valid(self) -> bool:
        return self.parsed is not None and self.parsed.valid


def bank_today(strategy: Strategy | None) -> date:
    """Today in the bank's own time zone (the strategy's operating hours; Asia/Shanghai)."""
    tz = strategy.operating_hours.timezone if strategy is not None else "Asia/Shanghai"
    return datetime.now(zone(tz)).date()


def scheduled_from(strategy: Strategy) -> date | None:
    """The effective date, when it is after the next contact day: activating then schedules
    the version, and the one in force now stays until that day."""
    next_contact_day = planned_date_for(bank_today(strategy))
    return strategy.effective_date if strategy.effective_date > next_contact_day else None


def shown(value: Any) -> str:
    """A value of a diff as text: mappings and lists as compact JSON, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


DIFF_CONTEXT: dict[str, Any] = {"sections": SECTIONS, "shown": shown}


def _check(text: str) -> StrategyFile:
    return parse_strategy(text, source=SOURCE)


def _active_row(session: DbSession) -> StrategyVersionRow | None:
    return StrategyRepository(session).active()


def _stored_strategy(row: StrategyVersionRow) -> Strategy | None:
    return parse_strategy(row.yaml_text, source=label(row.name, row.version)).strategy


def _version_or_404(session: DbSession, version_id: int) -> StrategyVersionRow:
    row = session.get(StrategyVersionRow, version_id)
    if row is None:
        raise NotFound(f"strategy version {version_id} does not exist")
    return row


async def _uploaded_text(upload: StarletteUpload, state: EditorState) -> str | None:
    """The uploaded file's text, or None with the reason in `state.problems`. The file is only
    read into memory: nothing is written under a name the client chose."""
    name = (upload.filename or "").lower()
    if not name.endswith(UPLOAD_SUFFIXES):
        state.problems.append("strategy.upload.not_yaml")
        return None
    content = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        state.problems.append("strategy.upload.too_large")
        state.problem_values["limit_kib"] = MAX_UPLOAD_BYTES // 1024
        return None
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        state.problems.append("strategy.upload.not_utf8")
        return None


def _editor(
    request: Request, user: Principal, session: DbSession, state: EditorState, **extra: Any
) -> Response:
    active = _active_row(session)
    strategy = state.parsed.strategy if state.parsed is not None else None
    return render(
        request,
        "strategy/edit.html",
        {
            "state": state,
            "active": active,
            "active_label": label(active.name, active.version) if active else None,
            "can_activate": permissions.allowed(user.role, ACTIVATE),
            "scheduled_from": scheduled_from(strategy) if strategy else None,
            "max_upload_kib": MAX_UPLOAD_BYTES // 1024,
            **DIFF_CONTEXT,
            **extra,
        },
    )


@router.get("/strategies")
def versions_page(request: Request, user: Editor, session: DbSession) -> Response:
    rows = sorted(
        service.list_versions(session),
        key=lambda r: (not r.is_active, r.name, -r.version),
    )
    return render(request, "strategy/list.html", {"versions": rows, "label": label})


@router.get("/strategies/edit")
def edit_page(
    request: Request, user: Editor, session: DbSession, start: int | None = None
) -> Response:
    """The editor, prefilled with the active version's YAML (or a stored one's: ?start=ID)."""
    row = _version_or_404(session, start) if start is not None else _active_row(session)
    state = EditorState(text=row.yaml_text if row is not None else "")
    return _editor(request, user, session, state)


@router.get("/strategies/{version_id}")
def version_page(request: Request, user: Editor, session: DbSession, version_id: int) -> Response:
    row = _version_or_404(session, version_id)
    active = _active_row(session)
    diff = None
    if active is not None and active.strategy_version_id != row.strategy_version_id:
        old, new = _stored_strategy(active), _stored_strategy(row)
        diff = compare(old, new) if old is not None and new is not None else None
    return render(
        request,
        "strategy/version.html",
        {
            "row": row,
            "label": label(row.name, row.version),
            "active_label": label(active.name, active.version) if active else None,
            "diff": diff,
            **DIFF_CONTEXT,
        },
    )


@router.post("/strategies/edit")
async def check_page(
    request: Request,
    user: Editor,
    session: DbSession,
    _: CsrfChecked,
    action: Annotated[str, Form()] = "validate",
    yaml_text: Annotated[str, Form(max_length=MAX_TEXT_CHARS)] = "",
    upload: Annotated[UploadFile | None, Form()] = None,
) -> Response:
    """Validate (and, with action=compare, compare with the active version) the pasted text or
    the uploaded file. The text comes back in the editor as the user sent it."""
    state = EditorState(text=yaml_text)
    if upload is not None and upload.filename:
        uploaded = await _uploaded_text(upload, state)
        if uploaded is None:
            return _editor(request, user, session, state)
        state.text = uploaded
    if not state.text.strip():
        state.problems.append("strategy.editor.empty")
        return _editor(request, user, session, state)
    state.parsed = _check(state.text)
    strategy = state.parsed.strategy
    if state.valid and strategy is not None:
        state.effective_date = strategy.effective_date.isoformat()
        state.change_note = strategy.change_note
        if action == "compare":
            _compare_with_active(session, state, strategy)
    return _editor(request, user, session, state)


def _compare_with_active(session: DbSession, state: EditorState, strategy: Strategy) -> None:
    active = _active_row(session)
    old = _stored_strategy(active) if active is not None else None
    if old is None:
        state.problems.append("strategy.compare.no_active")
        return
    state.diff = compare(old, strategy)


def _confirmation_errors(
    state: EditorState, strategy: Strategy, effective_date: str, change_note: str
) -> None:
    """The activation form's effective date and change note must agree with the text."""
    try:
        chosen = date.fromisoformat(effective_date.strip())
    except ValueError:
        state.field_errors["effective_date"] = (
            "strategy.activate.date_missing"
            if not effective_date.strip()
            else "strategy.activate.date_invalid"
        )
    else:
        if chosen != strategy.effective_date:
            state.field_errors["effective_date"] = "strategy.activate.date_differs"
            state.problem_values["expected"] = strategy.effective_date.isoformat()
    note = " ".join(change_note.split())
    if not note:
        state.field_errors["change_note"] = "strategy.activate.note_missing"
    elif note != " ".join(strategy.change_note.split()):
        state.field_errors["change_note"] = "strategy.activate.note_differs"


@router.post("/strategies/activate")
def activate_page(
    request: Request,
    user: Activator,
    session: DbSession,
    _: CsrfChecked,
    yaml_text: Annotated[str, Form(max_length=MAX_TEXT_CHARS)] = "",
    effective_date: Annotated[str, Form(max_length=40)] = "",
    change_note: Annotated[str, Form(max_length=MAX_NOTE_CHARS)] = "",
) -> Response:
    """Activate the text (stored as a new version when its name and version are new). On any
    problem the editor comes back with the text, the date and the note as they were sent."""
    state = EditorState(text=yaml_text, effective_date=effective_date, change_note=change_note)
    if not yaml_text.strip():
        state.problems.append("strategy.editor.empty")
        return _editor(request, user, session, state)
    state.parsed = _check(yaml_text)
    strategy = state.parsed.strategy
    if not state.valid or strategy is None:
        return _editor(request, user, session, state)
    _confirmation_errors(state, strategy, effective_date, change_note)
    if state.field_errors:
        return _editor(request, user, session, state)
    try:
        done = service.activate_text(session, text=yaml_text, source=SOURCE, actor=user.username)
    except VersionConflict as exc:
        state.conflict = str(exc).removeprefix(f"{SOURCE}: ")
        return _editor(request, user, session, state)
    except StrategyRejected as exc:  # validated above; kept for a race with another change
        state.parsed = StrategyFile(SOURCE, yaml_text, "", None, list(exc.findings))
        return _editor(request, user, session, state)
    row = StrategyRepository(session).get(done.name, done.version)
    assert row is not None
    done_key = "strategy.activate.done" if done.changed else "strategy.activate.unchanged"
    flash(request, done_key, label=label(done.name, done.version))
    return redirect(f"/strategies/{row.strategy_version_id}")
