"""缓催, the hardship pause, through the real CLI on SQLite and PostgreSQL: an application with
its evidence, the limits of the policy, approval under the authority matrix placing a hardship
hold, rejection, withdrawal and ending early."""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import Result

from huancui.arrangements.hardship import accrual_estimate_fen
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

DETAILS = ("--details", "工厂停产，三个月无收入")


def _apply(book: Book, account: str, *args: str, actor: str = COLLECTOR) -> Result:
    return book.cli(
        "hardship", "apply", account, "--as-of", AS_OF.isoformat(), "--reason-code", "job_loss",
        *DETAILS, "--actor", actor, "--json", *args,
    )  # fmt: skip


def _apply_ok(book: Book, account: str, *args: str, actor: str = COLLECTOR) -> dict[str, Any]:
    data: dict[str, Any] = as_json(_apply(book, account, *args, actor=actor))
    return data


def _approve(book: Book, hardship_id: int, actor: str, *args: str) -> Result:
    return book.cli(
        "hardship", "approve", str(hardship_id), "--actor", actor, "--today", AS_OF.isoformat(),
        "--reason", "证明材料齐全", "--json", *args,
    )  # fmt: skip


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _estimate(balance_fen: int, rate_ppm: int, days: int) -> int:
    """balance × rate × days / 365, half-up, computed exactly with fractions."""
    exact = Fraction(balance_fen) * Fraction(rate_ppm, 1_000_000) * Fraction(days, 365)
    return int(Decimal(exact.numerator / Decimal(exact.denominator)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    ))  # fmt: skip


@given(
    balance=st.integers(min_value=0, max_value=10**10),
    rate=st.integers(min_value=0, max_value=400_000),
    days=st.integers(min_value=1, max_value=90),
)
def test_the_interest_estimate_is_balance_times_rate_times_days_over_365(
    balance: int, rate: int, days: int
) -> None:
    assert accrual_estimate_fen(balance, rate, days) == _estimate(balance, rate, days)


def test_the_estimate_rounds_half_a_fen_up() -> None:
    # 73 fen at 50% for 5 days: 73 × 0.5 × 5 / 365 = 0.5 fen exactly.
    assert accrual_estimate_fen(73, 500_000, 5) == 1
    assert accrual_estimate_fen(72, 500_000, 5) == 0  # 0.4932 fen


# ------------------------------------------------------------------------ applying


def test_an_application_stores_its_evidence_under_the_hash(book: Book, tmp_path: Path) -> None:
    account = book.account("prime")
    letter = tmp_path / "dismissal-letter.pdf"
    letter.write_bytes(b"%PDF-1.4 dismissal letter of 2026-11-20")
    statement = tmp_path / "bank-statement.png"
    statement.write_bytes(bytes(range(256)) * 8)
    shown = _apply_ok(book, account, "--days", "30", "--evidence", str(letter),
                      "--evidence", str(statement))  # fmt: skip
    assert (shown["status"], shown["requested_start"], shown["requested_days"]) == (
        "applied",
        day(1).isoformat(),
        30,
    )
    assert (shown["start_date"], shown["end_date"], shown["applied_by"]) == (None, None, COLLECTOR)
    stored = {e["filename"]: e for e in shown["evidence"]}
    for path in (letter, statement):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert stored[path.name]["sha256"] == digest
        assert stored[path.name]["bytes"] == path.stat().st_size
        assert (book.settings.home / "evidence" / digest).read_bytes() == path.read_bytes()
    assert not list((book.settings.home / "evidence").glob(".*partial"))
    # Interest keeps accruing, and the customer is told roughly how much.
    balance = book.snapshot_value(account, "balance_fen")
    rate = book.snapshot_value(account, "annual_rate_ppm")
    assert shown["interest_accrues"] is True
    assert shown["accrual_estimate"] == _yuan(_estimate(balance, rate, 30))
    assert [(e["actor"], e["action"], e["reason"]) for e in shown["history"]] == [
        (COLLECTOR, "hardship.applied", "job_loss: application via cli")
    ]
    human = book.cli("hardship", "show", str(shown["hardship_id"]))
    assert f"evidence: {letter.name} sha256 {stored[letter.name]['sha256']}" in human.stdout


