"""缓催 hardship applications over the API (list, show, apply with evidence files, approve,
reject, withdraw, end) and the approvals inbox: what is waiting for the caller's decision.

Thin: arrangements/hardship.py does the work in the request's unit of work. Evidence uploads
are checked here before the service sees them: an allowed content type (PDF, JPEG, PNG) whose
first bytes agree with it, a size limit, and a file name that is only ever a label (the service
stores the content under its SHA-256).
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from huancui.access import permissions
from huancui.api.deps import (
    NO_NUL,
    Limit,
    Offset,
    Page,
    PolicyDep,
    Principal,
    RecordId,
    SessionDep,
    SettingsDep,
    page_of,
    require,
)
from huancui.api.idempotency import Idempotency, IdempotencyKey
from huancui.api.problems import TooLarge, UnsupportedMediaType
from huancui.arrangements import hardship
from huancui.arrangements.evidence import (
    BY_MEDIA_TYPE,
    EVIDENCE_MAX_BYTES,
    EvidenceContent,
    kind_of,
)
from huancui.arrangements.model import Needs, approving_roles
from huancui.arrangements.policy import ArrangementPolicy
from huancui.arrangements.service import check_authority
from huancui.arrangements.service import needs as arrangement_needs
from huancui.arrangements.tables import ArrangementRow, HardshipRow
from huancui.kit.errors import InvalidInput, NotPermitted
from huancui.kit.masking import mask_text
from huancui.kit.money import format_yuan
from huancui.kit.settings import Settings

router = APIRouter()
Reader = Annotated[Principal, require("queue:read", "hardship:approve")]
Applicant = Annotated[Principal, require("hardship:apply")]
Approver = Annotated[Principal, require("hardship:approve")]
Withdrawer = Annotated[Principal, require("hardship:apply", "hardship:approve")]
InboxReader = Annotated[Principal, require("arrangement:approve", "hardship:approve")]

Status = Literal["applied", "approved", "rejected", "withdrawn", "active", "ended"]
Filter = Annotated[str | None, Query(min_length=1, max_length=32, pattern=NO_NUL)]

# Evidence: what may be uploaded, recognised by the first bytes of the content.
DEFAULT_EVIDENCE_MAX_BYTES = EVIDENCE_MAX_BYTES
MAX_EVIDENCE_FILES = 10
_NAME_BYTES = 200


def evidence_max_bytes(settings: Settings) -> int:
    """The upload limit per file: the setting `evidence_max_bytes` where the settings have it
    (HUANCUI_EVIDENCE_MAX_BYTES), else 5 MB."""
    limit = getattr(settings, "evidence_max_bytes", None)
    return int(limit) if isinstance(limit, int) and limit > 0 else DEFAULT_EVIDENCE_MAX_BYTES


def safe_filename(name: str | None, content_type: str) -> str:
    """The uploaded name as a label only: its last component, without control characters,
    separators or leading dots, at most 200 bytes; never a path anyone resolves."""
    last = (name or "").replace("\\", "/").split("/")[-1]
    cleaned = "".join(
        "_" if unicodedata.category(c).startswith("C") or c in ':*?"<>|' else c for c in last
    ).strip(" .")
    while len(cleaned.encode("utf-8")) > _NAME_BYTES:
        cleaned = cleaned[:-1]
    return cleaned or f"evidence.{BY_MEDIA_TYPE[content_type].extension}"


@dataclass(frozen=True)
class Evidence:
    filename: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


async def checked_evidence(uploads: list[UploadFile], *, max_bytes: int) -> list[Evidence]:
    """Each upload checked (type, magic bytes, size, name); the first problem refuses all."""
    if len(uploads) > MAX_EVIDENCE_FILES:
        raise InvalidInput(f"evidence: at most {MAX_EVIDENCE_FILES} files, not {len(uploads)}")
    accepted = []
    for i, upload in enumerate(uploads):
        where = f"evidence[{i}]"
        declared = (upload.content_type or "").split(";")[0].strip().lower()
        if declared not in BY_MEDIA_TYPE:
            raise UnsupportedMediaType(
                f"{where}: {declared or 'no content type'} is not accepted; send a PDF, JPEG or"
                " PNG file"
            )
        content = await upload.read(max_bytes + 1)
        if len(content) > max_bytes:
            raise TooLarge(f"{where}: larger than the limit of {max_bytes:,} bytes")
        if not content:
            raise InvalidInput(f"{where}: the file is empty")
        if kind_of(content) != BY_MEDIA_TYPE[declared]:
            raise UnsupportedMediaType(
                f"{where}: sent as {declared} but its content is not"
                f" {BY_MEDIA_TYPE[declared].label}"
            )
        accepted.append(Evidence(safe_filename(upload.filename, declared), content))
    return accepted


def _summary(row: HardshipRow) -> dict[str, Any]:
    return {
        "hardship_id": row.hardship_id,
        "account_id": row.account_id,
        "customer_id": row.customer_id,
        "status": row.status,
        "reason_code": row.reason_code,
        "requested_start": row.requested_start.isoformat(),
        "requested_days": row.requested_days,
        "start_date": row.start_date.isoformat() if row.start_date else None,
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "applied_by": row.applied_by,
        "applied_via": row.applied_via,
        "decided_by": row.decided_by,
    }


def _shown(session: SessionDep, hardship_id: int, role: str) -> dict[str, Any]:
    """An application as `role` may see it: the customer's own account of their situation only
    for the roles that record or decide applications."""
    shown = hardship.show_hardship(session, hardship_id)
    if not (
        permissions.allowed(role, "hardship:apply") or permissions.allowed(role, "hardship:approve")
    ):
        shown["details"] = mask_text(shown["details"])
    return shown


@router.get("/hardship", response_model=Page, tags=["hardship"])
def list_applications(
    session: SessionDep,
    _: Reader,
    status: Status | None = None,
    account_id: Filter = None,
    customer_id: Filter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """Applications in id order, filtered by status, account and customer."""
    query = select(HardshipRow).order_by(HardshipRow.hardship_id)
    if status is not None:
        query = query.where(HardshipRow.status == status)
    if account_id is not None:
        query = query.where(HardshipRow.account_id == account_id)
    if customer_id is not None:
        query = query.where(HardshipRow.customer_id == customer_id)
    rows, total = page_of(session, query, limit=limit, offset=offset)
    return Page(items=[_summary(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/hardship/{hardship_id}", tags=["hardship"])
def show_application(hardship_id: RecordId, session: SessionDep, user: Reader) -> dict[str, Any]:
    """An application with its evidence (file name, SHA-256, size) and history."""
    return _shown(session, hardship_id, user.role)


@router.post("/hardship", status_code=201, tags=["hardship"])
async def apply(
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    user: Applicant,
    account_id: Annotated[str, Form(min_length=1, max_length=32, pattern=NO_NUL)],
    as_of: Annotated[date, Form()],
    reason_code: Annotated[str, Form(min_length=1, max_length=32, pattern=NO_NUL)],
    details: Annotated[str, Form(min_length=1, max_length=4000, pattern=NO_NUL)],
    start: Annotated[date | None, Form()] = None,
    days: Annotated[int | None, Form(ge=1, le=366)] = None,
    evidence: Annotated[list[UploadFile] | None, File(description="PDF, JPEG or PNG")] = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Record a 缓催 application on a customer's behalf (multipart form, evidence files
    optional). With an Idempotency-Key, a retry with the same fields and files answers with
    the first result."""
    files = await checked_evidence(evidence or [], max_bytes=evidence_max_bytes(settings))
    fields = {
        "account_id": account_id,
        "as_of": as_of.isoformat(),
        "reason_code": reason_code,
        "details": details,
        "start": start.isoformat() if start else None,
        "days": days,
        "evidence": [(f.filename, f.sha256) for f in files],
    }
    once = Idempotency.of(
        session,
        actor=user.username,
        key=idempotency_key,
        method="POST",
        path="/api/hardship",
        body=fields,
    )
    replayed = once.replayed()
    if replayed is not None:
        return replayed
    row = hardship.apply_hardship(
        session,
        settings,
        policy,
        account_id=account_id,
        as_of=as_of,
        reason_code=reason_code,
        details=details,
        start=start,
        days=days,
        evidence=[EvidenceContent(f.filename, f.content) for f in files],
        actor=user.username,
        via="api",
    )
    shown = _shown(session, row.hardship_id, user.role)
    once.remember(status_code=201, response=shown)
    response.headers["Location"] = f"/api/hardship/{row.hardship_id}"
    return shown


