"""Use cases of arrangements and the 缓催 hardship pause. Each takes a session (a unit of work
the caller commits) and the actor's username; every state change is an audit event.

Proposals are checked against the arrangements policy (eligibility of the account's segment and
product, counts per year), priced by the calculators (quote.py) on the account's snapshot of the
as-of date, and approved under the authority matrix: within `auto` limits by the policy itself,
otherwise by an active user whose role's limits cover it and who did not propose it (four eyes).
An approved arrangement holds the account (`hold.arrangement`) from its start date, so the
nightly run stops dunning someone who is keeping their word; monitor.py judges it from payments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.access.users import staff
from huancui.arrangements.model import (
    OPEN_STATUSES,
    POLICY_ACTOR,
    Needs,
    approving_roles,
    authority_gaps,
    auto_approved,
    check_transition,
)
from huancui.arrangements.monitor import end_arrangement_holds
from huancui.arrangements.policy import KINDS, ArrangementPolicy, Kind, KindRule
from huancui.arrangements.quote import (
    Component,
    Method,
    ScheduleLine,
    quote_deferral,
    quote_installment,
    quote_settlement,
    quote_waiver,
)
from huancui.arrangements.tables import (
    ArrangementLineRow,
    ArrangementRow,
    HardshipRow,
)
from huancui.contact import holds
from huancui.kit.errors import Conflict, InvalidInput, NotFound, NotPermitted
from huancui.kit.money import format_yuan, round_half_up
from huancui.kit.settings import Settings
from huancui.portfolio.snapshot_store import snapshot_dir
from huancui.portfolio.tables import AccountRow, AccountSnapshotRow, CustomerRow, SnapshotRow
from huancui.strategy.explain import segment_of
from huancui.strategy.pipeline import planned_date_for
from huancui.strategy.scores import scores_dir
from huancui.strategy.service import active_strategy

PPM = Decimal(1_000_000)
YEAR_DAYS = 365


# ---------------------------------------------------------------------------------------------
# The account as the proposal sees it


@dataclass(frozen=True)
class AccountFacts:
    """An account on an as-of date: its snapshot, terms, customer and segment."""

    as_of: date
    account: AccountRow
    snapshot: AccountSnapshotRow
    customer: CustomerRow
    segment: str

    @property
    def annual_rate(self) -> Decimal:
        return Decimal(self.account.annual_rate_ppm) / PPM

    @property
    def default_financed_fen(self) -> int:
        """What an instalment plan spreads by default: a card's whole balance (a personalised
        instalment agreement), a loan's arrears (a catch-up plan beside its own schedule)."""
        if self.account.product == "credit_card":
            return self.snapshot.balance_fen
        return self.snapshot.arrears_fen

    @property
    def remaining_months(self) -> int:
        """A loan's months left on its term (12 when unknown, and for cards)."""
        term = self.account.term_months
        if not term:
            return 12
        elapsed = (self.as_of.year - self.account.open_date.year) * 12 + (
            self.as_of.month - self.account.open_date.month
        )
        return max(1, term - elapsed)


def account_facts(
    session: Session, settings: Settings, account_id: str, as_of: date
) -> AccountFacts:
    snapshot = session.scalars(select(SnapshotRow).where(SnapshotRow.as_of == as_of)).first()
    if snapshot is None:
        raise NotFound(
            f"no snapshot for {as_of}; import one first: huancui import DIR --as-of {as_of}"
        )
    state = session.get(AccountSnapshotRow, (snapshot.snapshot_id, account_id))
    account = session.get(AccountRow, account_id)
    if state is None or account is None:
        raise NotFound(f"account {account_id} is not in the snapshot of {as_of}")
    customer = session.get(CustomerRow, account.customer_id)
    assert customer is not None
    # The segment the nightly run of this date gives the account: the version in force on
    # its contact day.
    name, strategy = active_strategy(session, on=planned_date_for(as_of))
    accounts_file = snapshot_dir(settings.snapshots_dir, as_of) / "accounts.parquet"
    segment = segment_of(
        accounts_file, strategy, account_id, scores=scores_dir(settings.home, as_of)
    )
    if segment is None:
        raise NotPermitted(f"account {account_id} matches no segment of strategy {name} on {as_of}")
    return AccountFacts(as_of, account, state, customer, segment)


