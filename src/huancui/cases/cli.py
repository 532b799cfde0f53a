"""`huancui case ...`: casework from the command line.

    huancui case queue --collector U --as-of D      the cases U may work, highest priority first
    huancui case next --collector U --as-of D       claim the next case (or the one U holds)
    huancui case release ACCOUNT --collector U --reason R [--force]
    huancui case outcome ACCOUNT --code C --actor U [--note N] [--arrangement ID] [--hardship ID]
    huancui case show ACCOUNT --as-of D --role R [--lang zh-CN|en] [--json]
    huancui case codes                               the outcome codes and what they do

Thin like arrangements/cli.py: one unit of work per command; business errors print their
message and exit with its code (2 bad input, 3 not found, 4 conflict, 5 not permitted).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from huancui.cli_support import (
    JsonFlag,
    actor_or_os_user,
    choose,
    emit_json,
    fail,
    in_unit_of_work,
    out,
    parse_date,
)
from huancui.kit.errors import InvalidInput
from huancui.kit.settings import Settings

case_app = typer.Typer(
    help="Casework: queues, taking and releasing cases, contact outcomes, the account view.",
    no_args_is_help=True,
)

Collector = Annotated[str, typer.Option(help="The collector (a staff username).")]
AsOf = Annotated[str, typer.Option("--as-of", help="The working day (YYYY-MM-DD).")]
QueueName = Annotated[str | None, typer.Option("--queue", help="Only this work queue.")]
LANGUAGES = ("zh-CN", "en")


def _fen(value: int | None) -> str:
    from huancui.kit.money import format_yuan

    return "" if value is None else format_yuan(value)


def _case_table(items: list[dict[str, Any]], title: str) -> Table:
    table = Table(
        "account", "queue", "priority", "segment", "tone", "dpd", "overdue", "held by", title=title
    )
    for c in items:
        table.add_row(
            c["account_id"],
            c["queue"],
            "" if c["priority"] is None else f"{c['priority']:.0f}",
            c["segment"],
            c["tone"],
            "" if c["days_past_due"] is None else str(c["days_past_due"]),
            _fen(c["amount_overdue_fen"]),
            c["claimed_by"] or "",
        )
    return table


@case_app.command("queue")
def queue_command(
    collector: Collector,
    as_of: AsOf,
    queue: QueueName = None,
    limit: Annotated[int, typer.Option(help="Cases per page (1-200).")] = 50,
    offset: Annotated[int, typer.Option(help="Cases to skip.")] = 0,
    everything: Annotated[
        bool, typer.Option("--all", help="Every case with its holder (a supervisor's overview).")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """The open cases of the day that COLLECTOR may work, highest priority first."""
    from huancui.cases import service

    day = parse_date(as_of)

    def act(session: Session, _: Settings) -> dict[str, Any]:
        page = service.queue(
            session,
            collector=collector,
            as_of=day,
            queue=queue,
            limit=limit,
            offset=offset,
            include_claimed=everything,
        )
        return {
            "items": [c.as_json() for c in page.items],
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
        }

    data = in_unit_of_work(act)
    if json_out:
        emit_json(data)
        return
    shown = f"{data['offset'] + 1}-{data['offset'] + len(data['items'])}" if data["items"] else "0"
    out.print(_case_table(data["items"], f"cases on {day}: {shown} of {data['total']}"))


@case_app.command("next")
def next_command(
    collector: Collector, as_of: AsOf, queue: QueueName = None, json_out: JsonFlag = False
) -> None:
    """Claim the next case: the one COLLECTOR holds, else the highest-priority free one."""
    from huancui.cases import service

    day = parse_date(as_of)

    def act(session: Session, _: Settings) -> dict[str, Any] | None:
        case = service.take_next(
            session, collector=collector, as_of=day, now=datetime.now(UTC), queue=queue
        )
        return None if case is None else case.as_json()

    case = in_unit_of_work(act)
    if json_out:
        emit_json(case)
        return
    if case is None:
        out.print(f"no case left for {collector} on {day}")
        return
    out.print(
        _case_table(
            [case], f"{collector} holds {case['account_id']} until {case['claim_expires_at']}"
        )
    )


@case_app.command("release")
def release_command(
    account_id: Annotated[str, typer.Argument()],
    collector: Collector,
    reason: Annotated[str, typer.Option(help="Why the case goes back (audit log).")],
    force: Annotated[
        bool, typer.Option(help="A supervisor releases another collector's case.")
    ] = False,
) -> None:
    """Give a case back to the queue."""
    from huancui.cases import service

    in_unit_of_work(
        lambda s, _: service.release(
            s,
            account_id=account_id,
            collector=collector,
            now=datetime.now(UTC),
            reason=reason,
            force=force,
        )
    )
    out.print(f"the case of {account_id} is back in the queue")


@case_app.command("outcome")
def outcome_command(
    account_id: Annotated[str, typer.Argument()],
    code: Annotated[str, typer.Option(help="An outcome code: huancui case codes.")],
    actor: Annotated[
        str | None, typer.Option(help="Who made the contact (default: OS user).")
    ] = None,
    note: Annotated[str | None, typer.Option(help="What happened, in neutral words.")] = None,
    channel: Annotated[str, typer.Option(help="call, visit or inbound.")] = "call",
    arrangement: Annotated[
        int | None, typer.Option(help="promise_to_pay: the arrangement proposed for it.")
    ] = None,
    hardship: Annotated[
        int | None, typer.Option(help="hardship_claim: the 缓催 application, if made.")
    ] = None,
    work_item: Annotated[int | None, typer.Option(help="The work item worked.")] = None,
    at: Annotated[
        str | None, typer.Option(help="When it happened (ISO 8601 with zone; default now).")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Log what a contact came to; the case leaves the queue."""
    from huancui.cases import service

    occurred = datetime.now(UTC)
    if at is not None:
        try:
            occurred = datetime.fromisoformat(at)
        except ValueError:
            raise fail(InvalidInput(f"--at: {at!r} is not an ISO 8601 date and time")) from None

    def act(session: Session, settings: Settings) -> dict[str, Any]:
        row = service.log_outcome(
            session,
            settings,
            account_id=account_id,
            outcome=code,
            note=note,
            actor=actor_or_os_user(actor),
            occurred_at=occurred,
            channel=channel,
            work_item_id=work_item,
            arrangement_id=arrangement,
            hardship_id=hardship,
        )
        return service.outcome_json(row)

    logged = in_unit_of_work(act)
    if json_out:
        emit_json(logged)
        return
    out.print(f"outcome {logged['outcome_id']}: {logged['outcome']} on {account_id}")


