"""Arrangements through the real CLI on SQLite and PostgreSQL: propose, approve under the
authority matrix (four eyes), reject, cancel; eligibility by segment and product; the offers a
collector sees; every change audited; bad input refused with nothing stored."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

from huancui.arrangements.policy import SHIPPED
from tests.arrangements.conftest import (
    ANALYST,
    AS_OF,
    COLLECTOR,
    COLLECTOR_2,
    MANAGER,
    SUPERVISOR,
    Book,
    as_json,
    day,
    ok,
    plan_rows,
)
from tests.conftest import Cli

REASON = ("--reason", "客户来电：月底发薪后还款")
TWO_DECIMALS = re.compile(r"^-?\d+\.\d{2}$")


def _approve(book: Book, arrangement_id: int, actor: str, *extra: str) -> Result:
    return book.cli(
        "arrangement", "approve", str(arrangement_id), "--actor", actor, "--json", *extra
    )


def _run(book: Book) -> dict[str, Any]:
    report: dict[str, Any] = as_json(
        book.cli("run", "--as-of", AS_OF.isoformat(), "--actor", "night-batch", "--json")
    )
    return report


# ------------------------------------------------------------------------ proposing


def test_a_promise_within_the_automatic_limits_is_approved_by_the_policy(book: Book) -> None:
    account = book.account("prime")
    arrears = book.snapshot_value(account, "arrears_fen")
    shown = book.propose_ok(account, "--kind", "ptp", "--pay-by", day(10).isoformat(), *REASON)
    assert (shown["status"], shown["proposed_by"], shown["decided_by"]) == (
        "approved",
        COLLECTOR,
        "policy",
    )
    assert shown["decision_reason"] == "within the policy's automatic limits"
    # Without --amount the promise is for the arrears of the as-of date.
    assert shown["lines"] == [
        {
            "line_no": 1,
            "due_date": day(10).isoformat(),
            "amount_due": f"{arrears // 100}.{arrears % 100:02d}",
            "paid": "0.00",
            "status": "due",
        }
    ]
    assert [(e["actor"], e["action"]) for e in shown["history"]] == [
        (COLLECTOR, "arrangement.proposed"),
        ("policy", "arrangement.approved"),
    ]
    # The account is held from the next day until the promised day plus the grace days.
    assert [
        (h["hold_type"], h["start_date"], h["end_date"], h["source"], h["source_id"])
        for h in book.holds(account)
    ] == [("arrangement", day(1).isoformat(), day(13).isoformat(), "arrangement", "1")]


def test_a_plan_beyond_the_automatic_limits_waits_for_a_person(book: Book) -> None:
    account = book.account("prime")
    balance = book.snapshot_value(account, "balance_fen")
    shown = book.propose_ok(account, "--kind", "installment", "--months", "12", *REASON)
    assert (shown["status"], shown["decided_by"], shown["term_months"]) == ("proposed", None, 12)
    assert len(shown["lines"]) == 12
    total = sum(Decimal(line["amount_due"]) for line in shown["lines"])
    assert Decimal(shown["total_due"]) == total
    # A card's plan spreads the whole balance; the account's own rate is charged on top.
    assert shown["terms"]["financed"] == f"{Decimal(balance) / 100:.2f}"
    assert total > Decimal(balance) / 100
    assert shown["monthly_burden"] == max(line["amount_due"] for line in shown["lines"])
    assert book.holds(account) == []


def test_nobody_approves_their_own_proposal(book: Book) -> None:
    account = book.account("prime")
    shown = book.propose_ok(
        account, "--kind", "installment", "--months", "12", *REASON, actor=SUPERVISOR
    )
    own = _approve(book, shown["arrangement_id"], SUPERVISOR)
    assert own.exit_code == 5
    assert "wang.supervisor proposed arrangement 1: someone else must decide it (four eyes)" in (
        own.output
    )
    assert book.rows("SELECT status FROM arrangements") == [("proposed",)]
    approved = as_json(_approve(book, shown["arrangement_id"], MANAGER, "--reason", "收入稳定"))
    assert (approved["status"], approved["decided_by"]) == ("approved", MANAGER)


def test_a_collector_may_not_approve_a_twelve_month_plan_a_supervisor_may(book: Book) -> None:
    account = book.account("prime")
    shown = book.propose_ok(account, "--kind", "installment", "--months", "12", *REASON)
    arrangement = shown["arrangement_id"]
    refused = _approve(book, arrangement, COLLECTOR_2)
    assert refused.exit_code == 5
    assert (
        "chen.collector (collector) may not approve a term of 12 months (limit 6);"
        " it needs a supervisor or manager"
    ) in " ".join(refused.output.split())
    analyst = _approve(book, arrangement, ANALYST)
    assert analyst.exit_code == 5 and "sun.analyst is a analyst: that role approves" in (
        " ".join(analyst.output.split())
    )
    stranger = _approve(book, arrangement, "nobody")
    assert stranger.exit_code == 5 and "'nobody' is not an active user" in stranger.output
    assert book.rows("SELECT status, decided_by FROM arrangements") == [("proposed", None)]

    approved = as_json(_approve(book, arrangement, SUPERVISOR, "--reason", "收入证明已核实"))
    assert approved["status"] == "approved"
    assert book.rows("SELECT decided_by, decided_role, decision_reason FROM arrangements") == [
        (SUPERVISOR, "supervisor", "收入证明已核实")
    ]
    last_due = max(line["due_date"] for line in approved["lines"])
    holds = book.holds(account)
    assert [(h["hold_type"], h["start_date"]) for h in holds] == [
        ("arrangement", day(1).isoformat())
    ]
    assert holds[0]["end_date"] > last_due  # the last line's due date plus the grace days
    again = _approve(book, arrangement, MANAGER)
    assert again.exit_code == 4 and "arrangement 1 is approved: it cannot become approved" in (
        again.output
    )


def test_a_loan_plan_is_capped_at_36_months_a_card_plan_at_60(book: Book) -> None:
    loan = book.account("prime", "instalment_loan")
    card = book.account("prime")
    refused = book.propose(loan, "--kind", "installment", "--months", "48", *REASON)
    assert refused.exit_code == 5
    assert "a term of 48 months (at most 36)" in refused.output
    shown = book.propose_ok(card, "--kind", "installment", "--months", "48", *REASON)
    assert shown["status"] == "proposed"
    supervisor = _approve(book, shown["arrangement_id"], SUPERVISOR)
    assert supervisor.exit_code == 5 and "it needs a manager" in supervisor.output
    assert as_json(_approve(book, shown["arrangement_id"], MANAGER))["status"] == "approved"
    # Beyond the 5-year cap for anyone: refused as input, before eligibility.
    too_long = book.propose(loan, "--kind", "installment", "--months", "61", *REASON)
    assert too_long.exit_code == 2 and "61 months is outside 1 to 60 months" in too_long.output


def test_high_risk_is_offered_neither_a_plan_nor_a_long_promise(book: Book) -> None:
    account = book.account("high_risk")
    before = book.counts()
    plan = book.propose(account, "--kind", "installment", "--months", "6", *REASON)
    assert plan.exit_code == 5
    assert (
        f"account {account} (segment high_risk, credit_card) is not eligible: segment high_risk"
        " is not offered installment (offered: ptp, settlement)"
    ) in " ".join(plan.output.split())
    promise = book.propose(account, "--kind", "ptp", "--pay-by", day(10).isoformat(), *REASON)
    assert promise.exit_code == 5 and "a promise 10 days out (at most 7)" in promise.output
    assert book.counts() == before


def test_a_segment_gets_at_most_its_yearly_count(book: Book) -> None:
    """high_risk: three promises a year. Broken ones count, cancelled and rejected ones not."""
    account = book.account("high_risk")
    withdrawn = book.propose_ok(account, "--kind", "ptp", "--pay-by", day(5).isoformat(), *REASON)
    ok(
        book.cli(
            "arrangement", "cancel", str(withdrawn["arrangement_id"]), "--as-of",
            AS_OF.isoformat(), "--reason", "客户改变主意", "--actor", COLLECTOR,
        )
    )  # fmt: skip
    for _ in range(3):
        book.propose_ok(account, "--kind", "ptp", "--pay-by", day(5).isoformat(), *REASON)
        assert len(book.monitor(day(10)).broken) == 1
    fourth = book.propose(account, "--kind", "ptp", "--pay-by", day(5).isoformat(), *REASON)
    assert fourth.exit_code == 5
    assert (
        "3 ptp arrangement(s) in the 12 months to 2026-11-27 (at most 3 for segment high_risk)"
        in (" ".join(fourth.output.split()))
    )
    assert book.rows("SELECT status, count(*) FROM arrangements GROUP BY status ORDER BY 1") == [
        ("broken", 3),
        ("cancelled", 1),
    ]


def test_a_waiver_stays_within_its_share_and_components(book: Book) -> None:
    account = book.account("standard")
    fees = book.snapshot_value(account, "arrears_fee_fen")
    too_much = book.propose(account, "--kind", "waiver", "--components", "fees", "--share", "60%",
                            *REASON)  # fmt: skip
    assert too_much.exit_code == 5 and "a waiver of 60.00% (at most 50.00%)" in too_much.output
    interest = book.propose(account, "--kind", "waiver", "--components", "fees,interest",
                            "--share", "50%", *REASON)  # fmt: skip
    assert interest.exit_code == 5
    assert "waiving interest (allowed: fees, penalty_interest)" in interest.output
    assert book.count("arrangements") == 0

    shown = book.propose_ok(account, "--kind", "waiver", "--components", "fees", "--share", "50%",
                            *REASON)  # fmt: skip
    waived = (fees + 1) // 2  # half of the fees, half-up
    assert shown["waived"] == f"{waived // 100}.{waived % 100:02d}"
    arrears = book.snapshot_value(account, "arrears_fen")
    assert Decimal(shown["lines"][0]["amount_due"]) * 100 == arrears - waived
    # Within every role's waiver limit, but not automatic: a second collector approves it.
    assert shown["status"] == "proposed"
    assert as_json(_approve(book, shown["arrangement_id"], COLLECTOR_2))["status"] == "approved"


def test_an_account_has_one_open_arrangement_at_a_time(book: Book) -> None:
    account = book.account("prime")
    first = book.propose_ok(account, "--kind", "ptp", "--pay-by", day(7).isoformat(), *REASON)
    before = book.counts()
    second = book.propose(account, "--kind", "installment", "--months", "6", *REASON)
    assert second.exit_code == 4
    assert f"account {account} already has arrangement 1 (ptp, approved); cancel it first" in (
        second.output
    )
    assert book.counts() == before
    ok(book.cli("arrangement", "cancel", str(first["arrangement_id"]), "--as-of",
                AS_OF.isoformat(), "--reason", "客户改为分期", "--actor", COLLECTOR))  # fmt: skip
    assert book.propose_ok(account, "--kind", "installment", "--months", "6", *REASON)[
        "status"
    ] == ("proposed")


def test_nothing_overdue_nothing_to_arrange(book: Book) -> None:
    account = book.account("prime", overdue=False)
    refused = book.propose(account, "--kind", "ptp", "--pay-by", day(5).isoformat(), *REASON)
    assert refused.exit_code == 4 and f"account {account} has nothing overdue on 2026-11-27" in (
        refused.output
    )
    unknown = book.propose("NOPE", "--kind", "ptp", "--pay-by", day(5).isoformat(), *REASON)
    assert unknown.exit_code == 3 and "account NOPE is not in the snapshot of 2026-11-27" in (
        unknown.output
    )
    no_snapshot = book.cli("arrangement", "propose", account, "--as-of", "2026-11-20", "--kind",
                           "ptp", "--pay-by", day(5).isoformat(), *REASON)  # fmt: skip
    assert no_snapshot.exit_code == 3 and "no snapshot for 2026-11-20" in no_snapshot.output


def test_a_plan_follows_a_pause_of_the_same_account_only(book: Book) -> None:
    pause = as_json(
        book.cli("hardship", "apply", book.account("standard"), "--as-of", AS_OF.isoformat(),
                 "--reason-code", "illness", "--details", "住院", "--days", "30",
                 "--actor", COLLECTOR, "--json")
    )  # fmt: skip
    before = book.counts()
    other = book.propose(book.account("prime"), "--kind", "installment", "--months", "6",
                         *REASON, "--after-hardship", str(pause["hardship_id"]))  # fmt: skip
    assert other.exit_code in (2, 4), other.output
    assert "--after-hardship" in other.output or "hardship application" in other.output
    assert book.counts() == before


# ------------------------------------------------------------------------ deciding


def test_a_rejection_says_why_and_is_final(book: Book) -> None:
    account = book.account("prime")
    shown = book.propose_ok(account, "--kind", "installment", "--months", "12", *REASON)
    arrangement = str(shown["arrangement_id"])
    own = book.cli("arrangement", "reject", arrangement, "--reason", "x", "--actor", COLLECTOR)
    assert own.exit_code == 5 and "cancel it instead" in own.output
    silent = book.cli("arrangement", "reject", arrangement, "--reason", "  ", "--actor", SUPERVISOR)
    assert silent.exit_code == 2 and "--reason" in silent.output
    rejected = as_json(
        book.cli("arrangement", "reject", arrangement, "--reason", "月供超过收入的一半",
                 "--actor", SUPERVISOR, "--json")
    )  # fmt: skip
    assert (rejected["status"], rejected["decided_by"], rejected["decision_reason"]) == (
        "rejected",
        SUPERVISOR,
        "月供超过收入的一半",
    )
    assert book.holds(account) == []
    late = _approve(book, shown["arrangement_id"], MANAGER)
    assert late.exit_code == 4
    assert "arrangement 1 is rejected: it cannot become approved (allowed: nothing (final))" in (
        late.output
    )
    # A rejected proposal is not open: the collector may propose something else.
    assert book.propose_ok(account, "--kind", "installment", "--months", "6", *REASON)[
        "status"
    ] == ("proposed")


def test_cancelling_releases_the_hold_so_the_next_run_treats_the_account(book: Book) -> None:
    account = book.account("prime")
    shown = book.propose_ok(account, "--kind", "ptp", "--pay-by", day(7).isoformat(), *REASON)
    assert [h["hold_type"] for h in as_json(
        book.cli("hold", "list", "--active-on", day(1).isoformat(), "--json"))
    ] == ["arrangement"]  # fmt: skip

    cancelled = as_json(
        book.cli("arrangement", "cancel", str(shown["arrangement_id"]), "--as-of",
                 AS_OF.isoformat(), "--reason", "客户要求撤销", "--actor", COLLECTOR, "--json")
    )  # fmt: skip
    assert (cancelled["status"], cancelled["status_reason"]) == ("cancelled", "客户要求撤销")
    (hold,) = book.holds(account)
    assert hold["end_date"] < hold["start_date"]  # released before it began: covers no day
    active = as_json(book.cli("hold", "list", "--active-on", day(1).isoformat(), "--json"))
    assert [h for h in active if h["account_id"] == account] == []

    treated = plan_rows(_run(book)["plan_path"], account)
    assert [c for c, s, _ in treated if s == "planned"]
    assert all(b != "hold.arrangement" for _, _, b in treated)
    assert book.rows(
        "SELECT count(*) FROM work_items WHERE account_id = :a AND status = 'open'", a=account
    ) != [(0,)]
    again = book.cli("arrangement", "cancel", str(shown["arrangement_id"]), "--as-of",
                     AS_OF.isoformat(), "--reason", "twice", "--actor", COLLECTOR)  # fmt: skip
    assert again.exit_code == 4 and "is cancelled: it cannot become cancelled" in again.output


# ------------------------------------------------------------------------ audit


def test_every_transition_leaves_an_audit_event_and_the_chain_holds(book: Book) -> None:
    account = book.account("prime")
    plan = book.propose_ok(account, "--kind", "installment", "--months", "12", *REASON)
    ok(_approve(book, plan["arrangement_id"], SUPERVISOR, "--reason", "核实收入"))
    ok(book.cli("arrangement", "cancel", str(plan["arrangement_id"]), "--as-of",
                AS_OF.isoformat(), "--reason", "客户一次性还清", "--actor", COLLECTOR))  # fmt: skip
    promise = book.propose_ok(
        book.account("standard"), "--kind", "ptp", "--pay-by", day(3).isoformat(), *REASON
    )
    book.monitor(day(10))  # nothing was paid
    events = book.rows(
        "SELECT entity_id, actor, action, reason FROM audit_events"
        " WHERE entity_type = 'arrangement' ORDER BY event_id"
    )
    plan_id, promise_id = str(plan["arrangement_id"]), str(promise["arrangement_id"])
    assert events == [
        (plan_id, COLLECTOR, "arrangement.proposed", REASON[1]),
        (plan_id, SUPERVISOR, "arrangement.approved", "核实收入"),
        (plan_id, COLLECTOR, "arrangement.cancelled", "客户一次性还清"),
        (promise_id, COLLECTOR, "arrangement.proposed", REASON[1]),
        (promise_id, "policy", "arrangement.approved", "within the policy's automatic limits"),
        (promise_id, "night-batch", "arrangement.active", f"start date {day(1)}"),
        (
            promise_id,
            "night-batch",
            "arrangement.broken",
            f"line 1 due {day(3)}: 0.00 paid of 750.00 (needs 95%) after the grace days",
        ),
    ]
    holds = book.rows(
        "SELECT action FROM audit_events WHERE entity_type = 'case_hold' ORDER BY event_id"
    )
    assert holds == [("hold.place",), ("hold.release",), ("hold.place",), ("hold.release",)]
    shown = as_json(book.cli("arrangement", "show", plan_id, "--json"))
    assert [e["action"] for e in shown["history"]] == [
        "arrangement.proposed",
        "arrangement.approved",
        "arrangement.cancelled",
    ]
    verified = book.cli("audit", "verify", "--json")
    assert verified.exit_code == 0 and json.loads(verified.stdout)["ok"] is True


# ------------------------------------------------------------------------ bad input


BAD_INPUT = [
    (("--kind", "nonsense"), "--kind"),
    (("--kind", "ptp", "--pay-by", "2026-11-01"), "--pay-by"),
    (("--kind", "ptp", "--pay-by", AS_OF.isoformat()), "--pay-by"),
    (("--kind", "ptp", "--pay-by", "2026-12-32"), "--pay-by"),
    (("--kind", "ptp", "--pay-by", "2026-12-05", "--amount", "12.345"), "--amount"),
    (("--kind", "ptp", "--pay-by", "2026-12-05", "--amount", "-5.00"), "--amount"),
    (("--kind", "waiver", "--components", "fees", "--share", "150%"), "--share"),
    (("--kind", "waiver", "--components", "fees", "--share", "half"), "--share"),
    (("--kind", "waiver", "--components", "principal", "--share", "10%"), "components"),
    (("--kind", "installment", "--method", "balloon"), "--method"),
    (("--kind", "settlement", "--discount", "120%"), "--discount"),
]


def test_bad_input_exits_2_naming_the_option_and_stores_nothing(book: Book) -> None:
    account = book.account("prime")
    before = book.counts()
    for args, option in BAD_INPUT:
        result = book.propose(account, *args, *REASON)
        assert (result.exit_code, option in result.output) == (2, True), (args, result.output)
    assert book.counts() == before


def test_a_proposal_without_a_reason_is_refused(book: Book) -> None:
    before = book.counts()
    result = book.propose(
        book.account("prime"), "--kind", "ptp", "--pay-by", day(5).isoformat(), "--reason", " "
    )
    assert result.exit_code == 2 and "--reason: say why" in result.output
    assert book.counts() == before


def test_a_plan_of_zero_months_is_refused_not_made_twelve(book: Book) -> None:
    before = book.counts()
    result = book.propose(book.account("prime"), "--kind", "installment", "--months", "0", *REASON)
    assert result.exit_code == 2, result.output
    assert "--months" in result.output or "months" in result.output
    assert book.counts() == before


# ------------------------------------------------------------------------ offers


def _half_up_yuan(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.mark.parametrize(
    ("segment", "product", "kinds"),
    [
        ("prime", "credit_card", {"ptp", "installment", "deferral", "waiver", "settlement"}),
        ("prime", "instalment_loan", {"ptp", "installment", "deferral", "waiver", "settlement"}),
        ("standard", "credit_card", {"ptp", "installment", "waiver", "settlement"}),
        ("high_risk", "credit_card", {"ptp", "settlement"}),
    ],
)
def test_offers_list_what_the_segment_may_have_with_burden_and_recovery(
    book: Book, segment: str, product: str, kinds: set[str]
) -> None:
    account = book.account(segment, product)
    keep = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))["expected_keep_rate"]
    data = as_json(book.cli("offers", account, "--as-of", AS_OF.isoformat(), "--json"))
    assert (data["account_id"], data["segment"], data["product"]) == (account, segment, product)
    assert {o["kind"] for o in data["options"]} == kinds
    for option in data["options"]:
        assert TWO_DECIMALS.match(option["monthly_burden"]), option
        assert TWO_DECIMALS.match(option["expected_recovery"]), option
        assert option["expected_keep_rate"] == keep[option["kind"]]
        expected = _half_up_yuan(Decimal(option["total_to_pay"]) * Decimal(keep[option["kind"]]))
        assert Decimal(option["expected_recovery"]) == expected
        assert Decimal(option["monthly_burden"]) <= Decimal(option["total_to_pay"])
    months = sorted(o["terms"]["months"] for o in data["options"] if o["kind"] == "installment")
    if kinds >= {"installment"}:
        cap = 36 if product == "instalment_loan" or segment == "standard" else 60
        assert months == [m for m in (3, 6, 12, 24, 36, 60) if m <= cap]
    promise = next(o for o in data["options"] if o["kind"] == "ptp")
    assert promise["available"] is True
    assert (
        promise["total_to_pay"]
        == f"{Decimal(book.snapshot_value(account, 'arrears_fen')) / 100:.2f}"
    )
    assert book.count("arrangements") == 0  # offering stores nothing


def test_offers_name_who_must_approve(book: Book) -> None:
    data = as_json(
        book.cli("offers", book.account("prime"), "--as-of", AS_OF.isoformat(), "--json")
    )
    approval = {
        (o["kind"], o["terms"].get("months")): o["approval"]
        for o in data["options"]
        if o["kind"] in ("ptp", "installment")
    }
    assert approval[("ptp", None)] == "collector or supervisor or manager"  # 30 days out
    assert approval[("installment", 6)] == "collector or supervisor or manager"
    assert approval[("installment", 12)] == "supervisor or manager"
    assert approval[("installment", 60)] == "manager"
    human = book.cli("offers", book.account("prime"), "--as-of", AS_OF.isoformat())
    assert human.exit_code == 0 and "segment prime" in human.stdout
    missing = book.cli("offers", "NOPE", "--as-of", AS_OF.isoformat())
    assert missing.exit_code == 3


# ------------------------------------------------------------------------ users, policy file


def test_staff_are_added_with_a_known_role_once(book: Book) -> None:
    added = book.cli("user", "add", "zhou.collector", "--role", "collector", "--name", "周",
                     "--actor", "admin")  # fmt: skip
    assert added.exit_code == 0 and "added zhou.collector (collector)" in added.stdout
    listed = as_json(book.cli("user", "list", "--json"))
    assert {"username": "zhou.collector", "name": "周", "role": "collector", "active": True} in (
        listed
    )
    twice = book.cli("user", "add", "zhou.collector", "--role", "manager", "--actor", "admin")
    assert twice.exit_code == 4 and "already exists" in twice.output
    wrong = book.cli("user", "add", "qian.boss", "--role", "boss", "--actor", "admin")
    assert wrong.exit_code == 2 and "--role: 'boss' is not one of collector" in wrong.output
    badly_named = book.cli("user", "add", "Zhou Wei", "--role", "collector", "--actor", "admin")
    assert badly_named.exit_code == 2 and "username 'Zhou Wei'" in badly_named.output
    assert book.rows("SELECT action FROM audit_events WHERE entity_id = 'zhou.collector'") == [
        ("user.add",)
    ]


def test_another_policy_file_is_honoured(book: Book, tmp_path: Path) -> None:
    """HUANCUI_ARRANGEMENT_POLICY: a bank whose policy approves nothing by itself."""
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    data["authority"]["auto"] = {"ptp_days": 0}
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    cli = Cli(book.settings)
    cli.env["HUANCUI_ARRANGEMENT_POLICY"] = str(strict)
    result = cli("arrangement", "propose", book.account("prime"), "--as-of", AS_OF.isoformat(),
                 "--kind", "ptp", "--pay-by", day(5).isoformat(), *REASON, "--actor", COLLECTOR,
                 "--json")  # fmt: skip
    assert json.loads(ok(result).stdout)["status"] == "proposed"
    cli.env["HUANCUI_ARRANGEMENT_POLICY"] = str(tmp_path / "missing.yaml")
    broken = cli("arrangement", "propose", book.account("standard"), "--as-of", AS_OF.isoformat(),
                 "--kind", "ptp", "--pay-by", day(5).isoformat(), *REASON, "--actor", COLLECTOR)  # fmt: skip
    assert broken.exit_code == 2 and "missing.yaml: cannot read the arrangements policy" in (
        broken.output
    )