# ---------------------------------------------------------------------------------------------
# Proposals


@dataclass(frozen=True)
class Proposal:
    """What a collector (or the customer, through the portal) asks for. Amounts in fen."""

    kind: Kind
    # ptp
    amount_fen: int | None = None
    pay_by: date | None = None
    # installment / deferral
    months: int | None = None
    method: Method | None = None
    annual_rate: Decimal | None = None
    monthly_fee_rate: Decimal | None = None
    down_payment_fen: int = 0
    financed_fen: int | None = None
    holiday_months: int | None = None
    capitalise: bool = True
    # waiver
    components: tuple[Component, ...] = ()
    share: Decimal | None = None
    # settlement
    discount_share: Decimal | None = None
    lump_sum_fen: int | None = None


@dataclass(frozen=True)
class Priced:
    """A proposal priced on the account: its lines and what approving it commits the bank to."""

    lines: tuple[tuple[date, int, int, int, int], ...]  # due, amount, principal, interest, fee
    needs: Needs
    terms: dict[str, Any]
    quote: dict[str, Any]
    waived_fen: int = 0
    discount_share: Decimal = Decimal(0)
    term_months: int = 0

    @property
    def total_due_fen(self) -> int:
        return sum(line[1] for line in self.lines)

    @property
    def burden_fen(self) -> int:
        return max((line[1] for line in self.lines), default=0)


def _first_due(as_of: date) -> date:
    return as_of + timedelta(days=30)


def _schedule_lines(lines: Sequence[ScheduleLine]) -> tuple[tuple[date, int, int, int, int], ...]:
    return tuple(
        (x.due_date, x.payment_fen, x.principal_fen, x.interest_fen, x.fee_fen)
        for x in lines
        if x.payment_fen > 0
    )


