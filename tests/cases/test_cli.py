"""`huancui case ...` on the worked book: queue, next, outcome, release, show and codes, with
the exit codes of the other commands (2 bad input, 4 conflict, 5 not permitted)."""

from __future__ import annotations

import json

import pytest

from tests.arrangements.conftest import AS_OF, ok
from tests.cases.conftest import BY_PRIORITY, COLLECTOR, COLLECTOR_2, DAY, Book

pytestmark = pytest.mark.usefixtures("cli_built_once")


def _json(book: Book, *args: str) -> object:
    return json.loads(ok(book.cli("case", *args, "--json")).stdout)


def test_a_collector_works_a_case_from_the_command_line(worked: Book) -> None:
    day = ("--as-of", DAY.isoformat())
    queue = _json(worked, "queue", "--collector", COLLECTOR, *day)
    assert isinstance(queue, dict)
    assert [c["account_id"] for c in queue["items"]] == BY_PRIORITY
    taken = _json(worked, "next", "--collector", COLLECTOR, *day)
    assert isinstance(taken, dict) and taken["account_id"] == "H1"
    table = ok(worked.cli("case", "queue", "--collector", COLLECTOR_2, *day)).stdout
    assert "P2" in table and "H1" not in table
    refused = worked.cli(
        "case",
        "outcome",
        "H1",
        "--code",
        "refusal",
        "--actor",
        COLLECTOR,
        "--note",
        "told him he will be arrested",
    )
    assert refused.exit_code == 2 and "arrest" in refused.stderr
    logged = _json(
        worked,
        "outcome",
        "H1",
        "--code",
        "refusal",
        "--actor",
        COLLECTOR,
        "--note",
        "客户说没有钱，不愿意还款",
    )
    assert isinstance(logged, dict) and logged["outcome"] == "refusal"
    after = _json(worked, "queue", "--collector", COLLECTOR, *day)
    assert isinstance(after, dict) and "H1" not in [c["account_id"] for c in after["items"]]


def test_release_and_its_refusals_exit_with_their_codes(worked: Book) -> None:
    ok(worked.cli("case", "next", "--collector", COLLECTOR, "--as-of", DAY.isoformat()))
    other = worked.cli("case", "release", "H1", "--collector", COLLECTOR_2, "--reason", "x")
    assert other.exit_code == 4 and COLLECTOR in other.stderr
    forced = worked.cli(
        "case", "release", "H1", "--collector", COLLECTOR_2, "--reason", "x", "--force"
    )
    assert forced.exit_code == 5
    ok(worked.cli("case", "release", "H1", "--collector", COLLECTOR, "--reason", "lunch"))
    assert worked.count("case_claims") == 0
    bad_day = worked.cli("case", "queue", "--collector", COLLECTOR, "--as-of", "28/11/2026")
    assert bad_day.exit_code == 2


def test_show_masks_for_the_role_and_codes_list_every_code(worked: Book) -> None:
    view = _json(
        worked, "show", "P1", "--as-of", AS_OF.isoformat(), "--role", "collector", "--lang", "en"
    )
    assert isinstance(view, dict)
    assert view["customer"]["phone"] == "13800000001"
    assert "*" in view["customer"]["national_id"]
    assert view["script"]["language"] == "en"
    text = ok(
        worked.cli("case", "show", "P1", "--as-of", AS_OF.isoformat(), "--role", "analyst")
    ).stdout
    assert "138****0001" in text
    codes = _json(worked, "codes")
    assert isinstance(codes, list)
    assert {c["code"] for c in codes} >= {
        "right_party_contact",
        "no_answer",
        "wrong_number",
        "left_message",
        "third_party",
        "callback_requested",
        "promise_to_pay",
        "dispute",
        "hardship_claim",
        "refusal",
        "already_paid",
        "deceased_reported",
    }
    assert "承诺还款" in ok(worked.cli("case", "codes")).stdout
