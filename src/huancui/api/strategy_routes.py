"""Strategies over the API: list the stored versions, show one, validate a file (every error
with its rule and line), compare a version with the active one, and activate a version.

A strategy file is YAML sent as the request body (`application/yaml`) or as the `file` part of
a multipart form. Activation goes through strategy.service like `huancui strategy activate`: a
version's effective date and change note are part of the file (versions never change once
stored), so the form repeats them and they must agree with the file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, Response, UploadFile
from sqlalchemy import select
from starlette.datastructures import UploadFile as FormFile

from huancui.api.deps import (
    MAX_ID,
    NO_NUL,
    Limit,
    Offset,
    Page,
    Principal,
    SessionDep,
    page_of,
    require,
)
from huancui.kit.errors import InvalidInput, NotFound
from huancui.strategy import service
from huancui.strategy.compare import compare
from huancui.strategy.loader import StrategyFile, parse_strategy
from huancui.strategy.repository import StrategyRepository
from huancui.strategy.service import StrategyRejected, label
from huancui.strategy.spec import Strategy
from huancui.strategy.tables import StrategyVersionRow

router = APIRouter(prefix="/strategies", tags=["strategies"])
Reader = Annotated[Principal, require("kpi:read", "strategy:edit")]
Editor = Annotated[Principal, require("strategy:edit")]
Activator = Annotated[Principal, require("strategy:activate")]

MAX_STRATEGY_BYTES = 1_000_000
UPLOAD_SOURCE = "upload"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")
_YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}
StrategyName = Annotated[str, Query(min_length=1, max_length=32, pattern=NO_NUL)]
Version = Annotated[int, Query(ge=1, le=MAX_ID)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def version_json(row: StrategyVersionRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "label": label(row.name, row.version),
        "owner": row.owner,
        "effective_date": row.effective_date.isoformat(),
        "change_note": row.change_note,
        "sha256": row.sha256,
        "activated_at": _aware(row.activated_at).isoformat(),
        "activated_by": row.activated_by,
        "active": row.is_active,
    }


def _decode(content: bytes) -> str:
    if len(content) > MAX_STRATEGY_BYTES:
        raise InvalidInput(f"file: a strategy file is at most {MAX_STRATEGY_BYTES:,} bytes")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("file: a strategy file is UTF-8 text (YAML)") from None


async def _yaml_of(request: Request) -> str:
    """The YAML text of a request: its body, or the `file` part of a multipart form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, FormFile):
            raise InvalidInput("file: send the strategy YAML as the form's `file` part")
        return _decode(await upload.read(MAX_STRATEGY_BYTES + 1))
    if kind not in YAML_TYPES:
        raise InvalidInput(
            f"body: send the strategy as {YAML_TYPES[0]} or as the `file` of a multipart form"
            f" (not {kind or 'no content type'})"
        )
    return _decode(await request.body())


def _checked(text: str) -> StrategyFile:
    parsed = parse_strategy(text, source=UPLOAD_SOURCE)
    if parsed.strategy is None or parsed.errors:
        raise StrategyRejected(parsed.errors)
    return parsed


def _stored(session: SessionDep, name: str, version: int) -> StrategyVersionRow:
    row = StrategyRepository(session).get(name, version)
    if row is None:
        raise NotFound(f"no strategy {label(name, version)} is stored")
    return row


def _strategy(row: StrategyVersionRow) -> Strategy:
    parsed = parse_strategy(row.yaml_text, source=f"strategy {label(row.name, row.version)}")
    if parsed.strategy is None:
        raise InvalidInput(
            f"the stored strategy {label(row.name, row.version)} no longer validates"
        )
    return parsed.strategy


@router.get("", response_model=Page)
def list_versions(
    session: SessionDep,
    _: Reader,
    name: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """Every stored version by name and version; `active` marks the one the nightly run uses."""
    query = select(StrategyVersionRow).order_by(StrategyVersionRow.name, StrategyVersionRow.version)
    if name is not None:
        query = query.where(StrategyVersionRow.name == name)
    rows, total = page_of(session, query, limit=limit, offset=offset)
    return Page(items=[version_json(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/compare")
def compare_with_active(
    session: SessionDep, _: Editor, name: StrategyName, version: Version
) -> dict[str, Any]:
    """What a stored version changes with respect to the active one: segments, stages,
    treatments, challengers and rules added, removed or changed (strategy/compare.py)."""
    candidate = _stored(session, name, version)
    active = StrategyRepository(session).active()
    if active is None:
        raise NotFound("no strategy is active to compare with")
    return compare(_strategy(active), _strategy(candidate)).as_json()


@router.get("/{name}/{version}")
def show_version(
    session: SessionDep,
    _: Reader,
    name: Annotated[str, Path(min_length=1, max_length=32, pattern=NO_NUL)],
    version: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> dict[str, Any]:
    """One stored version: its metadata and its YAML exactly as activated."""
    row = _stored(session, name, version)
    return {**version_json(row), "yaml": row.yaml_text}


@router.post("/validate", openapi_extra=_YAML_BODY)
async def validate(request: Request, _: Editor) -> dict[str, Any]:
    """Check a strategy file without storing it: 200 with `valid: true` (and any warnings), or
    a 422 problem whose `errors` give each error's rule, line and message."""
    parsed = _checked(await _yaml_of(request))
    assert parsed.strategy is not None
    return {
        "valid": True,
        "name": parsed.strategy.name,
        "version": parsed.strategy.version,
        "sha256": parsed.sha256,
        "warnings": [
            {"rule": w.where, "line": w.line, "message": w.message} for w in parsed.warnings
        ],
    }


@router.post("", status_code=201)
async def activate(
    response: Response,
    session: SessionDep,
    user: Activator,
    file: Annotated[UploadFile, Form(description="The strategy YAML")],
    effective_from: Annotated[date, Form(description="Must equal the file's effective_date")],
    change_note: Annotated[
        str, Form(min_length=1, max_length=4000, description="Must equal the file's change_note")
    ],
) -> dict[str, Any]:
    """Activate a strategy version (stored if new), as `huancui strategy activate` does; the
    previous version stays stored. Audited as `strategy.activate`."""
    parsed = _checked(_decode(await file.read(MAX_STRATEGY_BYTES + 1)))
    strategy = parsed.strategy
    assert strategy is not None
    if effective_from != strategy.effective_date:
        raise InvalidInput(
            f"effective_from: {effective_from} differs from the file's effective_date"
            f" {strategy.effective_date}; a version's date is part of it: set it in the file"
        )
    if " ".join(change_note.split()) != " ".join(strategy.change_note.split()):
        raise InvalidInput(
            "change_note: differs from the file's change_note; a version's note is part of it:"
            " write it in the file"
        )
    done = service.activate_text(
        session, text=parsed.text, source="the uploaded file", actor=user.username
    )
    response.headers["Location"] = f"/api/strategies/{done.name}/{done.version}"
    return done.as_json()