def price(facts: AccountFacts, proposal: Proposal, *, holiday_country: str = "CN") -> Priced:
    """The lines of the proposal on this account (calculators of quote.py)."""
    s = facts.snapshot
    as_of = facts.as_of
    if proposal.kind == "ptp":
        if proposal.pay_by is None or proposal.pay_by <= as_of:
            raise InvalidInput(f"--pay-by: a promise needs a date after {as_of}")
        amount = proposal.amount_fen if proposal.amount_fen is not None else s.arrears_fen
        if amount <= 0:
            raise InvalidInput("--amount: a promise is for a positive amount")
        days = (proposal.pay_by - as_of).days
        return Priced(
            lines=((proposal.pay_by, amount, 0, 0, 0),),
            needs=Needs("ptp", ptp_days=days),
            terms={"amount": format_yuan(amount), "pay_by": proposal.pay_by.isoformat()},
            quote={"promised": format_yuan(amount), "pay_by": proposal.pay_by.isoformat()},
        )
    if proposal.kind == "installment":
        months = 12 if proposal.months is None else proposal.months
        financed = (
            proposal.financed_fen
            if proposal.financed_fen is not None
            else facts.default_financed_fen
        )
        rate = proposal.annual_rate
        if rate is None and proposal.monthly_fee_rate is None:
            rate = facts.annual_rate
        iq = quote_installment(
            principal_fen=financed,
            months=months,
            first_due=_first_due(as_of),
            annual_rate=rate,
            monthly_fee_rate=proposal.monthly_fee_rate,
            method=proposal.method,
            down_payment_fen=proposal.down_payment_fen,
            start=as_of + timedelta(days=1),
            holiday_country=holiday_country,
        )
        return Priced(
            lines=_schedule_lines(iq.schedule.lines),
            needs=Needs("installment", term_months=months),
            terms={"financed": format_yuan(financed), "months": months, "method": str(iq.method)},
            quote=iq.as_json(),
            term_months=months,
        )
    if proposal.kind == "deferral":
        holiday = 1 if proposal.holiday_months is None else proposal.holiday_months
        remaining = facts.remaining_months if proposal.months is None else proposal.months
        dq = quote_deferral(
            principal_fen=proposal.financed_fen
            if proposal.financed_fen is not None
            else s.balance_fen,
            annual_rate=proposal.annual_rate
            if proposal.annual_rate is not None
            else facts.annual_rate,
            remaining_months=remaining,
            holiday_months=holiday,
            first_due=_first_due(as_of),
            capitalise=proposal.capitalise,
            holiday_country=holiday_country,
        )
        return Priced(
            lines=_schedule_lines(dq.schedule.lines),
            needs=Needs("deferral", deferral_months=holiday),
            terms={"holiday_months": holiday, "capitalise": proposal.capitalise},
            quote=dq.as_json(),
            term_months=holiday + remaining,
        )
    if proposal.kind == "waiver":
        pay_by = proposal.pay_by or as_of + timedelta(days=30)
        chosen = proposal.components or (Component.FEES, Component.INTEREST)
        wq = quote_waiver(
            penalty_interest_fen=0,
            interest_fen=s.arrears_interest_fen,
            fees_fen=s.arrears_fee_fen,
            principal_fen=s.arrears_principal_fen,
            components=chosen,
            amount_fen=proposal.amount_fen,
            share=proposal.share,
        )
        if wq.customer_saves_fen == 0:
            raise InvalidInput("--components: nothing is overdue on them to waive")
        return Priced(
            lines=((pay_by, wq.amount_due_after_fen, 0, 0, 0),),
            needs=Needs("waiver", waived_fen=wq.customer_saves_fen),
            terms={
                "pay_by": pay_by.isoformat(),
                "components": [str(c) for c in chosen],
            },
            quote=wq.as_json(),
            waived_fen=wq.customer_saves_fen,
        )
    deadline = proposal.pay_by or as_of + timedelta(days=30)
    sq = quote_settlement(
        principal_fen=s.principal_fen,
        interest_fen=s.interest_fen,
        fees_fen=s.fees_fen,
        penalty_interest_fen=0,
        deadline=deadline,
        discount_share=proposal.discount_share,
        lump_sum_fen=proposal.lump_sum_fen,
        holiday_country=holiday_country,
    )
    return Priced(
        lines=((sq.deadline, sq.lump_sum_fen, 0, 0, 0),),
        needs=Needs("settlement", discount_share=sq.discount_share),
        terms={"deadline": sq.deadline.isoformat()},
        quote=sq.as_json(),
        waived_fen=sq.discount_fen,
        discount_share=sq.discount_share,
    )


def eligibility_problems(
    session: Session,
    policy: ArrangementPolicy,
    facts: AccountFacts,
    proposal: Proposal,
    priced: Priced,
) -> list[str]:
    """Why the policy does not allow this proposal for this account (empty: it does)."""
    rule = policy.rule(facts.segment, facts.account.product, proposal.kind)
    if rule is None:
        offered = [k for k in policy.eligibility.get(facts.segment, {})]
        return [
            f"segment {facts.segment} is not offered {proposal.kind}"
            f" (offered: {', '.join(offered) or 'nothing'})"
        ]
    problems = _rule_problems(rule, proposal, priced, policy)
    if rule.per_year is not None:
        used = count_in_year(session, facts.account.account_id, proposal.kind, facts.as_of)
        if used >= rule.per_year:
            problems.append(
                f"{used} {proposal.kind} arrangement(s) in the 12 months to {facts.as_of}"
                f" (at most {rule.per_year} for segment {facts.segment})"
            )
    return problems


