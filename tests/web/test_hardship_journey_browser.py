"""The 缓催 journey across roles in a real browser (Debian's chromium through playwright): a
customer applies for a hardship pause on the portal, a supervisor approves it in the approvals
inbox, and the next nightly run and send contact that customer with nothing. Screenshots of
each step go to $HUANCUI_ARTIFACTS (else the test's tmp dir)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from huancui.kit.settings import Settings
from tests.web.conftest import PASSWORD, SUPERVISOR, Book, LiveServer
from tests.web.portal.conftest import PDF, PHONE_C1, last_code

pytestmark = pytest.mark.browser

CUSTOMER = "C1"
SEND_AT = "2026-11-28T10:00:00+08:00"  # 10:00 Beijing time on the contact day of the run


def _pending_for(book: Book, customer_id: str) -> int:
    rows = book.rows(
        "SELECT count(*) FROM outbox WHERE customer_id = :c AND status = 'pending'",
        c=customer_id,
    )
    return int(rows[0][0])


def _collection_messages_sent_to(settings: Settings, customer_id: str) -> list[str]:
    """Templates of what the file adapter sent to the customer, sign-in codes aside."""
    path = settings.home / "outbox" / "messages.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    records = [json.loads(line) for line in lines]
    return [
        r["template"]
        for r in records
        if r["customer_id"] == customer_id and r["template"] != "notice.portal.code"
    ]


def test_a_customer_applies_for_a_pause_a_supervisor_approves_and_the_night_sends_nothing(
    worked: Book,
    web_settings: Settings,
    browser_page: Any,
    live_server: LiveServer,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    book = worked
    account = book.account("prime")
    assert _pending_for(book, CUSTOMER) > 0  # the night planned reminders for this customer

    # The customer, on a phone: sign in with the code from the SMS and apply with a PDF.
    customer = browser_page
    customer.set_viewport_size({"width": 390, "height": 844})
    customer.goto("/portal/login")
    customer.get_by_label("手机号码").fill(PHONE_C1)
    customer.get_by_role("button", name="获取验证码").click()
    customer.get_by_label("6位验证码").fill(last_code(web_settings))
    customer.get_by_role("button", name="登录").click()
    customer.wait_for_url("**/portal")
    customer.locator(f'[data-account="{account}"]').get_by_role("link").click()
    customer.get_by_role("link", name="申请缓催（暂停催收）").click()
    customer.get_by_label("原因").select_option("job_loss")
    customer.get_by_label("请简要说明情况").fill("11月被公司裁员，正在找工作")
    customer.get_by_label("需要暂停多少天？").fill("60")
    evidence = tmp_path / "termination-letter.pdf"
    evidence.write_bytes(PDF)
    customer.locator('input[type="file"]').set_input_files(str(evidence))
    customer.get_by_role("button", name="提交申请").click()
    customer.wait_for_url(f"**/portal/accounts/{account}")
    assert customer.locator('[data-hardship-status="applied"]').is_visible()
    customer.screenshot(path=str(artifacts / "01-customer-applied.png"), full_page=True)
    ((hardship_id,),) = book.rows(
        "SELECT hardship_id FROM hardship_applications WHERE account_id = :a", a=account
    )

    # The supervisor, in another browser: the application waits in the inbox; approve it.
    context = customer.context.browser.new_context(base_url=live_server.url, locale="zh-CN")
    try:
        supervisor = context.new_page()
        supervisor.goto("/login")
        supervisor.fill("input[name=username]", SUPERVISOR)
        supervisor.fill("input[name=password]", PASSWORD)
        supervisor.click("button[type=submit]")
        supervisor.goto("/supervise")
        item = supervisor.locator(f"#hardship-{hardship_id}")
        assert "11月被公司裁员" in item.inner_text()
        supervisor.screenshot(path=str(artifacts / "02-supervisor-inbox.png"), full_page=True)
        item.locator(f'form[action="/supervise/hardship/{hardship_id}/approve"] button').click()
        supervisor.wait_for_url("**/supervise")
        assert supervisor.locator(f"#hardship-{hardship_id}").count() == 0
        supervisor.screenshot(path=str(artifacts / "03-approved.png"), full_page=True)
    finally:
        context.close()
    ((status, start),) = book.rows(
        "SELECT status, start_date FROM hardship_applications WHERE hardship_id = :h",
        h=hardship_id,
    )
    assert status == "approved"

    # The next nightly run plans nothing for the customer, and the send sends them nothing.
    run = book.cli("run", "--as-of", "2026-11-27", "--actor", "night-batch", "--json")
    assert run.exit_code == 0, run.output
    assert _pending_for(book, CUSTOMER) == 0
    held = book.rows(
        "SELECT count(*) FROM outbox WHERE customer_id = :c AND status = 'cancelled'",
        c=CUSTOMER,
    )
    assert held[0][0] > 0  # what the night had planned was taken back
    open_work = book.rows(
        "SELECT count(*) FROM work_items WHERE customer_id = :c AND status = 'open'", c=CUSTOMER
    )
    assert open_work[0][0] == 0
    sent = book.cli("outbox", "send", "--now", SEND_AT, "--actor", "day-shift")
    assert sent.exit_code == 0, sent.output
    assert _collection_messages_sent_to(web_settings, CUSTOMER) == []
    others = book.rows("SELECT count(*) FROM outbox WHERE status = 'sent'")
    assert others[0][0] > 0, "the send ran and sent to other customers: the check is not vacuous"
    assert str(start) == "2026-11-28"  # the pause covers the contact day of the night's plan
