"""Quotes over the API: the calculators of arrangements/quote.py, amounts as decimal strings."""

from __future__ import annotations

from fastapi.testclient import TestClient

from huancui.kit.settings import Settings
from tests.api.conftest import assert_problem, bearer, username_of


def test_the_worked_example_12000_at_18_percent_over_12_months_is_1100_16_a_month(
    client: TestClient, api_settings: Settings
) -> None:
    response = client.post(
        "/api/quotes/installment",
        json={
            "principal": "12000.00",
            "months": 12,
            "annual_rate": "0.18",
            "first_due": "2027-01-15",
        },
        headers=bearer(api_settings, username_of("collector")),
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["totals"]["monthly_payment"] == "1100.16"
    assert data["totals"]["total_interest"] == "1201.95"
    assert len(data["lines"]) == 12


def test_deferral_waiver_and_settlement_quote_in_exact_fen(
    client: TestClient, api_settings: Settings
) -> None:
    headers = bearer(api_settings, username_of("strategy_manager"))
    deferral = client.post(
        "/api/quotes/deferral",
        json={
            "principal": "10000.00",
            "annual_rate": "0.12",
            "remaining_months": 10,
            "holiday_months": 2,
            "first_due": "2027-01-15",
        },
        headers=headers,
    )
    assert deferral.status_code == 200, deferral.text
    waiver = client.post(
        "/api/quotes/waiver",
        json={"interest": "300.00", "fees": "50.00", "share": "0.5"},
        headers=headers,
    )
    assert waiver.status_code == 200, waiver.text
    assert waiver.json()["amount_due_after"] == "175.00"
    settlement = client.post(
        "/api/quotes/settlement",
        json={
            "principal": "8000.00",
            "interest": "240.00",
            "fees": "60.00",
            "deadline": "2026-12-31",
            "discount_share": "0.2",
        },
        headers=headers,
    )
    assert settlement.status_code == 200, settlement.text
    assert settlement.json()["lump_sum"] == "6640.00"


def test_a_quote_that_cannot_be_made_says_which_field(
    client: TestClient, api_settings: Settings
) -> None:
    both_rates = client.post(
        "/api/quotes/installment",
        json={
            "principal": "12000.00",
            "months": 12,
            "annual_rate": "0.18",
            "monthly_fee_rate": "0.006",
            "first_due": "2027-01-15",
        },
        headers=bearer(api_settings, username_of("collector")),
    )
    body = assert_problem(both_rates, 422, "invalid-input")
    assert body["detail"].startswith("annual_rate: give exactly one")


def test_amounts_are_decimal_strings_not_floats(client: TestClient, api_settings: Settings) -> None:
    headers = bearer(api_settings, username_of("collector"))
    for principal in (12000.5, "12,000.00", "12000.001", "-5"):
        response = client.post(
            "/api/quotes/installment",
            json={"principal": principal, "months": 12, "annual_rate": "0.18",
                  "first_due": "2027-01-15"},
            headers=headers,
        )  # fmt: skip
        assert_problem(response, 422, "invalid-input")