def _rule_problems(
    rule: KindRule, proposal: Proposal, priced: Priced, policy: ArrangementPolicy
) -> list[str]:
    problems = []
    n = priced.needs
    if rule.max_days is not None and n.ptp_days > rule.max_days:
        problems.append(f"a promise {n.ptp_days} days out (at most {rule.max_days})")
    if proposal.kind == "installment":
        cap = min(
            rule.max_term_months or policy.limits.max_term_months, policy.limits.max_term_months
        )
        if n.term_months > cap:
            problems.append(f"a term of {n.term_months} months (at most {cap})")
    if rule.max_months is not None and n.deferral_months > rule.max_months:
        problems.append(f"a deferral of {n.deferral_months} months (at most {rule.max_months})")
    if proposal.kind == "waiver":
        chosen = proposal.components or (Component.FEES, Component.INTEREST)
        allowed = set(rule.components or ())
        extra = [str(c) for c in chosen if str(c) not in allowed]
        if extra:
            problems.append(f"waiving {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})")
        before = sum(
            Decimal(line["before"])
            for line in priced.quote["lines"]
            if line["component"] in map(str, chosen)
        )
        waived = Decimal(priced.waived_fen) / 100
        if rule.max_share is not None and before > 0 and waived / before > rule.max_share:
            problems.append(f"a waiver of {waived / before:.2%} (at most {rule.max_share:.2%})")
    if rule.max_discount is not None and priced.discount_share > rule.max_discount:
        problems.append(
            f"a settlement discount of {priced.discount_share:.2%} (at most {rule.max_discount:.2%})"
        )
    return problems


def count_in_year(session: Session, account_id: str, kind: str, as_of: date) -> int:
    """Arrangements of `kind` proposed for the account in the 12 months to `as_of`, not counting
    rejected or cancelled ones."""
    found = session.scalar(
        select(func.count()).where(
            ArrangementRow.account_id == account_id,
            ArrangementRow.kind == kind,
            ArrangementRow.proposed_on > as_of - timedelta(days=YEAR_DAYS),
            ArrangementRow.status.not_in(("rejected", "cancelled")),
        )
    )
    return int(found or 0)


def _arrangement_json(row: ArrangementRow) -> dict[str, Any]:
    return {
        "arrangement_id": row.arrangement_id,
        "account_id": row.account_id,
        "kind": row.kind,
        "status": row.status,
        "segment": row.segment,
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat(),
        "total_due": format_yuan(row.total_due_fen),
        "waived": format_yuan(row.waived_fen),
        "discount_share": row.discount_share,
        "term_months": row.term_months,
        "monthly_burden": format_yuan(row.monthly_burden_fen),
        "proposed_by": row.proposed_by,
        "decided_by": row.decided_by,
        "hardship_id": row.hardship_id,
    }


def propose(
    session: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    *,
    account_id: str,
    as_of: date,
    proposal: Proposal,
    actor: str,
    reason: str,
    hardship_id: int | None = None,
) -> ArrangementRow:
    """Record a proposal (approved at once when within the policy's `auto` limits)."""
    if not reason.strip():
        raise InvalidInput("--reason: say why (what the customer said, what they can pay)")
    facts = account_facts(session, settings, account_id, as_of)
    if facts.snapshot.arrears_fen <= 0:
        raise Conflict(f"account {account_id} has nothing overdue on {as_of}")
    open_one = session.scalars(
        select(ArrangementRow).where(
            ArrangementRow.account_id == account_id, ArrangementRow.status.in_(OPEN_STATUSES)
        )
    ).first()
    if open_one is not None:
        raise Conflict(
            f"account {account_id} already has arrangement {open_one.arrangement_id}"
            f" ({open_one.kind}, {open_one.status}); cancel it first"
        )
    if hardship_id is not None:
        pause = session.get(HardshipRow, hardship_id)
        if pause is None:
            raise NotFound(f"hardship application {hardship_id} does not exist")
        if pause.account_id != account_id:
            raise InvalidInput(
                f"--after-hardship: application {hardship_id} is about account"
                f" {pause.account_id}, not {account_id}"
            )
    priced = price(facts, proposal)
    if not priced.lines:
        raise InvalidInput("the proposal leaves nothing to pay")
    problems = eligibility_problems(session, policy, facts, proposal, priced)
    if problems:
        raise NotPermitted(
            f"account {account_id} (segment {facts.segment}, {facts.account.product}) is not"
            f" eligible: {'; '.join(problems)}"
        )
    now = datetime.now(UTC)
    row = ArrangementRow(
        account_id=account_id,
        customer_id=facts.account.customer_id,
        kind=proposal.kind,
        status="proposed",
        segment=facts.segment,
        product=facts.account.product,
        proposed_on=as_of,
        start_date=as_of + timedelta(days=1),
        end_date=max(line[0] for line in priced.lines),
        terms=priced.terms,
        quote=priced.quote,
        total_due_fen=priced.total_due_fen,
        waived_fen=priced.waived_fen,
        discount_share=str(priced.discount_share),
        term_months=priced.term_months,
        monthly_burden_fen=priced.burden_fen,
        hardship_id=hardship_id,
        proposed_by=actor,
        proposed_at=now,
        proposal_reason=reason.strip(),
        updated_at=now,
    )
    session.add(row)
    session.flush()
    for number, (due, amount, principal, interest, fee) in enumerate(priced.lines, start=1):
        session.add(
            ArrangementLineRow(
                arrangement_id=row.arrangement_id,
                line_no=number,
                due_date=due,
                amount_due_fen=amount,
                principal_fen=principal,
                interest_fen=interest,
                fee_fen=fee,
                paid_fen=0,
                status="due",
            )
        )
    audit.record(
        session,
        actor=actor,
        action="arrangement.proposed",
        entity_type="arrangement",
        entity_id=str(row.arrangement_id),
        after=_arrangement_json(row),
        reason=row.proposal_reason,
    )
    if auto_approved(policy, priced.needs):
        _approve(
            session,
            policy,
            row,
            actor=POLICY_ACTOR,
            role="auto",
            reason="within the policy's automatic limits",
        )
    return row