def test_the_same_file_is_stored_once(book: Book, tmp_path: Path) -> None:
    evidence = tmp_path / "certificate.jpg"
    evidence.write_bytes(b"hospital certificate")
    _apply_ok(book, book.account("prime"), "--evidence", str(evidence))
    _apply_ok(book, book.account("standard"), "--evidence", str(evidence))
    assert len(list((book.settings.home / "evidence").iterdir())) == 1
    assert book.rows("SELECT count(DISTINCT sha256), count(*) FROM hardship_evidence") == [(1, 2)]


def test_a_missing_evidence_file_stores_nothing(book: Book, tmp_path: Path) -> None:
    present = tmp_path / "present.pdf"
    present.write_bytes(b"fine")
    before = book.counts()
    missing = _apply(book, book.account("prime"), "--evidence", str(present),
                     "--evidence", str(tmp_path / "missing.pdf"))  # fmt: skip
    assert missing.exit_code == 2
    assert f"--evidence: cannot read {tmp_path / 'missing.pdf'}" in missing.output
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    blank = _apply(book, book.account("prime"), "--evidence", str(empty))
    assert blank.exit_code == 2 and "is empty" in blank.output
    assert book.counts() == before
    assert not (book.settings.home / "evidence").exists()


def test_what_an_application_must_say(book: Book) -> None:
    account = book.account("prime")
    before = book.counts()
    unknown = book.cli("hardship", "apply", account, "--as-of", AS_OF.isoformat(),
                       "--reason-code", "lazy", *DETAILS, "--actor", COLLECTOR)  # fmt: skip
    assert unknown.exit_code == 2
    assert (
        "--reason-code: 'lazy' is not one of job_loss, illness, disaster, family_emergency, other"
    ) in unknown.output
    too_long = _apply(book, account, "--days", "91")
    assert too_long.exit_code == 2
    assert "--days: a pause lasts 1 to 90 days, not 91" in too_long.output
    started = _apply(book, account, "--start", AS_OF.isoformat())
    assert started.exit_code == 2 and "--start: a pause starts after the as-of date" in (
        started.output
    )
    vague = book.cli("hardship", "apply", account, "--as-of", AS_OF.isoformat(),
                     "--reason-code", "illness", "--details", " ", "--actor", COLLECTOR)  # fmt: skip
    assert vague.exit_code == 2 and "--details" in vague.output
    nobody = _apply(book, "NOPE")
    assert nobody.exit_code == 3 and "account NOPE is not in the case plane" in nobody.output
    assert book.counts() == before
    # Without --days the policy's maximum is asked for.
    assert _apply_ok(book, account)["requested_days"] == 90


def test_a_pause_of_zero_days_is_refused_not_made_ninety(book: Book) -> None:
    before = book.counts()
    zero = _apply(book, book.account("prime"), "--days", "0")
    assert zero.exit_code == 2, zero.output
    assert "--days" in zero.output
    assert book.counts() == before


def test_granting_zero_days_is_refused_not_the_whole_request(book: Book) -> None:
    applied = _apply_ok(book, book.account("prime"), "--days", "30")
    zero = _approve(book, applied["hardship_id"], SUPERVISOR, "--days", "0")
    assert zero.exit_code == 2, zero.output
    assert "--days: grant 1 to 30 days" in zero.output
    assert book.rows("SELECT status FROM hardship_applications") == [("applied",)]


def test_one_open_application_per_account(book: Book) -> None:
    account = book.account("prime")
    first = _apply_ok(book, account, "--days", "30")
    again = _apply(book, account, "--days", "10")
    assert again.exit_code == 4
    assert (
        f"account {account} already has hardship application {first['hardship_id']} (applied)"
        in (again.output)
    )


