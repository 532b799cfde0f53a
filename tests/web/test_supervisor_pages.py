"""The supervisor's pages over HTTP: the approvals inbox under the authority matrix and four
eyes, approving and rejecting with errors shown inline, and the team page."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from huancui.kit.settings import Settings
from tests.arrangements.conftest import as_json
from tests.web.conftest import (
    AS_OF,
    COLLECTOR,
    MANAGER,
    SUPERVISOR,
    Book,
    WebClient,
    audit_actions,
    new_client,
)

PLAN_REASON = ("--reason", "客户收入下降，申请分期")


def _plan(book: Book, account: str, months: int, *, actor: str = COLLECTOR) -> int:
    shown = book.propose_ok(
        account, "--kind", "installment", "--months", str(months), *PLAN_REASON, actor=actor
    )
    assert shown["status"] == "proposed"
    return int(shown["arrangement_id"])


def _pause(book: Book, account: str, days: int) -> int:
    applied: dict[str, Any] = as_json(
        book.cli(
            "hardship", "apply", account, "--as-of", AS_OF.isoformat(), "--reason-code",
            "job_loss", "--details", "工厂停产，三个月无收入", "--days", str(days),
            "--actor", COLLECTOR, "--json",
        )
    )  # fmt: skip
    return int(applied["hardship_id"])


def _status(book: Book, arrangement_id: int) -> str:
    ((status,),) = book.rows(
        "SELECT status FROM arrangements WHERE arrangement_id = :i", i=arrangement_id
    )
    return str(status)


def test_a_supervisor_approves_a_collectors_plan_from_the_inbox(book: Book, web: WebClient) -> None:
    plan = _plan(book, book.account("prime", "instalment_loan"), 12)
    web.sign_in(SUPERVISOR)
    inbox = web.get("/supervise")
    assert inbox.status_code == 200
    assert f'id="arrangement-{plan}"' in inbox.text
    assert COLLECTOR in inbox.text and "客户收入下降，申请分期" in inbox.text
    approved = web.post(f"/supervise/arrangements/{plan}/approve", {"reason": "收入证明已核实"})
    assert approved.status_code == 303 and approved.headers["location"] == "/supervise"
    assert _status(book, plan) == "approved"
    after = web.get("/supervise")
    assert f"#{plan} 已批准" in after.text and "暂无待您审批的事项" in after.text
    ((actor,),) = book.rows(
        "SELECT actor FROM audit_events WHERE action = 'arrangement.approved' AND entity_id = :i",
        i=str(plan),
    )
    assert actor == SUPERVISOR


def test_four_eyes_keeps_a_supervisors_own_proposal_out_of_their_inbox(
    book: Book, web: WebClient
) -> None:
    own = _plan(book, book.account("prime", "instalment_loan"), 12, actor=SUPERVISOR)
    web.sign_in(SUPERVISOR)
    inbox = web.get("/supervise")
    assert f'id="arrangement-{own}"' not in inbox.text
    assert "您本人提交的 1 项未列出" in inbox.text
    forced = web.post(f"/supervise/arrangements/{own}/approve", {"reason": ""})
    assert forced.status_code == 422
    assert "four eyes" in forced.text and "未保存" in forced.text
    assert _status(book, own) == "proposed"


def test_a_plan_beyond_the_supervisors_authority_goes_to_a_manager(
    book: Book, web: WebClient, web_settings: Settings
) -> None:
    long_plan = _plan(book, book.account("prime"), 36)  # a supervisor approves up to 24 months
    web.sign_in(SUPERVISOR)
    inbox = web.get("/supervise").text
    assert f'id="arrangement-{long_plan}"' not in inbox
    beyond = inbox[inbox.index('id="beyond-authority"') :]
    assert "a term of 36 months (limit 24)" in beyond and "经理" in beyond
    refused = web.post(f"/supervise/arrangements/{long_plan}/approve", {"reason": ""})
    assert refused.status_code == 422 and "may not approve" in refused.text
    assert _status(book, long_plan) == "proposed"
    manager = new_client(web_settings)
    with manager.http:
        manager.sign_in(MANAGER)
        assert f'id="arrangement-{long_plan}"' in manager.get("/supervise").text


def test_a_rejection_needs_a_reason_given_next_to_the_item(book: Book, web: WebClient) -> None:
    plan = _plan(book, book.account("prime", "instalment_loan"), 12)
    web.sign_in(SUPERVISOR)
    before = audit_actions(book)
    missing = web.post(f"/supervise/arrangements/{plan}/reject", {"reason": "  "})
    assert missing.status_code == 422 and "say why it is rejected" in missing.text
    assert _status(book, plan) == "proposed" and audit_actions(book) == before
    rejected = web.post(f"/supervise/arrangements/{plan}/reject", {"reason": "收入不足以覆盖"})
    assert rejected.status_code == 303 and _status(book, plan) == "rejected"


def test_a_supervisor_grants_a_shorter_hardship_pause(book: Book, web: WebClient) -> None:
    pause = _pause(book, book.account("standard"), 45)
    web.sign_in(SUPERVISOR)
    inbox = web.get("/supervise").text
    assert f'id="hardship-{pause}"' in inbox and "工厂停产" in inbox
    approved = web.post(f"/supervise/hardship/{pause}/approve", {"reason": "", "days": "30"})
    assert approved.status_code == 303
    ((status, start, end),) = book.rows(
        "SELECT status, start_date, end_date FROM hardship_applications WHERE hardship_id = :i",
        i=pause,
    )
    assert status == "approved"
    assert (date.fromisoformat(str(end)[:10]) - date.fromisoformat(str(start)[:10])).days == 29


def test_the_team_page_shows_who_holds_what_and_todays_outcomes(
    worked: Book, web: WebClient, web_settings: Settings
) -> None:
    collector = new_client(web_settings)
    with collector.http:
        collector.sign_in(COLLECTOR)
        collector.post("/work/next", {})
        logged = collector.post(
            "/work/accounts/H1/outcome", {"outcome": "right_party_contact", "channel": "call"}
        )
        assert logged.status_code == 303
        collector.post("/work/next", {})  # now holds P2
    web.sign_in(SUPERVISOR)
    team = web.get("/supervise/team")
    assert team.status_code == 200
    holders = team.text[team.text.index('id="holders"') :]
    assert COLLECTOR in holders and "P2" in holders.split("</section>")[0]
    row = re.search(rf'<tr data-collector="{re.escape(COLLECTOR)}">(.*?)</tr>', team.text, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells[:3] == ["1", "100%", "0"]  # one outcome, a right-party contact, no promise
