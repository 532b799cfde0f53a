"""Commands for arrangements, the 缓催 hardship pause, holds and staff users:

    huancui user add|list|set-password
    huancui arrangement propose|approve|reject|cancel|show|list
    huancui offers ACCOUNT --as-of D
    huancui hardship apply|approve|reject|withdraw|end|show|list
    huancui hold add|release|list

Thin: each command opens one unit of work, calls the service and prints the result (a table, or
JSON with --json). Business errors print their message and exit with its code (2 bad input,
3 not found, 4 conflicting state, 5 not permitted); nothing is stored when one happens.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from huancui.arrangements.policy import KINDS, ArrangementPolicy, load_arrangement_policy
from huancui.arrangements.quote import Component, Method
from huancui.cli_support import (
    JsonFlag,
    actor_or_os_user,
    emit_json,
    err,
    fail,
    in_unit_of_work,
    out,
    parse_date,
)
from huancui.kit.errors import InvalidInput
from huancui.kit.money import MoneyFormatError, format_yuan, parse_yuan
from huancui.kit.settings import Settings

user_app = typer.Typer(help="Staff users and their roles.", no_args_is_help=True)
arrangement_app = typer.Typer(
    help="Promises to pay and repayment plans: propose, approve, follow.", no_args_is_help=True
)
hardship_app = typer.Typer(help="缓催: the hardship pause on collection.", no_args_is_help=True)
hold_app = typer.Typer(help="Holds placed in huancui (dispute, legal, ...).", no_args_is_help=True)

Actor = Annotated[str | None, typer.Option(help="Who does it (default: OS user).")]
AsOf = Annotated[str, typer.Option("--as-of", help="The business date (YYYY-MM-DD).")]
Reason = Annotated[str, typer.Option(help="Why: recorded in the audit log.")]
T = TypeVar("T")


def _policy(settings: Settings) -> ArrangementPolicy:
    return load_arrangement_policy(settings.arrangement_policy).policy


def _money(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_yuan(text)
    except MoneyFormatError as exc:
        raise fail(InvalidInput(f"{option}: {exc}")) from None


def _share(text: str | None, option: str) -> Decimal | None:
    """'20%' or '0.2' → Decimal('0.2')."""
    if text is None:
        return None
    raw = text.strip()
    try:
        value = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise fail(InvalidInput(f"{option}: {text!r} is not a share (write 20% or 0.2)")) from None
    if not Decimal(0) <= value <= 1:
        raise fail(InvalidInput(f"{option}: {text!r} is not between 0% and 100%"))
    return value


def _day(text: str | None, option: str) -> date | None:
    return None if text is None else parse_date(text, option=option)


def _print(data: dict[str, Any], json_out: bool, title: str) -> None:
    if json_out:
        emit_json(data)
        return
    table = Table(title=title, show_header=False)
    for key, value in data.items():
        if isinstance(value, list | dict):
            continue
        table.add_row(key, "" if value is None else str(value))
    out.print(table)


# ---------------------------------------------------------------------------------------------
# users


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="collector, supervisor, manager, ...")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    actor: Actor = None,
) -> None:
    """Add a member of staff with a role (the authority matrix reads it)."""
    from huancui.access.users import add_user

    row = in_unit_of_work(
        lambda s, _: (
            add_user(
                s, username=username, display_name=name, role=role, actor=actor_or_os_user(actor)
            ).username
        )
    )
    out.print(f"added {row} ({role})")


@user_app.command("list")
def user_list(json_out: JsonFlag = False) -> None:
    from huancui.access.users import list_users

    rows = in_unit_of_work(
        lambda s, _: [
            {"username": u.username, "name": u.display_name, "role": u.role, "active": u.active}
            for u in list_users(s)
        ]
    )
    if json_out:
        emit_json(rows)
        return
    table = Table("username", "name", "role", "active")
    for r in rows:
        table.add_row(str(r["username"]), str(r["name"]), str(r["role"]), str(r["active"]))
    out.print(table)


@user_app.command("set-password")
def user_set_password(
    username: Annotated[str, typer.Argument()],
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the password from standard input (scripts).")
    ] = False,
    actor: Actor = None,
) -> None:
    """Set a user's password (asked twice, not echoed; never taken as an argument, which would
    land in shell history and process lists). Signs the user out everywhere."""
    import sys
    from datetime import UTC, datetime

    from huancui.access.users import set_password

    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    in_unit_of_work(
        lambda s, _: set_password(
            s,
            username=username,
            password=password,
            actor=actor_or_os_user(actor),
            now=datetime.now(UTC),
        )
    )
    out.print(f"password set for {username}; their other sessions are signed out")


# ---------------------------------------------------------------------------------------------
# arrangements


@arrangement_app.command("propose")
def propose(
    account_id: Annotated[str, typer.Argument()],
    as_of: AsOf,
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}.")],
    reason: Reason,
    amount: Annotated[
        str | None, typer.Option(help="ptp: amount promised; waiver: amount waived (yuan).")
    ] = None,
    pay_by: Annotated[
        str | None,
        typer.Option(help="ptp: date promised; waiver: the rest paid by; settlement: deadline."),
    ] = None,
    months: Annotated[
        int | None, typer.Option(help="installment: term; deferral: months after the holiday.")
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="installment: equal-installment or equal-principal.")
    ] = None,
    annual_rate: Annotated[
        str | None, typer.Option(help="Annual rate, e.g. 18% (default: the account's).")
    ] = None,
    monthly_fee_rate: Annotated[
        str | None, typer.Option(help="installment: monthly fee rate, e.g. 0.6%.")
    ] = None,
    down_payment: Annotated[
        str | None, typer.Option(help="installment: paid up front (yuan).")
    ] = None,
    financed: Annotated[
        str | None,
        typer.Option(
            help="installment/deferral: amount spread (default: card balance / loan arrears)."
        ),
    ] = None,
    holiday_months: Annotated[
        int | None, typer.Option(help="deferral: months without payment.")
    ] = None,
    capitalise: Annotated[
        bool, typer.Option(help="deferral: add the holiday's interest to the balance.")
    ] = True,
    components: Annotated[
        str | None,
        typer.Option(help="waiver: comma-separated of penalty_interest, fees, interest."),
    ] = None,
    share: Annotated[str | None, typer.Option(help="waiver: share waived, e.g. 50%.")] = None,
    discount: Annotated[
        str | None, typer.Option(help="settlement: discount share, e.g. 20%.")
    ] = None,
    lump_sum: Annotated[str | None, typer.Option(help="settlement: the lump sum (yuan).")] = None,
    after_hardship: Annotated[
        int | None, typer.Option(help="The 缓催 application this plan follows.")
    ] = None,
    actor: Actor = None,
    json_out: JsonFlag = False,
) -> None:
    """Propose an arrangement; within the policy's automatic limits it is approved at once."""
    from huancui.arrangements import service

    if kind not in KINDS:
        raise fail(InvalidInput(f"--kind: {kind!r} is not one of {', '.join(KINDS)}"))
    try:
        chosen = tuple(Component(c.strip()) for c in components.split(",")) if components else ()
        how = Method(method) if method else None
    except ValueError as exc:
        raise fail(InvalidInput(f"--components/--method: {exc}")) from None
    proposal = service.Proposal(
        kind=kind,
        amount_fen=_money(amount, "--amount"),
        pay_by=_day(pay_by, "--pay-by"),
        months=months,
        method=how,
        annual_rate=_share(annual_rate, "--annual-rate"),
        monthly_fee_rate=_share(monthly_fee_rate, "--monthly-fee-rate"),
        down_payment_fen=_money(down_payment, "--down-payment") or 0,
        financed_fen=_money(financed, "--financed"),
        holiday_months=holiday_months,
        capitalise=capitalise,
        components=chosen,
        share=_share(share, "--share"),
        discount_share=_share(discount, "--discount"),
        lump_sum_fen=_money(lump_sum, "--lump-sum"),
    )
    day = parse_date(as_of)

    def act(session: Session, settings: Settings) -> dict[str, Any]:
        row = service.propose(
            session,
            settings,
            _policy(settings),
            account_id=account_id,
            as_of=day,
            proposal=proposal,
            actor=actor_or_os_user(actor),
            reason=reason,
            hardship_id=after_hardship,
        )
        return service.show(session, row.arrangement_id)

    shown = in_unit_of_work(act)
    _print(shown, json_out, f"arrangement {shown['arrangement_id']}")