def test_one_pause_per_customer_in_twelve_months(book: Book) -> None:
    account = book.account("prime")
    first = _apply_ok(book, account, "--days", "30")
    ok(_approve(book, first["hardship_id"], SUPERVISOR))
    ok(book.cli("hardship", "end", str(first["hardship_id"]), "--last-day", day(5).isoformat(),
                "--reason", "客户已找到新工作", "--actor", COLLECTOR))  # fmt: skip
    before = book.counts()
    again = _apply(book, account, "--days", "30")
    assert again.exit_code == 5
    message = " ".join(again.output.split())
    assert f"the customer had a pause from {day(1)} (application {first['hardship_id']})" in message
    assert "at most one in 12 months: a new one may start from 2027-11-28" in message
    # The limit is the customer's: their other account may not pause either.
    other = book.account("prime", overdue=False)
    assert _apply(book, other, "--days", "10").exit_code == 5
    assert book.counts() == before


def test_two_applications_of_one_customer_do_not_give_two_pauses_in_a_year(book: Book) -> None:
    """Applied for on two of the customer's accounts before either was decided: approving the
    second would give the customer a second pause within 12 months."""
    first = _apply_ok(book, book.account("prime"), "--days", "30")
    second = _apply_ok(book, book.account("prime", overdue=False), "--days", "30")
    ok(_approve(book, first["hardship_id"], SUPERVISOR))
    refused = _approve(book, second["hardship_id"], SUPERVISOR)
    assert refused.exit_code == 5, refused.output
    assert "at most one in 12 months" in " ".join(refused.output.split())
    assert book.rows("SELECT count(*) FROM case_holds WHERE hold_type = 'hardship'") == [(1,)]


def test_a_new_pause_may_start_from_the_day_the_refusal_names(book: Book) -> None:
    """The refusal says when a new pause may start; a request starting on that day, made a few
    weeks before it, is accepted."""
    account = book.account("prime")
    first = _apply_ok(book, account, "--days", "30")
    ok(_approve(book, first["hardship_id"], SUPERVISOR))
    ok(book.cli("hardship", "end", str(first["hardship_id"]), "--last-day", day(30).isoformat(),
                "--reason", "到期", "--actor", COLLECTOR))  # fmt: skip
    refused = _apply(book, account, "--days", "30")
    allowed_from = "2027-11-28"
    assert f"a new one may start from {allowed_from}" in " ".join(refused.output.split())
    later = book.cli("hardship", "apply", account, "--as-of", day(340).isoformat(),
                     "--start", allowed_from, "--reason-code", "job_loss", *DETAILS,
                     "--days", "30", "--actor", COLLECTOR, "--json")  # fmt: skip
    assert later.exit_code == 0, later.output


def test_rejected_or_withdrawn_applications_do_not_use_up_the_year(book: Book) -> None:
    account = book.account("prime")
    first = _apply_ok(book, account, "--days", "30")
    own = book.cli("hardship", "reject", str(first["hardship_id"]), "--reason", "x",
                   "--actor", COLLECTOR)  # fmt: skip
    assert own.exit_code == 5 and "li.collector recorded application 1" in own.output
    rejected = as_json(
        book.cli("hardship", "reject", str(first["hardship_id"]), "--reason", "材料不足",
                 "--actor", SUPERVISOR, "--json")
    )  # fmt: skip
    assert (rejected["status"], rejected["decided_by"], rejected["decision_reason"]) == (
        "rejected",
        SUPERVISOR,
        "材料不足",
    )
    late = _approve(book, first["hardship_id"], MANAGER)
    assert late.exit_code == 4
    assert "hardship application 1 is rejected: it cannot become approved" in late.output

    second = _apply_ok(book, account, "--days", "30")
    withdrawn = as_json(
        book.cli("hardship", "withdraw", str(second["hardship_id"]), "--reason", "客户撤回",
                 "--actor", COLLECTOR, "--json")
    )  # fmt: skip
    assert withdrawn["status"] == "withdrawn"
    third = _apply_ok(book, account, "--days", "30")
    assert third["status"] == "applied"
    assert [h["action"] for h in as_json(
        book.cli("hardship", "show", str(first["hardship_id"]), "--json"))["history"]
    ] == ["hardship.applied", "hardship.rejected"]  # fmt: skip
    assert book.holds(account) == []


