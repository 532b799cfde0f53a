"""The customer portal's use cases, for one signed-in customer and their own accounts only:
what is owed and why, the plans they may choose, a promise to pay, a 缓催 application with
evidence, and a rating of the service. Sign-in is codes.py.

Every use case takes the customer_id the sign-in proved, and every account id is checked to be
theirs (another customer's answers NotFound, like a missing one). What a customer asks for goes
through the same rules as a collector's request, with the actor "customer:<customer_id>":
a plan or a promise is a proposal under the arrangements policy (arrangements.service.propose),
approved at once only within the policy's `auto` limits and otherwise left for a person whose
authority covers it (never bypassing the authority matrix); a 缓催 application is
arrangements.hardship.apply_hardship, decided by staff. The portal prices on the newest
snapshot (its as-of date). Services never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.arrangements import hardship
from huancui.arrangements.evidence import EvidenceContent
from huancui.arrangements.policy import ArrangementPolicy
from huancui.arrangements.service import Proposal, offers, propose
from huancui.arrangements.tables import ArrangementRow, HardshipRow
from huancui.kit.errors import Conflict, InvalidInput, NotFound
from huancui.kit.money import format_yuan
from huancui.kit.settings import Settings
from huancui.portal import repository
from huancui.portal.model import EVIDENCE_MAX_FILES, check_evidence, check_rating
from huancui.portal.tables import CsatRatingRow
from huancui.portfolio.tables import AccountSnapshotRow, CustomerRow

PLAN_KINDS = ("installment", "deferral")
RATING_CHANNELS = ("portal", "api")
DEFAULT_ZONE = "Asia/Shanghai"


def actor_of(customer_id: str) -> str:
    return f"customer:{customer_id}"


def _as_of(session: Session) -> date:
    as_of = repository.latest_as_of(session)
    if as_of is None:
        raise NotFound("no account data has been delivered yet: try again tomorrow")
    return as_of


def _money(fen: int) -> str:
    return format_yuan(fen)


def _owed(state: AccountSnapshotRow | None) -> dict[str, Any] | None:
    """What is owed on the account and why, as the snapshot has it."""
    if state is None:
        return None
    return {
        "amount_overdue": _money(state.arrears_fen),
        "days_past_due": state.days_past_due,
        "overdue_principal": _money(state.arrears_principal_fen),
        "overdue_interest": _money(state.arrears_interest_fen),
        "overdue_fees": _money(state.arrears_fee_fen),
        "missed_payments": state.missed_dues,
        "oldest_unpaid_due_date": (
            state.oldest_unpaid_due_date.isoformat() if state.oldest_unpaid_due_date else None
        ),
        "balance": _money(state.balance_fen),
        "last_payment_date": (
            state.last_payment_date.isoformat() if state.last_payment_date else None
        ),
    }


def my_accounts(session: Session, *, customer_id: str) -> dict[str, Any]:
    """The customer's accounts with what is overdue on each."""
    as_of = repository.latest_as_of(session)
    accounts = repository.accounts_of(session, customer_id)
    found = repository.states(session, [a.account_id for a in accounts], as_of) if as_of else {}
    return {
        "as_of": as_of.isoformat() if as_of else None,
        "accounts": [
            {
                "account_id": a.account_id,
                "product": a.product,
                "product_name": a.product_name,
                "currency": a.currency,
                "owed": _owed(found.get(a.account_id)),
            }
            for a in accounts
        ],
    }


def _arrangement(session: Session, row: ArrangementRow) -> dict[str, Any]:
    line = repository.next_line(session, row.arrangement_id)
    return {
        "arrangement_id": row.arrangement_id,
        "kind": row.kind,
        "status": row.status,
        "total_to_pay": _money(row.total_due_fen),
        "monthly_amount": _money(row.monthly_burden_fen),
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat(),
        "next_payment": None
        if line is None
        else {
            "due_date": line.due_date.isoformat(),
            "amount": _money(max(0, line.amount_due_fen - line.paid_fen)),
        },
    }


def _hardship(row: HardshipRow) -> dict[str, Any]:
    return {
        "hardship_id": row.hardship_id,
        "status": row.status,
        "reason_code": row.reason_code,
        "requested_start": row.requested_start.isoformat(),
        "requested_days": row.requested_days,
        "start_date": row.start_date.isoformat() if row.start_date else None,
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "interest_accrues": row.interest_accrues,
        "interest_estimate": None
        if row.accrual_estimate_fen is None
        else _money(row.accrual_estimate_fen),
        "applied_at": row.applied_at.isoformat(),
    }