def _decide(arrangement_id: int, actor: str | None, reason: str, verb: str, json_out: bool) -> None:
    from huancui.arrangements import service

    def act(session: Session, settings: Settings) -> dict[str, Any]:
        policy = _policy(settings)
        if verb == "approve":
            service.approve(
                session, policy, arrangement_id, actor=actor_or_os_user(actor), reason=reason
            )
        else:
            service.reject(
                session, policy, arrangement_id, actor=actor_or_os_user(actor), reason=reason
            )
        return service.show(session, arrangement_id)

    shown = in_unit_of_work(act)
    _print(shown, json_out, f"arrangement {arrangement_id}")


@arrangement_app.command("approve")
def approve(
    arrangement_id: int, reason: Reason = "", actor: Actor = None, json_out: JsonFlag = False
) -> None:
    """Approve a proposal within your role's authority (not your own)."""
    _decide(arrangement_id, actor, reason, "approve", json_out)


@arrangement_app.command("reject")
def reject(
    arrangement_id: int, reason: Reason, actor: Actor = None, json_out: JsonFlag = False
) -> None:
    """Reject a proposal (not your own), saying why."""
    _decide(arrangement_id, actor, reason, "reject", json_out)


@arrangement_app.command("cancel")
def cancel(
    arrangement_id: int,
    as_of: AsOf,
    reason: Reason,
    actor: Actor = None,
    json_out: JsonFlag = False,
) -> None:
    """Cancel a proposal or an arrangement; the account is treated again from the next run."""
    from huancui.arrangements import service

    day = parse_date(as_of)

    def act(session: Session, _: Settings) -> dict[str, Any]:
        service.cancel(
            session, arrangement_id, actor=actor_or_os_user(actor), reason=reason, as_of=day
        )
        return service.show(session, arrangement_id)

    _print(in_unit_of_work(act), json_out, f"arrangement {arrangement_id}")