def needs(row: ArrangementRow) -> Needs:
    return Needs(
        row.kind,
        ptp_days=(row.end_date - row.proposed_on).days if row.kind == "ptp" else 0,
        term_months=row.term_months if row.kind == "installment" else 0,
        deferral_months=int(row.terms.get("holiday_months", 0)) if row.kind == "deferral" else 0,
        waived_fen=row.waived_fen if row.kind == "waiver" else 0,
        discount_share=Decimal(row.discount_share) if row.kind == "settlement" else Decimal(0),
    )


def _get(session: Session, arrangement_id: int) -> ArrangementRow:
    row = session.get(ArrangementRow, arrangement_id)
    if row is None:
        raise NotFound(f"arrangement {arrangement_id} does not exist")
    return row


def check_authority(
    session: Session, policy: ArrangementPolicy, actor: str, proposer: str, needs: Needs, what: str
) -> str:
    """The approver's role, or NotPermitted saying why not and who could."""
    user = staff(session, actor)
    if actor == proposer:
        raise NotPermitted(f"{actor} proposed {what}: someone else must decide it (four eyes)")
    limits = policy.authority.get(user.role)
    if limits is None:
        raise NotPermitted(f"{actor} is a {user.role}: that role approves nothing")
    gaps = authority_gaps(limits, needs)
    if gaps:
        could = approving_roles(policy, needs)
        raise NotPermitted(
            f"{actor} ({user.role}) may not approve {'; '.join(gaps)}; "
            + (f"it needs a {' or '.join(could)}" if could else "no role may approve it")
        )
    return user.role


def _approve(
    session: Session,
    policy: ArrangementPolicy,
    row: ArrangementRow,
    *,
    actor: str,
    role: str,
    reason: str,
) -> None:
    check_transition(f"arrangement {row.arrangement_id}", row.status, "approved")
    row.status, row.decided_by, row.decided_role = "approved", actor, role
    row.decided_at = row.updated_at = datetime.now(UTC)
    row.decision_reason = reason
    audit.record(
        session,
        actor=actor,
        action="arrangement.approved",
        entity_type="arrangement",
        entity_id=str(row.arrangement_id),
        before={"status": "proposed"},
        after={"status": "approved", "role": role},
        reason=reason,
    )
    holds.place(
        session,
        account_id=row.account_id,
        hold_type="arrangement",
        start=row.start_date,
        end=row.end_date + timedelta(days=policy.monitoring.grace_days),
        reason=f"{row.kind} arrangement {row.arrangement_id} in good standing",
        actor=actor,
        source="arrangement",
        source_id=str(row.arrangement_id),
    )