@case_app.command("show")
def show_command(
    account_id: Annotated[str, typer.Argument()],
    as_of: AsOf,
    role: Annotated[str, typer.Option(help="Show personal data as this role may see it.")],
    lang: Annotated[str, typer.Option("--lang", help="Script language: zh-CN or en.")] = "zh-CN",
    json_out: JsonFlag = False,
) -> None:
    """The account 360 view: customer, balances, DPD history, contacts, plans, holds, script."""
    from huancui.cases import service

    day = parse_date(as_of)
    language = choose(lang, LANGUAGES, option="--lang")
    view = in_unit_of_work(
        lambda s, settings: service.account_360(
            s, settings, account_id=account_id, as_of=day, role=role, language=language
        )
    )
    if json_out:
        emit_json(view)
        return
    customer, balances = view["customer"], view["balances"] or {}
    summary = Table(title=f"account {account_id} on {day}", show_header=False)
    for key, value in (
        ("customer", f"{customer['name']} ({customer['customer_id']})"),
        (
            "phone",
            customer["phone"] + (" (wrong number reported)" if customer["phone_flag"] else ""),
        ),
        ("national ID", customer["national_id"]),
        ("product", view["account"]["product"]),
        ("days past due", balances.get("days_past_due", "")),
        ("overdue", _fen(balances.get("amount_overdue_fen"))),
        ("balance", _fen(balances.get("balance_fen"))),
        ("held by", (view["claim"] or {}).get("collector", "")),
        ("active holds", ", ".join(h["hold_type"] for h in view["holds"]["active"])),
        ("arrangements", ", ".join(f"{a['kind']} {a['status']}" for a in view["arrangements"])),
    ):
        summary.add_row(key, str(value))
    out.print(summary)
    contacts = Table("when", "what", "by", title="outcomes (newest first)")
    for o in view["contacts"]["outcomes"][:10]:
        contacts.add_row(o["occurred_at"], o["outcome"], o["actor"])
    out.print(contacts)
    if view["script"] and "text" in view["script"]:
        out.print(f"[bold]{view['script']['purpose']}[/bold]")
        out.print(view["script"]["text"], markup=False, highlight=False)


@case_app.command("codes")
def codes_command(
    lang: Annotated[str, typer.Option("--lang", help="Labels in zh-CN or en.")] = "zh-CN",
    json_out: JsonFlag = False,
) -> None:
    """The outcome codes: label, right-party contact, note required, effect."""
    from huancui.cases.service import outcome_codes

    language = choose(lang, LANGUAGES, option="--lang")
    codes = outcome_codes()
    if json_out:
        emit_json([c.as_json() for c in codes])
        return
    table = Table("code", "label", "right party", "note required", "effect")
    for c in codes:
        table.add_row(
            c.code,
            c.label(language),
            "yes" if c.right_party else "no",
            "yes" if c.note_required else "no",
            c.effect,
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Adds the casework commands to `app`."""
    app.add_typer(case_app, name="case")
