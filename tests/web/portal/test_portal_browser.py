"""In a real browser on a phone-sized screen (390×844): a customer signs in with the code from
the SMS, applies for 缓催 with a PDF, and sees the application pending. Screenshots go to
HUANCUI_ARTIFACTS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huancui.kit.settings import Settings
from tests.arrangements.conftest import Book
from tests.web.portal.conftest import PDF, PHONE_C1, last_code

PHONE = {"width": 390, "height": 844}


def _fits_the_screen(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_a_customer_on_a_phone_signs_in_and_applies_for_hardship_with_a_pdf(
    browser_page: Any, web_settings: Settings, book: Book, artifacts: Path, tmp_path: Path
) -> None:
    page = browser_page
    page.set_viewport_size(PHONE)
    prime = book.account("prime")

    page.goto("/portal/login")
    page.get_by_label("手机号码").fill(PHONE_C1)
    page.screenshot(path=str(artifacts / "1-phone.png"), full_page=True)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("6位验证码").fill(last_code(web_settings))
    page.screenshot(path=str(artifacts / "2-code.png"), full_page=True)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/portal")
    assert page.get_by_role("heading", name="我的账户").is_visible()
    assert _fits_the_screen(page)
    page.screenshot(path=str(artifacts / "3-home.png"), full_page=True)

    page.locator(f'[data-account="{prime}"]').get_by_role("link").click()
    page.wait_for_url(f"**/portal/accounts/{prime}")
    assert page.get_by_text("逾期金额：¥1,150.00").is_visible()
    assert _fits_the_screen(page)
    page.screenshot(path=str(artifacts / "4-account.png"), full_page=True)

    page.get_by_role("link", name="申请缓催（暂停催收）").click()
    page.get_by_label("原因").select_option("job_loss")
    page.get_by_label("请简要说明情况").fill("11月被公司裁员，正在找工作")
    page.get_by_label("需要暂停多少天？").fill("60")
    evidence = tmp_path / "解除劳动合同证明.pdf"
    evidence.write_bytes(PDF)
    page.locator('input[type="file"]').set_input_files(str(evidence))
    assert _fits_the_screen(page)
    page.screenshot(path=str(artifacts / "5-hardship-form.png"), full_page=True)
    page.get_by_role("button", name="提交申请").click()

    page.wait_for_url(f"**/portal/accounts/{prime}")
    assert page.get_by_text("您的申请已受理").is_visible()
    assert page.locator('[data-hardship-status="applied"]').is_visible()
    assert page.get_by_text("已受理，等待银行审批").is_visible()
    page.screenshot(path=str(artifacts / "6-pending.png"), full_page=True)
    assert book.rows("SELECT status, applied_by, applied_via FROM hardship_applications") == [
        ("applied", "customer:C1", "portal")
    ]