class Approval(BaseModel):
    reason: str = Field(default="", max_length=2000, pattern=NO_NUL)
    days: int | None = Field(
        default=None, ge=1, le=366, description="Grant fewer days than asked (default: all)"
    )


class Refusal(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


class Ending(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)
    last_day: date | None = Field(
        default=None, description="The pause's last day (default: today); collection resumes after"
    )


@router.post("/hardship/{hardship_id}/approve", tags=["hardship"])
def approve(
    hardship_id: RecordId, body: Approval, session: SessionDep, policy: PolicyDep, user: Approver
) -> dict[str, Any]:
    """Approve within the role's authority (never one's own application): places the hardship
    hold, so no collection contact is planned during the pause."""
    hardship.approve_hardship(
        session,
        policy,
        hardship_id,
        actor=user.username,
        reason=body.reason,
        today=date.today(),
        days=body.days,
    )
    return _shown(session, hardship_id, user.role)


@router.post("/hardship/{hardship_id}/reject", tags=["hardship"])
def reject(
    hardship_id: RecordId, body: Refusal, session: SessionDep, policy: PolicyDep, user: Approver
) -> dict[str, Any]:
    """Reject, saying why (not one's own application)."""
    hardship.decide_no(
        session, policy, hardship_id, actor=user.username, reason=body.reason, target="rejected"
    )
    return _shown(session, hardship_id, user.role)


@router.post("/hardship/{hardship_id}/withdraw", tags=["hardship"])
def withdraw(
    hardship_id: RecordId, body: Refusal, session: SessionDep, policy: PolicyDep, user: Withdrawer
) -> dict[str, Any]:
    """Withdraw an application the customer no longer wants."""
    hardship.decide_no(
        session, policy, hardship_id, actor=user.username, reason=body.reason, target="withdrawn"
    )
    return _shown(session, hardship_id, user.role)


@router.post("/hardship/{hardship_id}/end", tags=["hardship"])
def end(hardship_id: RecordId, body: Ending, session: SessionDep, user: Approver) -> dict[str, Any]:
    """End an approved or active pause early: collection resumes after `last_day`."""
    hardship.end_hardship(
        session,
        hardship_id,
        actor=user.username,
        reason=body.reason,
        last_day=body.last_day or date.today(),
    )
    return _shown(session, hardship_id, user.role)


# ---------------------------------------------------------------------------------------------
# The approvals inbox


def _needs_json(needs: Needs) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for name in ("ptp_days", "term_months", "deferral_months", "hardship_days"):
        if getattr(needs, name):
            shown[name] = getattr(needs, name)
    if needs.waived_fen:
        shown["waived"] = format_yuan(needs.waived_fen)
    if needs.discount_share:
        shown["discount_share"] = str(needs.discount_share)
    return shown


def _may_decide(
    session: SessionDep, policy: ArrangementPolicy, actor: str, by: str, needs: Needs, what: str
) -> bool:
    try:
        check_authority(session, policy, actor, by, needs, what)
    except NotPermitted:
        return False
    return True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _waiting_arrangements(
    session: SessionDep, policy: ArrangementPolicy, actor: str
) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ArrangementRow)
        .where(ArrangementRow.status == "proposed", ArrangementRow.proposed_by != actor)
        .order_by(ArrangementRow.proposed_at, ArrangementRow.arrangement_id)
    )
    found = []
    for row in rows:
        needs = arrangement_needs(row)
        what = f"arrangement {row.arrangement_id}"
        if not _may_decide(session, policy, actor, row.proposed_by, needs, what):
            continue
        found.append(
            {
                "type": "arrangement",
                "id": row.arrangement_id,
                "account_id": row.account_id,
                "kind": row.kind,
                "submitted_by": row.proposed_by,
                "submitted_at": _aware(row.proposed_at),
                "reason": row.proposal_reason,
                "total_due": format_yuan(row.total_due_fen),
                "needs": _needs_json(needs),
                "approving_roles": approving_roles(policy, needs),
                "decide": f"/api/arrangements/{row.arrangement_id}",
            }
        )
    return found