@arrangement_app.command("show")
def show(arrangement_id: int, json_out: JsonFlag = False) -> None:
    """An arrangement with its lines, payments and history."""
    from huancui.arrangements import service

    shown = in_unit_of_work(lambda s, _: service.show(s, arrangement_id))
    if json_out:
        emit_json(shown)
        return
    _print(shown, False, f"arrangement {arrangement_id}")
    lines = Table("line", "due", "amount due", "paid", "status", title="lines")
    for line in shown["lines"]:
        lines.add_row(
            str(line["line_no"]), line["due_date"], line["amount_due"], line["paid"], line["status"]
        )
    out.print(lines)
    events = Table("at", "who", "what", "why", title="history")
    for e in shown["history"]:
        events.add_row(e["at"][:19], e["actor"], e["action"], e["reason"] or "")
    out.print(events)


@arrangement_app.command("list")
def list_(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    json_out: JsonFlag = False,
) -> None:
    from huancui.arrangements import service

    rows = in_unit_of_work(
        lambda s, _: [
            {
                "arrangement_id": r.arrangement_id,
                "account_id": r.account_id,
                "kind": r.kind,
                "status": r.status,
                "segment": r.segment,
                "total_due": format_yuan(r.total_due_fen),
                "end_date": r.end_date.isoformat(),
                "proposed_by": r.proposed_by,
                "decided_by": r.decided_by,
            }
            for r in service.list_arrangements(s, account_id=account, status=status)
        ]
    )
    if json_out:
        emit_json(rows)
        return
    table = Table(*(rows[0].keys() if rows else ("arrangement_id",)))
    for r in rows:
        table.add_row(*("" if v is None else str(v) for v in r.values()))
    out.print(table)


def offers(
    account_id: Annotated[str, typer.Argument()], as_of: AsOf, json_out: JsonFlag = False
) -> None:
    """The repayment options the account is eligible for, with the monthly burden and the
    bank's expected recovery."""
    from huancui.arrangements import service

    day = parse_date(as_of)
    data = in_unit_of_work(
        lambda s, settings: service.offers(
            s, settings, _policy(settings), account_id=account_id, as_of=day
        )
    )
    if json_out:
        emit_json(data)
        return
    out.print(
        f"account {account_id} on {as_of}: segment {data['segment']}, {data['product']},"
        f" {data['arrears']} overdue ({data['days_past_due']} days), balance {data['balance']}"
    )
    table = Table(
        "kind", "terms", "to pay", "monthly", "of income", "expected", "approval", "eligible"
    )
    for o in data["options"]:
        table.add_row(
            o["kind"],
            ", ".join(f"{k}={v}" for k, v in (o.get("terms") or {}).items()),
            o.get("total_to_pay", ""),
            o.get("monthly_burden", ""),
            o.get("burden_share_of_income") or "",
            o.get("expected_recovery", ""),
            o.get("approval", ""),
            "yes" if o["available"] else f"no: {o['why']}",
        )
    out.print(table)
    err.print(data["estimate"])