def test_only_a_role_that_decides_may_reject_an_application(book: Book) -> None:
    """An analyst approves nothing (arrangements refuse their rejections too): nor may they
    turn a customer in trouble away."""
    applied = _apply_ok(book, book.account("prime"), "--days", "30")
    refused = book.cli("hardship", "reject", str(applied["hardship_id"]), "--reason", "不符合",
                       "--actor", ANALYST)  # fmt: skip
    assert refused.exit_code == 5, refused.output
    assert book.rows("SELECT status FROM hardship_applications") == [("applied",)]


# ------------------------------------------------------------------------ approving


def test_approval_needs_a_role_covering_the_days_and_not_the_applicant(book: Book) -> None:
    account = book.account("standard")
    long = _apply_ok(book, account, "--days", "75")
    supervisor = _approve(book, long["hardship_id"], SUPERVISOR)
    assert supervisor.exit_code == 5
    assert (
        "wang.supervisor (supervisor) may not approve a pause of 75 days (limit 60);"
        " it needs a manager"
    ) in " ".join(supervisor.output.split())
    collector = _approve(book, long["hardship_id"], COLLECTOR_2)
    assert collector.exit_code == 5
    assert "may not approve a pause of 75 days (limit 0)" in " ".join(collector.output.split())
    assert book.holds(account) == []
    approved = as_json(_approve(book, long["hardship_id"], MANAGER))
    assert (approved["status"], approved["decided_by"]) == ("approved", MANAGER)
    assert (approved["start_date"], approved["end_date"]) == (
        day(1).isoformat(),
        day(75).isoformat(),
    )
    (hold,) = book.holds(account)
    assert (hold["hold_type"], hold["start_date"], hold["end_date"]) == (
        "hardship",
        day(1).isoformat(),
        day(75).isoformat(),
    )
    assert (hold["hold_id"], hold["source"], hold["source_id"]) == (
        approved["hold_id"],
        "hardship",
        str(long["hardship_id"]),
    )
    assert book.rows("SELECT decided_role FROM hardship_applications") == [("manager",)]

    mine = _apply_ok(book, book.account("prime"), "--days", "30", actor=MANAGER)
    own = _approve(book, mine["hardship_id"], MANAGER)
    assert own.exit_code == 5 and "four eyes" in own.output
    assert as_json(_approve(book, mine["hardship_id"], SUPERVISOR))["status"] == "approved"


def test_approving_fewer_days_than_asked_shortens_pause_and_estimate(book: Book) -> None:
    account = book.account("prime")
    applied = _apply_ok(book, account, "--days", "30", "--start", day(3).isoformat())
    more = _approve(book, applied["hardship_id"], SUPERVISOR, "--days", "40")
    assert more.exit_code == 2 and "--days: grant 1 to 30 days" in more.output
    granted = as_json(_approve(book, applied["hardship_id"], SUPERVISOR, "--days", "20"))
    assert (granted["start_date"], granted["end_date"]) == (
        day(3).isoformat(),
        day(22).isoformat(),
    )
    balance = book.snapshot_value(account, "balance_fen")
    rate = book.snapshot_value(account, "annual_rate_ppm")
    assert granted["accrual_estimate"] == _yuan(_estimate(balance, rate, 20))
    assert granted["requested_days"] == 30


def test_a_late_approval_starts_the_pause_the_next_day(book: Book) -> None:
    applied = _apply_ok(book, book.account("prime"), "--days", "10")
    approved = as_json(
        book.cli("hardship", "approve", str(applied["hardship_id"]), "--actor", SUPERVISOR,
                 "--today", day(4).isoformat(), "--json")
    )  # fmt: skip
    assert (approved["start_date"], approved["end_date"]) == (
        day(5).isoformat(),
        day(14).isoformat(),
    )


