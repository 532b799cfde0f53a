"""The collector's journey in a real browser (Debian's chromium through playwright): sign in,
take the next case, type a promise and watch its quote update, save it, and the case is gone
from the queue. Screenshots of each step go to $HUANCUI_ARTIFACTS (else the test's tmp dir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import COLLECTOR, PASSWORD, Book

pytestmark = pytest.mark.browser


def test_a_collector_takes_a_case_and_records_a_promise_with_a_live_quote(
    worked: Book, browser_page: Any, artifacts: Path
) -> None:
    page = browser_page
    page.goto("/login")
    page.fill("input[name=username]", COLLECTOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/work")
    assert page.locator("#queue tbody tr").count() == 4
    page.screenshot(path=str(artifacts / "01-queue.png"), full_page=True)

    page.click("#next-case")
    page.wait_for_url("**/work/accounts/H1")
    assert "此案件由您处理" in page.inner_text("#claim-status")
    page.wait_for_selector("#dpd-chart .main-svg")  # plotly.js drew the chart, served by us
    page.screenshot(path=str(artifacts / "02-account-360.png"), full_page=True)

    page.click("#promise-form summary")
    form = page.locator("#promise-form form")
    form.locator("input[name=amount]").fill("1000.00")
    form.locator("input[name=pay_by]").fill("2026-12-02")
    quote = page.locator("#promise-quote")
    quote.get_by_text("应还：¥1,000.00，共 1 期").wait_for()
    form.locator("input[name=amount]").fill("1775.00")
    quote.get_by_text("应还：¥1,775.00，共 1 期").wait_for()  # the quote follows the typing
    form.locator("textarea[name=reason]").fill("客户承诺下周发薪后全额还款")
    page.screenshot(path=str(artifacts / "03-promise-with-quote.png"), full_page=True)

    form.locator("button[value=save]").click()
    page.wait_for_url("**/work")
    assert "已记录承诺" in page.inner_text("main")
    rows = page.locator("#queue tbody tr")
    assert rows.count() == 3
    assert page.locator('#queue tr[data-account="H1"]').count() == 0
    page.screenshot(path=str(artifacts / "04-queue-without-the-case.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto("/work/accounts/H1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 391  # no sideways scrolling
    page.screenshot(path=str(artifacts / "05-account-on-a-phone.png"), full_page=True)
    ((outcome,),) = worked.rows("SELECT outcome FROM contact_outcomes WHERE account_id = 'H1'")
    assert outcome == "promise_to_pay"
