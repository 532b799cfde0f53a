"""`huancui quote installment | deferral | waiver | settlement`: repayment quotes on the command line.

Mounted by huancui/cli.py as `quote`. Amounts are yuan text (12000.00); rates and shares are
percent, with or without the sign ("18" and "18%" both mean 18%). Bad input exits 2 naming the option.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from huancui.arrangements.quote import (
    DEFAULT_MAX_TERM_MONTHS,
    Component,
    ComponentLine,
    InvalidQuote,
    Method,
    Schedule,
    quote_deferral,
    quote_installment,
    quote_settlement,
    quote_waiver,
)
from huancui.cli_support import JsonFlag, emit_json, err, out, parse_date
from huancui.kit.money import MoneyFormatError, display_yuan, parse_yuan

quote_app = typer.Typer(
    help="Quote repayment arrangements: instalments, deferral, waiver, settlement (exact fen).",
    no_args_is_help=True,
)

T = TypeVar("T")
Yuan = Annotated[str, typer.Option(help="Yuan, e.g. 12000.00.")]
FirstDue = Annotated[
    str, typer.Option("--first-due", help="First (next) instalment's due date, YYYY-MM-DD.")
]
HolidayCountry = Annotated[
    str | None,
    typer.Option(
        "--holiday-country",
        help="ISO country (e.g. CN): dates on a holiday or weekend day off move to the next working day.",
    ),
]
MaxTerm = Annotated[
    int, typer.Option("--max-term", help="Longest term in months (cards: 5-year cap).")
]
# Parameter names of the calculators whose option is not simply --name-without-fen.
_OPTIONS = {
    "max_term_months": "--max-term",
    "components": "--waive",
    "discount_share": "--discount",
}


def _usage(option: str, message: str) -> typer.Exit:
    err.print(f"{option}: {message}", markup=False, highlight=False)
    return typer.Exit(2)


def _yuan(text: str, option: str) -> int:
    try:
        return parse_yuan(text)
    except MoneyFormatError as exc:
        raise _usage(option, f"{exc}; write yuan such as 12000.00") from None


def _percent(text: str, option: str) -> Decimal:
    """'18%' or '18' → Decimal('0.18')."""
    try:
        value = Decimal(text.strip().removesuffix("%"))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise _usage(option, f"{text!r} is not a percentage; write e.g. 18% (or 18)")
    return value / 100


def _optional(parse: Callable[[str, str], T], text: str | None, option: str) -> T | None:
    return None if text is None else parse(text, option)


def _quote(make: Callable[[], T]) -> T:
    try:
        return make()
    except InvalidQuote as exc:
        option = _OPTIONS.get(exc.field, "--" + exc.field.removesuffix("_fen").replace("_", "-"))
        raise _usage(option, exc.message) from None


def _print_schedule(schedule: Schedule, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("No. 期数", "Due 还款日", "Principal 本金", "Interest 利息", "Fee 手续费"):
        table.add_column(column, justify="right")
    capitalised = schedule.total_capitalised_fen > 0
    if capitalised:
        table.add_column("Capitalised 资本化利息", justify="right")
    for column in ("Payment 应还", "Balance 剩余本金"):
        table.add_column(column, justify="right")
    for line in schedule.lines:
        cells = [line.principal_fen, line.interest_fen, line.fee_fen]
        cells += [line.capitalised_fen] if capitalised else []
        cells += [line.payment_fen, line.balance_after_fen]
        table.add_row(str(line.number), line.due_date.isoformat(), *map(display_yuan, cells))
    out.print(table)
    _print_totals(schedule, "")


def _print_totals(schedule: Schedule, label: str) -> None:
    out.print(
        f"{label}Total paid 合计 {display_yuan(schedule.total_paid_fen)}: principal"
        f" {display_yuan(schedule.total_principal_fen)}, interest"
        f" {display_yuan(schedule.total_interest_fen)}, fees {display_yuan(schedule.total_fees_fen)};"
        f" monthly payment 月供 {display_yuan(schedule.monthly_payment_fen)}",
        highlight=False,
    )


def _print_components(lines: tuple[ComponentLine, ...], reduced: str) -> None:
    table = Table(title_justify="left")
    for column in ("Component 项目", "Before 原金额", reduced, "After 减后"):
        table.add_column(column, justify="right")
    for line in lines:
        amounts = (line.before_fen, line.reduced_fen, line.after_fen)
        table.add_row(str(line.component), *map(display_yuan, amounts))
    out.print(table)


@quote_app.command("installment")
def installment(
    principal: Yuan,
    months: Annotated[int, typer.Option(help="Number of monthly instalments.")],
    first_due: FirstDue,
    annual_rate: Annotated[
        str | None, typer.Option("--annual-rate", help="Annual interest rate: 18 or 18% = 18%.")
    ] = None,
    monthly_fee_rate: Annotated[
        str | None,
        typer.Option("--monthly-fee-rate", help="Card fee per month on the amount: 0.6 or 0.6%."),
    ] = None,
    method: Annotated[
        Method | None,
        typer.Option(help="Default: equal-installment (等额本息); a fee rate: equal-principal."),
    ] = None,
    down_payment: Annotated[str, typer.Option("--down-payment", help="Yuan due on --start.")] = "0",
    start: Annotated[
        str | None,
        typer.Option(
            help="Down payment due date, YYYY-MM-DD (default: a month before --first-due)."
        ),
    ] = None,
    holiday_country: HolidayCountry = None,
    max_term: MaxTerm = DEFAULT_MAX_TERM_MONTHS,
    json_out: JsonFlag = False,
) -> None:
    """An instalment plan (分期还款): the schedule of every month and its totals."""
    quote = _quote(
        lambda: quote_installment(
            principal_fen=_yuan(principal, "--principal"),
            months=months,
            first_due=parse_date(first_due, option="--first-due"),
            annual_rate=_optional(_percent, annual_rate, "--annual-rate"),
            monthly_fee_rate=_optional(_percent, monthly_fee_rate, "--monthly-fee-rate"),
            method=method,
            down_payment_fen=_yuan(down_payment, "--down-payment"),
            start=parse_date(start, option="--start") if start else None,
            holiday_country=holiday_country,
            max_term_months=max_term,
        )
    )
    if json_out:
        emit_json(quote.as_json())
        return
    _print_schedule(quote.schedule, f"Instalment plan 分期还款 ({quote.method}, {months} months)")


@quote_app.command("deferral")
def deferral(
    principal: Annotated[str, typer.Option(help="Outstanding principal, yuan.")],
    annual_rate: Annotated[str, typer.Option("--annual-rate", help="18 or 18% = 18% a year.")],
    remaining_months: Annotated[int, typer.Option(help="Instalments left to pay.")],
    holiday_months: Annotated[int, typer.Option(help="Months without principal payments.")],
    first_due: FirstDue,
    capitalise: Annotated[
        bool,
        typer.Option(
            help="Add the holiday's interest to the balance (default: pay it as interest only)."
        ),
    ] = False,
    method: Annotated[Method, typer.Option(help="How the rest is repaid.")] = (
        Method.EQUAL_INSTALLMENT
    ),
    holiday_country: HolidayCountry = None,
    max_term: MaxTerm = DEFAULT_MAX_TERM_MONTHS,
    json_out: JsonFlag = False,
) -> None:
    """A payment holiday (延期还款): the new schedule and what it costs over no deferral."""
    quote = _quote(
        lambda: quote_deferral(
            principal_fen=_yuan(principal, "--principal"),
            annual_rate=_percent(annual_rate, "--annual-rate"),
            remaining_months=remaining_months,
            holiday_months=holiday_months,
            first_due=parse_date(first_due, option="--first-due"),
            capitalise=capitalise,
            method=method,
            holiday_country=holiday_country,
            max_term_months=max_term,
        )
    )
    if json_out:
        emit_json(quote.as_json())
        return
    how = "interest capitalised" if capitalise else "interest paid during the holiday"
    _print_schedule(
        quote.schedule, f"Deferral 延期还款: {holiday_months} months, {how} ({quote.method})"
    )
    _print_totals(quote.without_deferral, "Without the deferral: ")
    out.print(f"Extra cost 额外成本: {display_yuan(quote.extra_cost_fen)}", highlight=False)


@quote_app.command("waiver")
def waiver(
    penalty_interest: Annotated[
        str, typer.Option(help="Penalty interest owed (罚息), yuan.")
    ] = "0",
    interest: Annotated[str, typer.Option(help="Interest owed (利息), yuan.")] = "0",
    fees: Annotated[str, typer.Option(help="Fees owed (费用), yuan.")] = "0",
    principal: Annotated[str, typer.Option(help="Principal owed: never waived, shown.")] = "0",
    waive: Annotated[
        list[Component] | None,
        typer.Option(help="A component to waive; repeat for more (default: all but principal)."),
    ] = None,
    amount: Annotated[
        str | None,
        typer.Option(help="Yuan to waive: penalty interest first, then fees, then interest."),
    ] = None,
    share: Annotated[
        str | None, typer.Option(help="Percent of each chosen component: 50 or 50%.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """An interest and fee waiver (减免): what the customer saves and the bank forgoes."""
    quote = _quote(
        lambda: quote_waiver(
            penalty_interest_fen=_yuan(penalty_interest, "--penalty-interest"),
            interest_fen=_yuan(interest, "--interest"),
            fees_fen=_yuan(fees, "--fees"),
            principal_fen=_yuan(principal, "--principal"),
            components=waive or (Component.PENALTY_INTEREST, Component.FEES, Component.INTEREST),
            amount_fen=_optional(_yuan, amount, "--amount"),
            share=_optional(_percent, share, "--share"),
        )
    )
    if json_out:
        emit_json(quote.as_json())
        return
    _print_components(quote.lines, "Waived 减免")
    out.print(
        f"The customer saves 客户节省 {display_yuan(quote.customer_saves_fen)}; the bank forgoes"
        f" 银行让利 {display_yuan(quote.bank_forgoes_fen)} of income. Due after the waiver:"
        f" {display_yuan(quote.amount_due_after_fen)}",
        highlight=False,
    )


@quote_app.command("settlement")
def settlement(
    principal: Annotated[str, typer.Option(help="Principal owed, yuan.")],
    deadline: Annotated[str, typer.Option(help="Pay the lump sum by this day, YYYY-MM-DD.")],
    interest: Annotated[str, typer.Option(help="Interest owed, yuan.")] = "0",
    fees: Annotated[str, typer.Option(help="Fees owed, yuan.")] = "0",
    penalty_interest: Annotated[str, typer.Option(help="Penalty interest owed, yuan.")] = "0",
    discount: Annotated[
        str | None, typer.Option(help="Percent of the balance forgiven: 20 or 20%.")
    ] = None,
    lump_sum: Annotated[str | None, typer.Option(help="The agreed payment, yuan.")] = None,
    holiday_country: HolidayCountry = None,
    json_out: JsonFlag = False,
) -> None:
    """A settlement (一次性结清): one discounted payment by a deadline."""
    quote = _quote(
        lambda: quote_settlement(
            principal_fen=_yuan(principal, "--principal"),
            interest_fen=_yuan(interest, "--interest"),
            fees_fen=_yuan(fees, "--fees"),
            penalty_interest_fen=_yuan(penalty_interest, "--penalty-interest"),
            deadline=parse_date(deadline, option="--deadline"),
            discount_share=_optional(_percent, discount, "--discount"),
            lump_sum_fen=_optional(_yuan, lump_sum, "--lump-sum"),
            holiday_country=holiday_country,
        )
    )
    if json_out:
        emit_json(quote.as_json())
        return
    _print_components(quote.lines, "Discount 减免")
    out.print(
        f"Pay 一次性还款 {display_yuan(quote.lump_sum_fen)} by {quote.deadline.isoformat()}"
        f" instead of {display_yuan(quote.balance_fen)}: a discount of"
        f" {display_yuan(quote.discount_fen)} ({quote.discount_share:.2%})",
        highlight=False,
    )