def _waiting_applications(
    session: SessionDep, policy: ArrangementPolicy, actor: str
) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(HardshipRow)
        .where(HardshipRow.status == "applied", HardshipRow.applied_by != actor)
        .order_by(HardshipRow.applied_at, HardshipRow.hardship_id)
    )
    found = []
    for row in rows:
        needs = Needs("hardship", hardship_days=row.requested_days)
        what = f"hardship application {row.hardship_id}"
        if not _may_decide(session, policy, actor, row.applied_by, needs, what):
            continue
        found.append(
            {
                "type": "hardship",
                "id": row.hardship_id,
                "account_id": row.account_id,
                "kind": "hardship",
                "submitted_by": row.applied_by,
                "submitted_at": _aware(row.applied_at),
                "reason": row.reason_code,
                "total_due": None,
                "needs": _needs_json(needs),
                "approving_roles": approving_roles(policy, needs),
                "decide": f"/api/hardship/{row.hardship_id}",
            }
        )
    return found


@router.get("/approvals", response_model=Page, tags=["approvals"])
def approvals(
    session: SessionDep,
    policy: PolicyDep,
    user: InboxReader,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """Proposals and 缓催 applications waiting for a decision that the caller may take under
    the authority matrix, oldest first; never the caller's own (four eyes). Each says what it
    needs (days, months, amounts) and which roles may approve it; POST to `decide` + `/approve`
    or `/reject`. Authority is judged per item, so the page is cut after that filter: the
    waiting list is short by nature."""
    waiting: list[dict[str, Any]] = []
    if permissions.allowed(user.role, "arrangement:approve"):
        waiting += _waiting_arrangements(session, policy, user.username)
    if permissions.allowed(user.role, "hardship:approve"):
        waiting += _waiting_applications(session, policy, user.username)
    waiting.sort(key=lambda item: (item["submitted_at"], item["type"], item["id"]))
    page = [
        {**item, "submitted_at": item["submitted_at"].isoformat()}
        for item in waiting[offset : offset + limit]
    ]
    return Page(items=page, total=len(waiting), limit=limit, offset=offset)