# ---------------------------------------------------------------------------------------------
# hardship


@hardship_app.command("apply")
def hardship_apply(
    account_id: Annotated[str, typer.Argument()],
    as_of: AsOf,
    reason_code: Annotated[
        str, typer.Option(help="job_loss, illness, disaster, family_emergency, other.")
    ],
    details: Annotated[str, typer.Option(help="The customer's situation in a few words.")],
    days: Annotated[
        int | None, typer.Option(help="Days asked for (default: the policy's maximum).")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First day (default: the day after --as-of).")
    ] = None,
    evidence: Annotated[
        list[Path] | None, typer.Option(help="A supporting file (repeatable).")
    ] = None,
    via: Annotated[str, typer.Option(help="cli, api or portal.")] = "cli",
    actor: Actor = None,
    json_out: JsonFlag = False,
) -> None:
    """Record a 缓催 application with its evidence."""
    from huancui.arrangements import hardship

    day = parse_date(as_of)
    first = _day(start, "--start")

    def act(session: Session, settings: Settings) -> dict[str, Any]:
        row = hardship.apply_hardship(
            session,
            settings,
            _policy(settings),
            account_id=account_id,
            as_of=day,
            reason_code=reason_code,
            details=details,
            start=first,
            days=days,
            evidence=evidence or [],
            actor=actor_or_os_user(actor),
            via=via,
        )
        return hardship.show_hardship(session, row.hardship_id)

    shown = in_unit_of_work(act)
    _print(shown, json_out, f"hardship application {shown['hardship_id']}")
    if not json_out:
        _accrual_note(shown)


def _accrual_note(shown: dict[str, Any]) -> None:
    if shown["interest_accrues"]:
        out.print(
            f"Interest keeps accruing during the pause: about {shown['accrual_estimate']} yuan."
        )
    else:
        out.print("No interest accrues during the pause.")


@hardship_app.command("approve")
def hardship_approve(
    hardship_id: int,
    reason: Reason = "",
    days: Annotated[int | None, typer.Option(help="Grant fewer days than asked.")] = None,
    today: Annotated[str | None, typer.Option(help="The decision date (default: today).")] = None,
    actor: Actor = None,
    json_out: JsonFlag = False,
) -> None:
    """Approve a pause within your role's authority (not one you recorded)."""
    from huancui.arrangements import hardship

    on = _day(today, "--today") or date.today()

    def act(session: Session, settings: Settings) -> dict[str, Any]:
        hardship.approve_hardship(
            session,
            _policy(settings),
            hardship_id,
            actor=actor_or_os_user(actor),
            reason=reason,
            today=on,
            days=days,
        )
        return hardship.show_hardship(session, hardship_id)

    shown = in_unit_of_work(act)
    _print(shown, json_out, f"hardship application {hardship_id}")
    if not json_out:
        _accrual_note(shown)


def _no(hardship_id: int, actor: str | None, reason: str, target: str, json_out: bool) -> None:
    from huancui.arrangements import hardship

    def act(session: Session, settings: Settings) -> dict[str, Any]:
        hardship.decide_no(
            session,
            _policy(settings),
            hardship_id,
            actor=actor_or_os_user(actor),
            reason=reason,
            target=target,
        )
        return hardship.show_hardship(session, hardship_id)

    _print(in_unit_of_work(act), json_out, f"hardship application {hardship_id}")


@hardship_app.command("reject")
def hardship_reject(
    hardship_id: int, reason: Reason, actor: Actor = None, json_out: JsonFlag = False
) -> None:
    """Reject an application, saying why."""
    _no(hardship_id, actor, reason, "rejected", json_out)


@hardship_app.command("withdraw")
def hardship_withdraw(
    hardship_id: int, reason: Reason, actor: Actor = None, json_out: JsonFlag = False
) -> None:
    """Withdraw an application (the customer asked)."""
    _no(hardship_id, actor, reason, "withdrawn", json_out)


@hardship_app.command("end")
def hardship_end(
    hardship_id: int,
    last_day: Annotated[str, typer.Option(help="The pause's last day; collection resumes after.")],
    reason: Reason,
    actor: Actor = None,
    json_out: JsonFlag = False,
) -> None:
    """End a pause early."""
    from huancui.arrangements import hardship

    day = parse_date(last_day, option="--last-day")

    def act(session: Session, _: Settings) -> dict[str, Any]:
        hardship.end_hardship(
            session, hardship_id, actor=actor_or_os_user(actor), reason=reason, last_day=day
        )
        return hardship.show_hardship(session, hardship_id)

    _print(in_unit_of_work(act), json_out, f"hardship application {hardship_id}")


