"""What casework shows: an outcome as JSON, and the account 360 view — everything a collector
needs on one screen, with personal data as the caller's role may see it."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from huancui.access.pii import read_customer, shown_to
from huancui.arrangements import hardship as hardship_service
from huancui.arrangements import service as arrangement_service
from huancui.arrangements.policy import load_arrangement_policy
from huancui.cases import repository as repo
from huancui.cases.model import CASE_CHANNELS, LANGUAGES, aware, shipped_outcome_codes
from huancui.cases.tables import ContactOutcomeRow
from huancui.contact import holds
from huancui.contact.policy import PERSON_HOLDS
from huancui.contact.tables import CaseHoldRow, WorkItemRow
from huancui.contact.templates import TemplateContext, TemplateError, shipped_catalogue
from huancui.kit.errors import HuancuiError, InvalidInput, NotFound
from huancui.kit.settings import Settings
from huancui.portfolio.repository import PortfolioRepository
from huancui.portfolio.tables import AccountRow, AccountSnapshotRow, CustomerRow

HISTORY_LIMIT = 100  # outcomes, messages and work items shown, newest first


def outcome_json(row: ContactOutcomeRow) -> dict[str, Any]:
    return {
        "outcome_id": row.outcome_id,
        "account_id": row.account_id,
        "customer_id": row.customer_id,
        "work_item_id": row.work_item_id,
        "channel": row.channel,
        "outcome": row.outcome,
        "note": row.note,
        "arrangement_id": row.arrangement_id,
        "hardship_id": row.hardship_id,
        "actor": row.actor,
        "occurred_at": aware(row.occurred_at).isoformat(),
        "recorded_at": aware(row.recorded_at).isoformat(),
    }


def _state_json(state: AccountSnapshotRow) -> dict[str, Any]:
    return {
        "principal_fen": state.principal_fen,
        "interest_fen": state.interest_fen,
        "fees_fen": state.fees_fen,
        "balance_fen": state.balance_fen,
        "amount_overdue_fen": state.arrears_fen,
        "days_past_due": state.days_past_due,
        "bucket": state.bucket,
        "status": state.status,
        "charged_off": state.charged_off,
        "last_payment_date": state.last_payment_date.isoformat()
        if state.last_payment_date
        else None,
    }


def _holds_by_time(rows: list[CaseHoldRow], day: date) -> dict[str, list[dict[str, Any]]]:
    """Holds active on `day`, ended before it (or voided), and starting after it; newest first."""
    found: dict[str, list[dict[str, Any]]] = {"active": [], "past": [], "upcoming": []}
    for row in rows:
        voided = row.end_date is not None and row.end_date < row.start_date
        if not voided and row.start_date > day:
            found["upcoming"].append(_hold_json(row))
        elif voided or (row.end_date is not None and row.end_date < day):
            found["past"].append(_hold_json(row))
        else:
            found["active"].append(_hold_json(row))
    return found


def _hold_json(row: CaseHoldRow) -> dict[str, Any]:
    return {
        "hold_id": row.hold_id,
        "account_id": row.account_id,
        "hold_type": row.hold_type,
        "channel": row.channel,
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "reason": row.reason,
        "source": row.source,
        "placed_by": row.placed_by,
        "released_by": row.released_by,
    }


def _phone_flag(session: Session, account_ids: list[str]) -> dict[str, Any] | None:
    """The latest wrong-number report, unless a right-party contact came after it."""
    wrong = repo.last_outcome_at(session, account_ids, ["wrong_number"])
    if wrong is None:
        return None
    reached = [c.code for c in shipped_outcome_codes() if c.right_party]
    later = repo.last_outcome_at(session, account_ids, reached)
    if later is not None and aware(later.occurred_at) > aware(wrong.occurred_at):
        return None
    return {
        "reason": "wrong_number",
        "reported_at": aware(wrong.occurred_at).isoformat(),
        "reported_by": wrong.actor,
        "outcome_id": wrong.outcome_id,
    }


def _script(
    settings: Settings,
    item: WorkItemRow | None,
    *,
    language: str,
    name: str,
    state: AccountSnapshotRow | None,
) -> dict[str, Any] | None:
    if item is None:
        return None
    context = TemplateContext.for_customer(
        settings,
        language,
        name=name,
        amount_overdue_fen=state.arrears_fen if state else None,
        days_past_due=state.days_past_due if state else None,
    )
    try:
        rendered = shipped_catalogue().render(
            item.template, channel=item.channel, language=language, tone=item.tone, context=context
        )
    except TemplateError as exc:
        return {"template": item.template, "tone": item.tone, "error": str(exc)}
    return {
        "template": item.template,
        "tone": item.tone,
        "segment": item.segment,
        "stage": item.stage,
        "channel": item.channel,
        "language": language,
        "purpose": rendered.subject,
        "text": rendered.body,
    }


def _offers(session: Session, settings: Settings, account_id: str, as_of: date) -> dict[str, Any]:
    policy = load_arrangement_policy(settings.arrangement_policy).policy
    try:  # the offers only read: a refusal leaves nothing to undo
        return arrangement_service.offers(
            session, settings, policy, account_id=account_id, as_of=as_of
        )
    except HuancuiError as exc:
        return {"account_id": account_id, "as_of": as_of.isoformat(), "unavailable": str(exc)}


def account_360(
    session: Session,
    settings: Settings,
    *,
    account_id: str,
    as_of: date,
    role: str,
    language: str = "zh-CN",
    with_offers: bool = True,
) -> dict[str, Any]:
    """Everything a collector needs on one screen, as of `as_of`, with personal data shown as
    `role` may see it: the customer, their accounts, balances and DPD history, contacts (newest
    first), arrangements, 缓催 applications, holds, the script of the open work item in
    `language`, and the offers the account is eligible for."""
    if language not in LANGUAGES:
        raise InvalidInput(f"language: {language!r} is not one of {', '.join(LANGUAGES)}")
    account = session.get(AccountRow, account_id)
    if account is None:
        raise NotFound(f"account {account_id} does not exist")
    pii = read_customer(session, settings, account.customer_id)
    assert pii is not None
    shown = shown_to(role, pii)
    customer = session.get(CustomerRow, account.customer_id)
    assert customer is not None
    siblings = repo.accounts_of_customer(session, account.customer_id)
    sibling_ids = [a.account_id for a in siblings]
    states = repo.states_of(session, sibling_ids, as_of)
    state = states.get(account_id)
    items = repo.work_items_of(session, account_id, HISTORY_LIMIT)
    open_item = next(
        (
            i
            for i in sorted(
                (i for i in items if i.status == "open" and i.channel in CASE_CHANNELS),
                key=lambda i: (i.contact_date, i.priority or 0.0),
                reverse=True,
            )
        ),
        None,
    )
    outcomes = repo.page_of_outcomes(
        session,
        repo.outcomes_query(account_ids=[account_id], actor=None, since=None, until=None),
        limit=HISTORY_LIMIT,
        offset=0,
    )[0]
    own_holds = holds.list_holds(session, account_id=account_id)
    person_holds = [
        h
        for other in sibling_ids
        if other != account_id
        for h in holds.list_holds(session, account_id=other)
        if h.hold_type in PERSON_HOLDS
    ]
    all_holds = sorted(own_holds + person_holds, key=lambda h: h.hold_id, reverse=True)
    claim = repo.claims_of(session, [account_id]).get(account_id)
    return {
        "account_id": account_id,
        "as_of": as_of.isoformat(),
        "role": role,
        "customer": {
            **shown,
            "preferred_language": customer.preferred_language,
            "timezone": customer.timezone,
            "credit_grade": customer.credit_grade,
            "phone_flag": _phone_flag(session, sibling_ids),
        },
        "account": {
            "account_id": account.account_id,
            "product": account.product,
            "product_name": account.product_name,
            "open_date": account.open_date.isoformat(),
            "currency": account.currency,
            "credit_limit_fen": account.credit_limit_fen,
            "loan_amount_fen": account.loan_amount_fen,
            "term_months": account.term_months,
            "status": account.status,
        },
        "balances": _state_json(state) if state else None,
        "accounts": [
            {
                "account_id": a.account_id,
                "product": a.product,
                "status": a.status,
                **(_state_json(states[a.account_id]) if a.account_id in states else {}),
            }
            for a in siblings
        ],
        "dpd_history": [
            {
                "as_of": day.isoformat(),
                "days_past_due": s.days_past_due,
                "bucket": s.bucket,
                "amount_overdue_fen": s.arrears_fen,
            }
            for day, s in repo.dpd_history(session, account_id, as_of)
        ],
        "bucket_history": _bucket_history(session, account_id, as_of),
        "claim": None
        if claim is None
        else {"collector": claim.collector, "expires_at": aware(claim.expires_at).isoformat()},
        "contacts": {
            "outcomes": [outcome_json(o) for o in outcomes],
            "messages": [
                {
                    "message_id": m.message_id,
                    "channel": m.channel,
                    "template": m.template,
                    "tone": m.tone,
                    "contact_date": m.contact_date.isoformat(),
                    "status": m.status,
                    "sent_at": aware(m.sent_at).isoformat() if m.sent_at else None,
                }
                for m in repo.messages_of(session, account_id, HISTORY_LIMIT)
            ],
            "work_items": [
                {
                    "work_item_id": i.work_item_id,
                    "channel": i.channel,
                    "queue": i.queue,
                    "contact_date": i.contact_date.isoformat(),
                    "template": i.template,
                    "tone": i.tone,
                    "segment": i.segment,
                    "stage": i.stage,
                    "priority": i.priority,
                    "status": i.status,
                    "status_reason": i.status_reason,
                    "assigned_to": i.assigned_to,
                }
                for i in items
            ],
        },
        "arrangements": [
            arrangement_service.show(session, a.arrangement_id)
            for a in reversed(arrangement_service.list_arrangements(session, account_id=account_id))
        ],
        "hardship": [
            hardship_service.show_hardship(session, h.hardship_id)
            for h in reversed(hardship_service.list_hardship(session, account_id=account_id))
        ],
        "holds": _holds_by_time(all_holds, as_of),
        "script": _script(
            settings, open_item, language=language, name=shown["name"] or "", state=state
        ),
        "offers": _offers(session, settings, account_id, as_of) if with_offers else None,
    }


def _bucket_history(session: Session, account_id: str, as_of: date) -> list[dict[str, Any]]:
    """The account's delinquency spells (bucket, how it got there, from, until) as the newest
    snapshot on or before `as_of` rebuilt them from the whole history the bank delivered:
    months of history even when only one snapshot was imported."""
    portfolio = PortfolioRepository(session)
    snapshot = portfolio.snapshot_on_or_before(as_of)
    if snapshot is None:
        return []
    return [
        {
            "bucket": spell.bucket,
            "event": spell.event,
            "started_on": spell.started_on.isoformat(),
            "ended_on": spell.ended_on.isoformat() if spell.ended_on else None,
        }
        for spell in portfolio.spells(snapshot.snapshot_id, account_id)
    ]