def account_view(session: Session, *, customer_id: str, account_id: str) -> dict[str, Any]:
    """One account of the customer's: what is owed and why, the arrangement in force and its
    next payment, 缓催 applications, the holds that concern them, and the messages sent."""
    account = repository.owned_account(session, customer_id=customer_id, account_id=account_id)
    as_of = repository.latest_as_of(session)
    state = repository.states(session, [account_id], as_of).get(account_id) if as_of else None
    arrangement = repository.open_arrangement(session, account_id)
    today = as_of or datetime.now(UTC).date()
    return {
        "account_id": account.account_id,
        "product": account.product,
        "product_name": account.product_name,
        "currency": account.currency,
        "as_of": as_of.isoformat() if as_of else None,
        "owed": _owed(state),
        "arrangement": None if arrangement is None else _arrangement(session, arrangement),
        "hardship": [_hardship(h) for h in repository.hardship_of(session, account_id)],
        "holds": [
            {
                "kind": h.hold_type,
                "start_date": h.start_date.isoformat(),
                "end_date": h.end_date.isoformat() if h.end_date else None,
            }
            for h in repository.visible_holds(session, account_id, today)
        ],
        "messages": [
            {
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "channel": m.channel,
                "template": m.template,
            }
            for m in repository.messages_sent(session, account_id)
        ],
    }


@dataclass(frozen=True)
class PlanOption:
    """A plan the customer may choose: `option` names it in a request."""

    option: str
    kind: str
    months: int
    monthly_amount: str
    total_to_pay: str
    payments: int
    approved_at_once: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "kind": self.kind,
            "months": self.months,
            "monthly_amount": self.monthly_amount,
            "total_to_pay": self.total_to_pay,
            "payments": self.payments,
            "approved_at_once": self.approved_at_once,
        }


@dataclass(frozen=True)
class PromiseLimits:
    available: bool
    earliest: date
    latest: date
    approved_at_once_until: date
    amount_overdue: str

    def as_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "earliest": self.earliest.isoformat(),
            "latest": self.latest.isoformat(),
            "approved_at_once_until": self.approved_at_once_until.isoformat(),
            "amount_overdue": self.amount_overdue,
        }


@dataclass(frozen=True)
class Options:
    as_of: date
    plans: tuple[PlanOption, ...]
    promise: PromiseLimits | None

    def as_json(self, account_id: str) -> dict[str, Any]:
        return {
            "account_id": account_id,
            "as_of": self.as_of.isoformat(),
            "plans": [p.as_json() for p in self.plans],
            "promise": None if self.promise is None else self.promise.as_json(),
        }


def options(
    session: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    *,
    customer_id: str,
    account_id: str,
) -> Options:
    """The instalment plans and deferrals the policy allows on the account today, with the
    monthly amount and total cost, and the dates a promise may name. Concessions that a person
    negotiates (waivers, settlements) and the bank's own estimates are not shown."""
    repository.owned_account(session, customer_id=customer_id, account_id=account_id)
    as_of = _as_of(session)
    offered = offers(session, settings, policy, account_id=account_id, as_of=as_of)
    plans: list[PlanOption] = []
    promise: PromiseLimits | None = None
    auto_days = policy.authority["auto"].ptp_days if "auto" in policy.authority else 0
    for option in offered["options"]:
        kind = option["kind"]
        if kind == "ptp" and "terms" in option:
            latest = date.fromisoformat(option["terms"]["pay_by"])
            promise = PromiseLimits(
                available=bool(option["available"]),
                earliest=as_of + timedelta(days=1),
                latest=latest,
                approved_at_once_until=min(latest, as_of + timedelta(days=auto_days)),
                amount_overdue=offered["arrears"],
            )
        if kind not in PLAN_KINDS or not option["available"]:
            continue
        terms = option["terms"]
        months = int(terms["months"] if kind == "installment" else terms["holiday_months"])
        plans.append(
            PlanOption(
                option=f"{kind}-{months}",
                kind=kind,
                months=months,
                monthly_amount=option["monthly_burden"],
                total_to_pay=option["total_to_pay"],
                payments=int(option["lines"]),
                approved_at_once=option["approval"] == "automatic",
            )
        )
    return Options(as_of, tuple(plans), promise)


def _no_open_arrangement(session: Session, account_id: str) -> None:
    open_one = repository.open_arrangement(session, account_id)
    if open_one is not None:
        raise Conflict(
            f"account {account_id} already has a {open_one.kind} arrangement"
            f" ({open_one.status}); call us to change it"
        )


def _proposal_json(row: ArrangementRow) -> dict[str, Any]:
    return {
        "arrangement_id": row.arrangement_id,
        "account_id": row.account_id,
        "kind": row.kind,
        "status": row.status,
        "approved": row.status == "approved",
        "total_to_pay": _money(row.total_due_fen),
        "monthly_amount": _money(row.monthly_burden_fen),
        "end_date": row.end_date.isoformat(),
    }


def choose_plan(
    session: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    *,
    customer_id: str,
    account_id: str,
    option: str,
    note: str = "",
) -> dict[str, Any]:
    """Propose the plan the customer chose from `options` (approved at once only within the
    policy's automatic limits; otherwise it waits for a person with the authority)."""
    available = options(session, settings, policy, customer_id=customer_id, account_id=account_id)
    chosen = next((p for p in available.plans if p.option == option), None)
    if chosen is None:
        offered = ", ".join(p.option for p in available.plans) or "none today"
        raise InvalidInput(f"option: {option!r} is not a plan offered to you ({offered})")
    _no_open_arrangement(session, account_id)
    proposal = (
        Proposal("installment", months=chosen.months)
        if chosen.kind == "installment"
        else Proposal("deferral", holiday_months=chosen.months)
    )
    row = propose(
        session,
        settings,
        policy,
        account_id=account_id,
        as_of=available.as_of,
        proposal=proposal,
        actor=actor_of(customer_id),
        reason=_reason(f"chosen by the customer in the portal: {chosen.option}", note),
    )
    return _proposal_json(row)