def approve(
    session: Session, policy: ArrangementPolicy, arrangement_id: int, *, actor: str, reason: str
) -> ArrangementRow:
    row = _get(session, arrangement_id)
    check_transition(f"arrangement {arrangement_id}", row.status, "approved")
    role = check_authority(
        session, policy, actor, row.proposed_by, needs(row), f"arrangement {arrangement_id}"
    )
    _approve(session, policy, row, actor=actor, role=role, reason=reason.strip() or "approved")
    return row


def reject(
    session: Session, policy: ArrangementPolicy, arrangement_id: int, *, actor: str, reason: str
) -> ArrangementRow:
    row = _get(session, arrangement_id)
    check_transition(f"arrangement {arrangement_id}", row.status, "rejected")
    if not reason.strip():
        raise InvalidInput("--reason: say why it is rejected (the customer will be told)")
    user = staff(session, actor)
    if actor == row.proposed_by:
        raise NotPermitted(f"{actor} proposed arrangement {arrangement_id}: cancel it instead")
    if user.role not in policy.authority:
        raise NotPermitted(f"{actor} is a {user.role}: that role decides no arrangements")
    row.status, row.decided_by, row.decided_role = "rejected", actor, user.role
    row.decided_at = row.updated_at = datetime.now(UTC)
    row.decision_reason = reason.strip()
    audit.record(
        session,
        actor=actor,
        action="arrangement.rejected",
        entity_type="arrangement",
        entity_id=str(arrangement_id),
        before={"status": "proposed"},
        after={"status": "rejected"},
        reason=row.decision_reason,
    )
    return row


def cancel(
    session: Session, arrangement_id: int, *, actor: str, reason: str, as_of: date
) -> ArrangementRow:
    """Withdraw a proposal or end an approved or active arrangement (the customer asked, the
    terms were wrong); its hold ends on `as_of`, so the next run treats the account again."""
    row = _get(session, arrangement_id)
    check_transition(f"arrangement {arrangement_id}", row.status, "cancelled")
    if not reason.strip():
        raise InvalidInput("--reason: say why it is cancelled")
    staff(session, actor)
    before = row.status
    row.status, row.status_reason, row.updated_at = "cancelled", reason.strip(), datetime.now(UTC)
    audit.record(
        session,
        actor=actor,
        action="arrangement.cancelled",
        entity_type="arrangement",
        entity_id=str(arrangement_id),
        before={"status": before},
        after={"status": "cancelled"},
        reason=row.status_reason,
    )
    end_arrangement_holds(
        session, arrangement_id, last_day=as_of, actor=actor, why=row.status_reason
    )
    return row


def show(session: Session, arrangement_id: int) -> dict[str, Any]:
    row = _get(session, arrangement_id)
    lines = session.scalars(
        select(ArrangementLineRow)
        .where(ArrangementLineRow.arrangement_id == arrangement_id)
        .order_by(ArrangementLineRow.line_no)
    )
    return {
        **_arrangement_json(row),
        "terms": row.terms,
        "quote": row.quote,
        "proposal_reason": row.proposal_reason,
        "decision_reason": row.decision_reason,
        "status_reason": row.status_reason,
        "lines": [
            {
                "line_no": x.line_no,
                "due_date": x.due_date.isoformat(),
                "amount_due": format_yuan(x.amount_due_fen),
                "paid": format_yuan(x.paid_fen),
                "status": x.status,
            }
            for x in lines
        ],
        "history": history(session, "arrangement", str(arrangement_id)),
    }


def history(session: Session, entity_type: str, entity_id: str) -> list[dict[str, Any]]:
    from huancui.access.tables import AuditEventRow

    return [
        {
            "at": e.occurred_at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "reason": e.reason,
        }
        for e in session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.entity_type == entity_type, AuditEventRow.entity_id == entity_id)
            .order_by(AuditEventRow.event_id)
        )
    ]


