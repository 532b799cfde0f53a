"""The portal's pages over HTTP: sign-in by phone and code, the customer's own accounts only,
what is owed, plans, promises, 缓催 with evidence, ratings; CSRF on every form; zh-CN and en."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

from huancui.kit.settings import Settings
from tests.arrangements.conftest import AS_OF, COLLECTOR, Book
from tests.web.conftest import WebClient
from tests.web.portal.conftest import (
    PDF,
    PHONE_C1,
    PHONE_C3,
    last_code,
    request_code,
    sign_in_customer,
)


def test_a_customer_signs_in_with_the_sms_code_and_sees_their_accounts(
    web: WebClient, web_settings: Settings, book: Book
) -> None:
    form = web.get("/portal/login")
    assert form.status_code == 200 and "手机号码" in form.text
    assert 'name="viewport"' in form.text
    sent = request_code(web, PHONE_C1)
    assert "验证码" in sent.text and PHONE_C1 in sent.text  # their own number, on their screen
    answer = web.post(
        "/portal/login/code",
        {"phone": PHONE_C1, "code": last_code(web_settings), "next": "/portal"},
        page="/portal/login",
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/portal"
    home = web.get("/portal")
    assert home.status_code == 200
    assert book.account("prime") in home.text and book.account("standard") not in home.text
    assert "逾期金额：¥1,150.00" in home.text
    english = web.get("/portal?lang=en")
    assert "Overdue: ¥1,150.00" in english.text and "My accounts" in english.text
    sessions = book.rows("SELECT kind, principal FROM web_sessions WHERE revoked_at IS NULL")
    assert sessions == [("customer", "C1")]


def test_an_unknown_number_sees_the_same_page_as_a_known_one(
    web: WebClient, web_settings: Settings
) -> None:
    known = request_code(web, PHONE_C1)
    unknown = request_code(web, "13912345678")
    assert known.status_code == unknown.status_code == 200
    assert unescape(known.text).replace(PHONE_C1, "N") == unescape(unknown.text).replace(
        "13912345678", "N"
    )


def test_a_wrong_code_is_refused_on_the_page_and_counted(
    web: WebClient, web_settings: Settings, book: Book
) -> None:
    request_code(web, PHONE_C1)
    code = last_code(web_settings)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = web.post(
        "/portal/login/code", {"phone": PHONE_C1, "code": wrong}, page="/portal/login"
    )
    assert refused.status_code == 401 and "验证码不正确" in refused.text
    assert book.rows("SELECT attempts FROM one_time_codes") == [(1,)]
    assert web.get("/portal").status_code == 303  # still signed out


def test_pages_need_a_customer_session_and_staff_sessions_do_not_count(
    web: WebClient, web_settings: Settings
) -> None:
    answer = web.get("/portal/accounts/P1")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/portal/login?next=")
    web.sign_in(COLLECTOR)
    assert web.get("/portal").status_code == 303


def test_every_portal_form_needs_its_csrf_token(
    web: WebClient, web_settings: Settings, book: Book
) -> None:
    refused = web.post("/portal/login", {"phone": PHONE_C1, "csrf_token": "x" * 40})
    assert refused.status_code == 403
    assert book.count("one_time_codes") == 0
    sign_in_customer(web, web_settings, PHONE_C1)
    prime = book.account("prime")
    for path, data in (
        (f"/portal/accounts/{prime}/plans", {"option": "installment-12"}),
        (f"/portal/accounts/{prime}/promise", {"pay_by": (AS_OF + timedelta(days=5)).isoformat()}),
        ("/portal/rate", {"score": "5"}),
    ):
        assert web.post(path, {**data, "csrf_token": "x" * 40}).status_code == 403
    assert book.count("arrangements") == 0 and book.count("csat_ratings") == 0


def test_another_customers_account_is_not_found(
    web: WebClient, web_settings: Settings, book: Book
) -> None:
    sign_in_customer(web, web_settings, PHONE_C1)
    other = book.account("standard")
    for path in ("", "/plans", "/promise", "/hardship"):
        assert web.get(f"/portal/accounts/{other}{path}").status_code == 404
    assert web.get("/portal/accounts/NOPE").status_code == 404


def test_the_account_page_shows_what_is_owed_and_why(
    web: WebClient, web_settings: Settings, book: Book
) -> None:
    sign_in_customer(web, web_settings, PHONE_C1)
    page = web.get(f"/portal/accounts/{book.account('prime')}?lang=en")
    assert page.status_code == 200
    text = unescape(page.text)
    for expected in ("Amount overdue: ¥1,150.00", "Principal", "¥1,000.00", "Interest", "¥150.00"):
        assert expected in text
    assert "Choose an instalment plan" in text and "Apply for 缓催" in text


def test_choosing_a_plan_sends_it_for_review_and_the_account_shows_it(
    web: WebClient, web_settings: Settings, book: Book
) -> None:
    sign_in_customer(web, web_settings, PHONE_C1)
    prime = book.account("prime")
    plans = web.get(f"/portal/accounts/{prime}/plans")
    assert plans.status_code == 200 and 'value="installment-12"' in plans.text
    not_offered = web.post(f"/portal/accounts/{prime}/plans", {"option": "installment-7"})
    assert not_offered.status_code == 422 and "不提供该方案" in not_offered.text
    chosen = web.post(f"/portal/accounts/{prime}/plans", {"option": "installment-12"})
    assert chosen.status_code == 303
    account = web.get(chosen.headers["location"])
    assert "已提交银行审核" in account.text and "等待银行审核" in account.text
    assert book.rows("SELECT proposed_by, status FROM arrangements") == [
        ("customer:C1", "proposed")
    ]


def test_a_promise_outside_the_range_is_refused_and_one_inside_is_confirmed(
    web: WebClient, web_settings: Settings, book: Book
) -> None:
    sign_in_customer(web, web_settings, PHONE_C3)
    standard = book.account("standard")
    page = web.get(f"/portal/accounts/{standard}/promise")
    assert page.status_code == 200 and 'type="date"' in page.text
    late = web.post(
        f"/portal/accounts/{standard}/promise",
        {"pay_by": (AS_OF + timedelta(days=40)).isoformat()},
    )
    assert late.status_code == 422 and "请选择" in late.text
    made = web.post(
        f"/portal/accounts/{standard}/promise",
        {"pay_by": (AS_OF + timedelta(days=7)).isoformat(), "amount": ""},
    )
    assert made.status_code == 303
    assert "还款承诺已记录" in web.get(made.headers["location"]).text
    assert book.rows("SELECT kind, status FROM arrangements") == [("ptp", "approved")]


def test_applying_for_hardship_with_a_pdf_leaves_it_pending_and_other_files_are_refused(
    web: WebClient, web_settings: Settings, book: Book
) -> None:
    sign_in_customer(web, web_settings, PHONE_C1)
    prime = book.account("prime")
    form = web.get(f"/portal/accounts/{prime}/hardship")
    assert 'enctype="multipart/form-data"' in form.text
    token = web.token(f"/portal/accounts/{prime}/hardship")
    fields = {"csrf_token": token, "reason_code": "illness", "details": "住院治疗", "days": "30"}
    refused = web.http.post(
        f"/portal/accounts/{prime}/hardship",
        data=fields,
        files=[("evidence", ("report.pdf", b"MZ\x90\x00program", "application/pdf"))],
    )
    assert refused.status_code == 422 and "PDF、JPEG 或 PNG" in refused.text
    assert book.count("hardship_applications") == 0
    applied = web.http.post(
        f"/portal/accounts/{prime}/hardship",
        data=fields,
        files=[("evidence", ("诊断书.pdf", PDF, "application/pdf"))],
        follow_redirects=False,
    )
    assert applied.status_code == 303
    account = web.get(applied.headers["location"])
    assert "申请已受理" in account.text and 'data-hardship-status="applied"' in account.text
    assert book.rows("SELECT filename FROM hardship_evidence") == [("evidence-1.pdf",)]


def test_a_rating_once_a_day(web: WebClient, web_settings: Settings, book: Book) -> None:
    sign_in_customer(web, web_settings, PHONE_C1)
    assert "非常满意" in web.get("/portal/rate").text
    thanks = web.post("/portal/rate", {"score": "4", "comment": "态度很好"})
    assert thanks.status_code == 303
    again = web.post("/portal/rate", {"score": "5"})
    assert again.status_code == 409 and "今天已评价" in again.text
    assert book.rows("SELECT score, comment, channel FROM csat_ratings") == [
        (4, "态度很好", "portal")
    ]


def test_signing_out_ends_the_customer_session(
    web: WebClient, web_settings: Settings, book: Book
) -> None:
    sign_in_customer(web, web_settings, PHONE_C1)
    out = web.post("/logout", {}, page="/portal")
    assert out.status_code == 303 and out.headers["location"] == "/portal/login"
    assert web.get("/portal").status_code == 303