@hardship_app.command("show")
def hardship_show(hardship_id: int, json_out: JsonFlag = False) -> None:
    from huancui.arrangements import hardship

    shown = in_unit_of_work(lambda s, _: hardship.show_hardship(s, hardship_id))
    _print(shown, json_out, f"hardship application {hardship_id}")
    if not json_out:
        for e in shown["evidence"]:
            out.print(f"evidence: {e['filename']} sha256 {e['sha256']} ({e['bytes']} bytes)")
        for e in shown["history"]:
            out.print(f"{e['at'][:19]}  {e['actor']}  {e['action']}  {e['reason'] or ''}")


@hardship_app.command("list")
def hardship_list(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    json_out: JsonFlag = False,
) -> None:
    from huancui.arrangements import hardship

    rows = in_unit_of_work(
        lambda s, _: [
            {
                "hardship_id": r.hardship_id,
                "account_id": r.account_id,
                "status": r.status,
                "reason_code": r.reason_code,
                "start_date": r.start_date.isoformat() if r.start_date else None,
                "end_date": r.end_date.isoformat() if r.end_date else None,
            }
            for r in hardship.list_hardship(s, account_id=account, status=status)
        ]
    )
    if json_out:
        emit_json(rows)
        return
    table = Table("id", "account", "status", "reason", "from", "to")
    for r in rows:
        table.add_row(*("" if v is None else str(v) for v in r.values()))
    out.print(table)


# ---------------------------------------------------------------------------------------------
# holds


@hold_app.command("add")
def hold_add(
    account_id: Annotated[str, typer.Argument()],
    hold_type: Annotated[str, typer.Option("--type", help="dispute, legal, deceased, ...")],
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    reason: Reason,
    end: Annotated[str | None, typer.Option("--to", help="Last day (default: open-ended).")] = None,
    channel: Annotated[str | None, typer.Option(help="channel_opt_out: the channel.")] = None,
    actor: Actor = None,
    json_out: JsonFlag = False,
) -> None:
    """Place a hold: the next run and every send respect it."""
    from huancui.contact import holds

    first = parse_date(start, option="--from")
    last = _day(end, "--to")
    hold_id = in_unit_of_work(
        lambda s, _: (
            holds.place(
                s,
                account_id=account_id,
                hold_type=hold_type,
                start=first,
                end=last,
                reason=reason,
                actor=actor_or_os_user(actor),
                channel=channel,
            ).hold_id
        )
    )
    if json_out:
        emit_json({"hold_id": hold_id})
    else:
        out.print(f"hold {hold_id} placed on {account_id} ({hold_type}) from {first}")


@hold_app.command("release")
def hold_release(
    hold_id: int,
    last_day: Annotated[str, typer.Option(help="The last day the hold covers.")],
    reason: Reason,
    actor: Actor = None,
) -> None:
    """End a hold."""
    from huancui.contact import holds

    day = parse_date(last_day, option="--last-day")
    in_unit_of_work(
        lambda s, _: holds.release(
            s, hold_id, last_day=day, actor=actor_or_os_user(actor), reason=reason
        )
    )
    out.print(f"hold {hold_id} ends after {day}")


@hold_app.command("list")
def hold_list(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    active_on: Annotated[str | None, typer.Option(help="Only holds active on this day.")] = None,
    json_out: JsonFlag = False,
) -> None:
    from huancui.contact import holds

    day = _day(active_on, "--active-on")
    rows = in_unit_of_work(
        lambda s, _: [
            {
                "hold_id": h.hold_id,
                "account_id": h.account_id,
                "hold_type": h.hold_type,
                "channel": h.channel,
                "start_date": h.start_date.isoformat(),
                "end_date": h.end_date.isoformat() if h.end_date else None,
                "source": h.source,
                "source_id": h.source_id,
                "reason": h.reason,
            }
            for h in holds.list_holds(s, account_id=account, active_on=day)
        ]
    )
    if json_out:
        emit_json(rows)
        return
    table = Table("id", "account", "type", "channel", "from", "to", "source", "ref", "reason")
    for r in rows:
        table.add_row(*("" if v is None else str(v) for v in r.values()))
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(arrangement_app, name="arrangement")
    app.add_typer(hardship_app, name="hardship")
    app.add_typer(hold_app, name="hold")
    app.command("offers")(offers)