def list_arrangements(
    session: Session, *, account_id: str | None = None, status: str | None = None
) -> list[ArrangementRow]:
    query = select(ArrangementRow).order_by(ArrangementRow.arrangement_id)
    if account_id:
        query = query.where(ArrangementRow.account_id == account_id)
    if status:
        query = query.where(ArrangementRow.status == status)
    return list(session.scalars(query))


# ---------------------------------------------------------------------------------------------
# Offers


def offers(
    session: Session, settings: Settings, policy: ArrangementPolicy, *, account_id: str, as_of: date
) -> dict[str, Any]:
    """The options this account is eligible for today, each with the customer's monthly burden
    and the bank's expected recovery (amount × the policy's expected keep rate for the kind, a
    documented assumption until models replace it)."""
    facts = account_facts(session, settings, account_id, as_of)
    s = facts.snapshot
    candidates: list[Proposal] = []
    for kind in KINDS:
        rule = policy.rule(facts.segment, facts.account.product, kind)
        if rule is None:
            continue
        if kind == "ptp":
            candidates.append(
                Proposal(
                    "ptp",
                    amount_fen=s.arrears_fen,
                    pay_by=as_of + timedelta(days=rule.max_days or 14),
                )
            )
        elif kind == "installment":
            cap = min(
                rule.max_term_months or policy.limits.max_term_months, policy.limits.max_term_months
            )
            candidates += [
                Proposal("installment", months=m) for m in (3, 6, 12, 24, 36, 60) if m <= cap
            ]
        elif kind == "deferral":
            candidates.append(Proposal("deferral", holiday_months=rule.max_months or 1))
        elif kind == "waiver":
            comps = tuple(
                Component(c) for c in (rule.components or ("fees",)) if c != "penalty_interest"
            )
            candidates.append(
                Proposal("waiver", components=comps, share=rule.max_share or Decimal(0))
            )
        else:
            candidates.append(
                Proposal("settlement", discount_share=rule.max_discount or Decimal(0))
            )
    options: list[dict[str, Any]] = []
    income = facts.customer.monthly_income_fen
    for proposal in candidates:
        try:
            priced = price(facts, proposal)
        except InvalidInput as exc:
            options.append({"kind": proposal.kind, "available": False, "why": str(exc)})
            continue
        problems = eligibility_problems(session, policy, facts, proposal, priced)
        keep = policy.expected_keep_rate[proposal.kind]
        burden = priced.burden_fen
        options.append(
            {
                "kind": proposal.kind,
                "available": not problems,
                "why": "; ".join(problems) or None,
                "terms": priced.terms,
                "lines": len(priced.lines),
                "total_to_pay": format_yuan(priced.total_due_fen),
                "monthly_burden": format_yuan(burden),
                "burden_share_of_income": (
                    f"{Decimal(burden) / Decimal(income):.2%}" if income else None
                ),
                "bank_forgoes": format_yuan(priced.waived_fen),
                "expected_keep_rate": str(keep),
                "expected_recovery": format_yuan(
                    round_half_up(Decimal(priced.total_due_fen) * keep)
                ),
                "approval": "automatic"
                if auto_approved(policy, priced.needs)
                else " or ".join(approving_roles(policy, priced.needs)) or "nobody",
            }
        )
    return {
        "account_id": account_id,
        "as_of": as_of.isoformat(),
        "segment": facts.segment,
        "product": facts.account.product,
        "arrears": format_yuan(s.arrears_fen),
        "balance": format_yuan(s.balance_fen),
        "days_past_due": s.days_past_due,
        "options": options,
        "estimate": "expected recovery = amount to pay × expected keep rate of the kind"
        " (policy assumption, not a model)",
    }


def latest_state(session: Session, account_id: str, as_of: date) -> AccountSnapshotRow | None:
    snapshot = session.scalars(
        select(SnapshotRow).where(SnapshotRow.as_of <= as_of).order_by(SnapshotRow.as_of.desc())
    ).first()
    if snapshot is None:
        return None
    return session.get(AccountSnapshotRow, (snapshot.snapshot_id, account_id))
