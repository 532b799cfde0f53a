"""Arrangements as records: their states, who may approve them, and how payments judge them.

Pure rules, no I/O. Money is integer fen.

Lifecycle (every transition an audit event with who, when and why):

    proposed ──► approved ──► active ──► kept        (a promise to pay, fully met)
        │            │          │   └──► completed   (a plan: every line met)
        ├──► rejected│          └──────► broken      (a line missed past grace, or underpaid)
        └──► cancelled ◄────────┘ (from proposed, approved or active, with a reason)

An approved arrangement becomes active on its start date (the nightly run's monitoring does it).
Payments after the proposal's as-of date are allocated to the lines oldest first, each line up to
its amount; what is left over stays with the account. A line is *met* once at least `tolerance`
(default 95%) of it is paid, *missed* once `grace_days` have passed after its due date without
that. One missed line breaks the arrangement; all lines met fulfils it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from huancui.arrangements.policy import ArrangementPolicy, Kind, RoleLimits
from huancui.kit.errors import Conflict
from huancui.kit.money import format_yuan

STATUSES = (
    "proposed",
    "approved",
    "rejected",
    "active",
    "kept",
    "completed",
    "broken",
    "cancelled",
)
OPEN_STATUSES = ("proposed", "approved", "active")
_NEXT: dict[str, frozenset[str]] = {
    "proposed": frozenset({"approved", "rejected", "cancelled"}),
    "approved": frozenset({"active", "cancelled"}),
    "active": frozenset({"kept", "completed", "broken", "cancelled"}),
}
POLICY_ACTOR = "policy"


def check_transition(what: str, current: str, target: str) -> None:
    if target not in _NEXT.get(current, frozenset()):
        allowed = ", ".join(sorted(_NEXT.get(current, frozenset()))) or "nothing (final)"
        raise Conflict(f"{what} is {current}: it cannot become {target} (allowed: {allowed})")


def fulfilled_status(kind: Kind) -> str:
    return "kept" if kind == "ptp" else "completed"


@dataclass(frozen=True)
class Needs:
    """What approving a proposal commits the bank to, compared with a role's limits."""

    kind: str  # an arrangement kind or "hardship"
    ptp_days: int = 0
    term_months: int = 0
    deferral_months: int = 0
    waived_fen: int = 0
    discount_share: Decimal = Decimal(0)
    hardship_days: int = 0


def authority_gaps(limits: RoleLimits, needs: Needs) -> list[str]:
    """Why `limits` do not cover `needs` (empty: they do)."""
    gaps = []
    if needs.ptp_days > limits.ptp_days:
        gaps.append(f"a promise {needs.ptp_days} days out (limit {limits.ptp_days})")
    if needs.term_months > limits.term_months:
        gaps.append(f"a term of {needs.term_months} months (limit {limits.term_months})")
    if needs.deferral_months > limits.deferral_months:
        gaps.append(
            f"a deferral of {needs.deferral_months} months (limit {limits.deferral_months})"
        )
    if needs.waived_fen > limits.waiver_fen:
        gaps.append(
            f"a waiver of {format_yuan(needs.waived_fen)} (limit {format_yuan(limits.waiver_fen)})"
        )
    if needs.discount_share > limits.settlement_discount:
        gaps.append(
            f"a settlement discount of {needs.discount_share:.2%}"
            f" (limit {limits.settlement_discount:.2%})"
        )
    if needs.hardship_days > limits.hardship_days:
        gaps.append(f"a pause of {needs.hardship_days} days (limit {limits.hardship_days})")
    return gaps


def approving_roles(policy: ArrangementPolicy, needs: Needs) -> list[str]:
    """The roles of the matrix (besides `auto`) whose limits cover `needs`, lowest first."""
    return [
        role
        for role, limits in policy.authority.items()
        if role != "auto" and not authority_gaps(limits, needs)
    ]


def auto_approved(policy: ArrangementPolicy, needs: Needs) -> bool:
    auto = policy.authority.get("auto")
    return auto is not None and not authority_gaps(auto, needs)


@dataclass(frozen=True)
class Line:
    line_no: int
    due_date: date
    amount_due_fen: int
    paid_fen: int = 0


@dataclass(frozen=True)
class Payment:
    payment_id: str
    paid_date: date
    amount_fen: int


@dataclass(frozen=True)
class Allocation:
    payment_id: str
    line_no: int
    paid_date: date
    amount_fen: int


def allocate(
    lines: Sequence[Line], payments: Sequence[Payment], already: dict[str, int]
) -> list[Allocation]:
    """Spread new payments over the lines, oldest line first, each up to its amount.

    `already`: fen of each payment allocated in earlier passes (to this arrangement), so calling
    again with the same payments allocates nothing twice. Payments go in (date, id) order.
    """
    room = {line.line_no: line.amount_due_fen - line.paid_fen for line in lines}
    order = sorted(lines, key=lambda line: (line.due_date, line.line_no))
    result: list[Allocation] = []
    for payment in sorted(payments, key=lambda p: (p.paid_date, p.payment_id)):
        left = payment.amount_fen - already.get(payment.payment_id, 0)
        for line in order:
            if left <= 0:
                break
            take = min(left, room[line.line_no])
            if take > 0:
                result.append(Allocation(payment.payment_id, line.line_no, payment.paid_date, take))
                room[line.line_no] -= take
                left -= take
    return result


def line_met(line: Line, tolerance: Decimal) -> bool:
    return Decimal(line.paid_fen) >= tolerance * Decimal(line.amount_due_fen)


def line_missed(line: Line, as_of: date, *, grace_days: int, tolerance: Decimal) -> bool:
    return as_of > line.due_date + timedelta(days=grace_days) and not line_met(line, tolerance)


@dataclass(frozen=True)
class Standing:
    """How an active arrangement stands on an as-of date."""

    state: str  # "good", "fulfilled" or "broken"
    missed_line: Line | None = None

    def reason(self, tolerance: Decimal) -> str:
        if self.missed_line is None:
            return "every line paid" if self.state == "fulfilled" else "in good standing"
        line = self.missed_line
        return (
            f"line {line.line_no} due {line.due_date}: {format_yuan(line.paid_fen)} paid of"
            f" {format_yuan(line.amount_due_fen)} (needs {tolerance:.0%}) after the grace days"
        )


def judge(lines: Sequence[Line], as_of: date, *, grace_days: int, tolerance: Decimal) -> Standing:
    for line in sorted(lines, key=lambda line: (line.due_date, line.line_no)):
        if line_missed(line, as_of, grace_days=grace_days, tolerance=tolerance):
            return Standing("broken", line)
    if all(line_met(line, tolerance) for line in lines):
        return Standing("fulfilled")
    return Standing("good")