def test_an_approved_pause_stops_the_next_run(book: Book) -> None:
    account = book.account("standard")
    applied = _apply_ok(book, account, "--days", "14")
    ok(_approve(book, applied["hardship_id"], SUPERVISOR))
    report = as_json(
        book.cli("run", "--as-of", AS_OF.isoformat(), "--actor", "night-batch", "--json")
    )
    rows = plan_rows(report["plan_path"], account)
    assert rows and {(s, b) for _, s, b in rows} == {("suppressed", "hold.hardship")}
    assert book.rows("SELECT count(*) FROM outbox WHERE account_id = :a", a=account) == [(0,)]
    # ... and a plan may follow it.
    plan = book.propose_ok(account, "--kind", "installment", "--months", "6", "--reason",
                           "缓催结束后的分期", "--after-hardship", str(applied["hardship_id"]))  # fmt: skip
    assert plan["hardship_id"] == applied["hardship_id"]
    missing = book.propose(book.account("prime"), "--kind", "installment", "--months", "6",
                           "--reason", "x", "--after-hardship", "99")  # fmt: skip
    assert missing.exit_code == 3 and "hardship application 99 does not exist" in missing.output


# ------------------------------------------------------------------------ ending


def test_ending_early_releases_the_hold(book: Book) -> None:
    account = book.account("prime")
    applied = _apply_ok(book, account, "--days", "60")
    ok(_approve(book, applied["hardship_id"], SUPERVISOR))
    silent = book.cli("hardship", "end", str(applied["hardship_id"]), "--last-day",
                      day(10).isoformat(), "--reason", " ", "--actor", COLLECTOR)  # fmt: skip
    assert silent.exit_code == 2
    ended = as_json(
        book.cli("hardship", "end", str(applied["hardship_id"]), "--last-day", day(10).isoformat(),
                 "--reason", "客户已复工", "--actor", COLLECTOR, "--json")
    )  # fmt: skip
    assert (ended["status"], ended["ended_on"], ended["end_reason"]) == (
        "ended",
        day(10).isoformat(),
        "ended early: 客户已复工",
    )
    (hold,) = book.holds(account)
    assert hold["end_date"] == day(10).isoformat()
    on = as_json(book.cli("hold", "list", "--active-on", day(10).isoformat(), "--json"))
    after = as_json(book.cli("hold", "list", "--active-on", day(11).isoformat(), "--json"))
    assert [h["hold_id"] for h in on] == [hold["hold_id"]] and after == []
    twice = book.cli("hardship", "end", str(applied["hardship_id"]), "--last-day",
                     day(11).isoformat(), "--reason", "again", "--actor", COLLECTOR)  # fmt: skip
    assert twice.exit_code == 4 and "is ended: it cannot become ended" in twice.output
    assert [e["action"] for e in ended["history"]] == [
        "hardship.applied",
        "hardship.approved",
        "hardship.ended",
    ]
    assert ok(book.cli("audit", "verify")).stdout.startswith("audit log intact")


def test_listing_applications(book: Book) -> None:
    first = _apply_ok(book, book.account("prime"), "--days", "30")
    _apply_ok(book, book.account("standard"), "--days", "30")
    ok(_approve(book, first["hardship_id"], SUPERVISOR))
    listed = as_json(book.cli("hardship", "list", "--status", "approved", "--json"))
    assert [(r["hardship_id"], r["account_id"], r["end_date"]) for r in listed] == [
        (first["hardship_id"], book.account("prime"), day(30).isoformat())
    ]
    assert len(as_json(book.cli("hardship", "list", "--json"))) == 2
    assert book.cli("hardship", "show", "99").exit_code == 3


def test_a_pauses_hold_ends_with_the_pause_never_by_hand(book: Book) -> None:
    """Releasing a 缓催 hold by hand would resume collection while the pause still shows as
    running: refused, naming the command that ends the pause."""
    account = book.account("prime")
    applied = _apply_ok(book, account, "--days", "30")
    ok(_approve(book, applied["hardship_id"], SUPERVISOR))
    ((hold_id,),) = book.rows("SELECT hold_id FROM case_holds WHERE source = 'hardship'")
    refused = book.cli(
        "hold", "release", str(hold_id), "--last-day", AS_OF.isoformat(),
        "--reason", "customer called", "--actor", SUPERVISOR,
    )  # fmt: skip
    assert refused.exit_code == 4
    assert f"huancui hardship end {applied['hardship_id']}" in refused.output
    assert book.rows("SELECT released_at FROM case_holds WHERE hold_id = :h", h=hold_id) == [
        (None,)
    ]
