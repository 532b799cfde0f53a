"""`huancui quote …` as a collector runs it: JSON with two-decimal amounts, readable refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from huancui.cli import app


def quote(*args: str) -> Result:
    return CliRunner().invoke(app, ["quote", *args], catch_exceptions=False)


def quote_json(*args: str) -> Any:
    result = quote(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


INSTALLMENT = ("installment", "--principal", "12000.00", "--months", "12", "--first-due", "2027-01-15")  # fmt: skip


def test_installment_json_gives_the_schedule_and_totals() -> None:
    data = quote_json(*INSTALLMENT, "--annual-rate", "18%")
    assert data["method"] == "equal-installment" and data["annual_rate"] == "0.18"
    assert [line["payment"] for line in data["lines"]][:11] == ["1100.16"] * 11
    assert data["totals"]["monthly_payment"] == "1100.16"
    assert data["totals"]["total_principal"] == "12000.00"


def test_a_rate_without_the_percent_sign_is_still_percent() -> None:
    data = quote_json(*INSTALLMENT, "--annual-rate", "18", "--method", "equal-principal")
    assert data["annual_rate"] == "0.18"
    assert data["lines"][0]["interest"] == "180.00"
    assert data["totals"]["total_interest"] == "1170.00"


def test_a_monthly_fee_rate_and_down_payment_on_the_holiday_calendar() -> None:
    data = quote_json(
        "installment", "--principal", "12000.00", "--months", "12", "--first-due", "2026-10-01",
        "--monthly-fee-rate", "0.6%", "--down-payment", "1000.00", "--holiday-country", "CN",
    )  # fmt: skip
    assert data["method"] == "equal-principal" and data["financed"] == "11000.00"
    down, first = data["lines"][:2]
    assert (down["number"], down["payment"]) == (0, "1000.00")
    assert (first["due_date"], first["fee"], first["payment"]) == ("2026-10-08", "66.00", "982.66")


def test_installment_prints_a_table_with_totals() -> None:
    result = quote(*INSTALLMENT, "--annual-rate", "18%")
    assert result.exit_code == 0, result.output
    assert "1,100.16" in result.stdout and "2027-12-15" in result.stdout
    assert "Total paid 合计 13,201.95" in result.stdout


def test_deferral_json_shows_the_extra_cost() -> None:
    data = quote_json(
        "deferral", "--principal", "10000.00", "--annual-rate", "18%", "--remaining-months", "10",
        "--holiday-months", "3", "--first-due", "2027-01-15", "--capitalise",
    )  # fmt: skip
    assert [line["capitalised"] for line in data["lines"][:3]] == ["150.00", "152.25", "154.53"]
    assert data["lines"][0]["payment"] == "0.00"
    assert data["extra_cost"] == "495.32"
    assert data["without_deferral"]["total_paid"] == "10843.41"


def test_waiver_json_shows_what_the_customer_saves_and_the_bank_forgoes() -> None:
    data = quote_json(
        "waiver", "--penalty-interest", "300.00", "--fees", "50.00", "--interest", "1200.00",
        "--waive", "penalty_interest", "--waive", "fees", "--share", "50%",
    )  # fmt: skip
    assert (data["customer_saves"], data["bank_forgoes"]) == ("175.00", "175.00")
    assert data["amount_due_after"] == "1375.00"


def test_settlement_json_gives_the_lump_sum_and_deadline() -> None:
    data = quote_json(
        "settlement", "--principal", "10000.00", "--interest", "800.00", "--lump-sum", "8640.00",
        "--deadline", "2026-12-31",
    )  # fmt: skip
    assert (data["lump_sum"], data["discount"], data["discount_share"]) == (
        "8640.00",
        "2160.00",
        "0.2000",
    )
    assert data["deadline"] == "2026-12-31"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (*INSTALLMENT, "--annual-rate", "18%", "--max-term", "6"),
            "--months: 12 months is outside 1 to 6",
        ),
        (
            (
                "installment",
                "--principal",
                "12,000",
                "--months",
                "12",
                "--annual-rate",
                "18",
                "--first-due",
                "2027-01-15",
            ),
            "--principal: '12,000' is not a number",
        ),
        (
            (*INSTALLMENT, "--annual-rate", "eighteen"),
            "--annual-rate: 'eighteen' is not a percentage",
        ),
        (INSTALLMENT, "--annual-rate: give exactly one of an annual rate and a monthly fee rate"),
        ((*INSTALLMENT, "--annual-rate", "-1%"), "--annual-rate: -0.01 is not a rate"),
        ((*INSTALLMENT, "--annual-rate", "18", "--holiday-country", "XX"), "--holiday-country: no"),
        (
            (
                "installment",
                "--principal",
                "12000",
                "--months",
                "12",
                "--annual-rate",
                "18",
                "--first-due",
                "2027-02-30",
            ),
            "--first-due: '2027-02-30' is not a date",
        ),
        (
            ("waiver", "--interest", "100", "--waive", "principal", "--amount", "10"),
            "--waive: principal is never waived",
        ),
        (
            ("settlement", "--principal", "100", "--discount", "120%", "--deadline", "2026-12-31"),
            "--discount: 120% is not a share from 0% to 100%",
        ),
        (
            ("settlement", "--principal", "100", "--lump-sum", "200", "--deadline", "2026-12-31"),
            "--lump-sum: 200.00 is more than the balance 100.00",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_option(args: tuple[str, ...], message: str) -> None:
    result = quote(*args)
    assert result.exit_code == 2
    assert message in result.stderr, result.stderr
    assert result.stdout == ""