def _reason(what: str, note: str) -> str:
    note = note.strip()
    if len(note) > 500:
        raise InvalidInput(f"note: at most 500 characters ({len(note)} given)")
    return f"{what}; the customer says: {note}" if note else what


def promise_to_pay(
    session: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    *,
    customer_id: str,
    account_id: str,
    pay_by: date,
    amount_fen: int | None = None,
    note: str = "",
) -> dict[str, Any]:
    """A promise to pay (by default what is overdue) by a date within the policy's limits."""
    available = options(session, settings, policy, customer_id=customer_id, account_id=account_id)
    limits = available.promise
    if limits is None or not limits.available:
        raise InvalidInput(
            "pay_by: a promise to pay cannot be made online for this account; call us"
        )
    if not limits.earliest <= pay_by <= limits.latest:
        raise InvalidInput(
            f"pay_by: choose a date from {limits.earliest} to {limits.latest} ({pay_by} given)"
        )
    if amount_fen is not None and amount_fen <= 0:
        raise InvalidInput("amount: a promise is for a positive amount")
    _no_open_arrangement(session, account_id)
    row = propose(
        session,
        settings,
        policy,
        account_id=account_id,
        as_of=available.as_of,
        proposal=Proposal("ptp", amount_fen=amount_fen, pay_by=pay_by),
        actor=actor_of(customer_id),
        reason=_reason("promise to pay made by the customer in the portal", note),
    )
    return _proposal_json(row)


def apply_for_hardship(
    session: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    *,
    customer_id: str,
    account_id: str,
    reason_code: str,
    details: str,
    days: int | None,
    evidence: Sequence[bytes],
) -> dict[str, Any]:
    """Apply for 缓催 with evidence files (PDF, JPEG or PNG, at most 5 MB each, checked by
    their content). Files are stored under their SHA-256 (never under a name the client
    chose); the application waits for staff to decide it."""
    repository.owned_account(session, customer_id=customer_id, account_id=account_id)
    if len(evidence) > EVIDENCE_MAX_FILES:
        raise InvalidInput(f"evidence: at most {EVIDENCE_MAX_FILES} files ({len(evidence)} given)")
    checked = [
        check_evidence(content, field=f"evidence[{i}]") for i, content in enumerate(evidence)
    ]
    as_of = _as_of(session)
    row = hardship.apply_hardship(
        session,
        settings,
        policy,
        account_id=account_id,
        as_of=as_of,
        reason_code=reason_code,
        details=details,
        start=None,
        days=days,
        evidence=[
            EvidenceContent(f"evidence-{number}.{item.extension}", item.content)
            for number, item in enumerate(checked, start=1)
        ],
        actor=actor_of(customer_id),
        via="portal",
    )
    return {**_hardship(row), "account_id": account_id, "evidence_files": len(checked)}


def _zone(session: Session, customer_id: str) -> ZoneInfo:
    customer = session.get(CustomerRow, customer_id)
    name = customer.timezone if customer is not None and customer.timezone else DEFAULT_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def rate_service(
    session: Session,
    *,
    customer_id: str,
    score: int,
    comment: str | None,
    account_id: str | None,
    channel: str,
    now: datetime,
) -> dict[str, Any]:
    """Record a CSAT rating (1–5, optional comment): one per customer per day of their own
    time zone, so that a rating counts one experience, not one click."""
    if channel not in RATING_CHANNELS:
        raise InvalidInput(f"channel: {channel!r} is not one of {', '.join(RATING_CHANNELS)}")
    score, text = check_rating(score, comment)
    if account_id is not None:
        repository.owned_account(session, customer_id=customer_id, account_id=account_id)
    zone = _zone(session, customer_id)
    local_day = now.astimezone(zone).date()
    day_start = datetime.combine(local_day, time(0), tzinfo=zone).astimezone(UTC)
    if repository.ratings_since(session, customer_id, day_start) > 0:
        raise Conflict("you have rated the service today already: thank you; rate again tomorrow")
    row = CsatRatingRow(
        customer_id=customer_id,
        account_id=account_id,
        score=score,
        comment=text,
        channel=channel,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor_of(customer_id),
        action="portal.rating",
        entity_type="csat_rating",
        entity_id=str(row.rating_id),
        # The comment is the customer's free text (it may hold personal data): not audited.
        after={"score": score, "account_id": account_id, "channel": channel},
        reason="the customer rated the service",
    )
    return {"rating_id": row.rating_id, "score": score, "day": local_day.isoformat()}
