"""The collector's workbench over HTTP: the queue in priority order, the next case, the account
360 page, a promise with its quote, a refused note, and the case leaving the queue."""

from __future__ import annotations

import re
from datetime import timedelta

from huancui.kit.settings import Settings
from tests.web.conftest import (
    AS_OF,
    COLLECTOR,
    COLLECTOR_2,
    Book,
    WebClient,
    audit_actions,
    new_client,
)

DAY = AS_OF + timedelta(days=1)  # the contact day the night's run planned


def _queue(web: WebClient) -> list[str]:
    return re.findall(r'<tr data-account="([^"]+)">', web.get("/work").text)


def test_the_queue_lists_the_days_cases_by_priority_with_the_as_of_date(
    worked: Book, web: WebClient
) -> None:
    web.sign_in(COLLECTOR)
    page = web.get("/work")
    assert page.status_code == 200
    assert _queue(web) == ["H1", "P2", "P1", "S1"]
    assert "数据日期：2026年11月27日" in page.text  # the snapshot's as-of date, in the header
    assert "2026年11月28日 的计划工作：共 4 个案件" in page.text


def test_next_case_opens_the_account_and_a_second_collector_gets_another(
    worked: Book, web: WebClient, web_settings: Settings
) -> None:
    web.sign_in(COLLECTOR)
    first = web.post("/work/next", {}, page="/work")
    assert first.headers["location"] == "/work/accounts/H1"
    other = new_client(web_settings)
    with other.http:
        other.sign_in(COLLECTOR_2)
        second = other.post("/work/next", {}, page="/work")
        assert second.headers["location"] == "/work/accounts/P2"
        assert "H1" not in _queue(other)  # held by the first collector
    assert audit_actions(worked).count("case.claim") == 2


def test_the_360_page_shows_balances_history_script_and_masks_the_national_id(
    worked: Book, web: WebClient
) -> None:
    web.sign_in(COLLECTOR)
    web.post("/work/next", {}, page="/work")
    page = web.get("/work/accounts/H1").text
    assert "此案件由您处理" in page
    assert "¥1,775.00" in page  # the arrears of H1
    assert 'id="dpd-chart"' in page and "/static/plotly.min.js" in page
    assert 'id="script"' in page and "话术" in page
    assert "13800000004" in page  # collectors dial: phone in clear (pii:phone)
    assert "110101199003070" not in page  # never the national ID
    english = web.get("/work/accounts/H1?lang=en").text
    assert "Days past due over time" in english and "Script" in english


def test_the_quote_fragment_prices_a_promise_and_a_plan_without_saving(
    worked: Book, web: WebClient
) -> None:
    web.sign_in(COLLECTOR)
    web.post("/work/next", {}, page="/work")
    before = worked.counts()
    promise = web.get("/work/accounts/H1/quote?kind=ptp&amount=500.00&pay_by=2026-12-01")
    assert promise.status_code == 200
    assert "应还：¥500.00，共 1 期" in promise.text
    too_far = web.get("/work/accounts/H1/quote?kind=ptp&amount=500&pay_by=2027-06-01")
    assert "政策不允许" in too_far.text  # high_risk promises are at most 7 days out
    bad = web.get("/work/accounts/H1/quote?kind=ptp&amount=abc&pay_by=2026-12-01")
    assert "请输入以元为单位的金额" in bad.text
    pause = web.get("/work/accounts/H1/quote?kind=hardship&days=30")
    assert "暂缓期 2026年11月28日 至 2026年12月27日（30 天）" in pause.text
    assert worked.counts() == before


def test_a_promise_with_its_preview_then_the_case_leaves_the_queue(
    worked: Book, web: WebClient
) -> None:
    web.sign_in(COLLECTOR)
    web.post("/work/next", {}, page="/work")
    form = {"amount": "1775.00", "pay_by": "2026-12-02", "reason": "客户承诺发薪后还款"}
    preview = web.post("/work/accounts/H1/promise", {**form, "action": "preview"})
    assert preview.status_code == 200 and "应还：¥1,775.00，共 1 期" in preview.text
    assert worked.count("arrangements") == 0  # a preview saves nothing
    saved = web.post("/work/accounts/H1/promise", {**form, "action": "save"})
    assert saved.status_code == 303 and saved.headers["location"] == "/work"
    queue = web.get("/work")
    assert "已记录承诺" in queue.text  # the flash message
    assert "H1" not in _queue(web)
    ((kind, status, by),) = worked.rows("SELECT kind, status, proposed_by FROM arrangements")
    assert (kind, by) == ("ptp", COLLECTOR) and status in ("proposed", "approved")
    ((outcome, arrangement),) = worked.rows(
        "SELECT outcome, arrangement_id FROM contact_outcomes WHERE account_id = 'H1'"
    )
    assert outcome == "promise_to_pay" and arrangement is not None
    assert {"arrangement.proposed", "outcome.logged"} <= set(audit_actions(worked))


def test_an_abusive_note_is_refused_with_the_words_named_and_nothing_saved(
    worked: Book, web: WebClient
) -> None:
    web.sign_in(COLLECTOR)
    web.post("/work/next", {}, page="/work")
    before = audit_actions(worked)
    note = "客户是个老赖，不要脸"
    refused = web.post(
        "/work/accounts/H1/outcome", {"outcome": "refusal", "channel": "call", "note": note}
    )
    assert refused.status_code == 422
    assert "未保存：请修改措辞" in refused.text and "“老赖”" in refused.text
    assert note in refused.text  # the collector's text comes back to be rephrased
    assert worked.count("contact_outcomes") == 0
    assert audit_actions(worked) == before
    assert "H1" in _queue(web)
    fine = web.post(
        "/work/accounts/H1/outcome",
        {"outcome": "refusal", "channel": "call", "note": "客户表示目前无力还款"},
    )
    assert fine.status_code == 303
    assert "H1" not in _queue(web)


def test_an_outcome_on_a_case_not_held_is_refused_inline(worked: Book, web: WebClient) -> None:
    web.sign_in(COLLECTOR)
    page = web.post("/work/accounts/S1/outcome", {"outcome": "no_answer", "channel": "call"})
    assert page.status_code == 422
    assert "未保存" in page.text and "does not hold the case" in page.text
    assert worked.count("contact_outcomes") == 0


def test_a_plan_beyond_the_collectors_authority_waits_for_a_supervisor(
    worked: Book, web: WebClient
) -> None:
    web.sign_in(COLLECTOR)
    web.post("/work/next", {}, page="/work")
    # The case held comes first: taking the next case again renews H1.
    assert web.post("/work/next", {}, page="/work").headers["location"] == "/work/accounts/H1"
    released = web.post("/work/accounts/H1/release", {"reason": "客户要求下午再联系"})
    assert released.status_code == 303
    assert web.post("/work/next", {}, page="/work").headers["location"] == "/work/accounts/H1"
    web.post("/work/accounts/H1/outcome", {"outcome": "no_answer", "channel": "call"})
    assert web.post("/work/next", {}, page="/work").headers["location"] == "/work/accounts/P2"
    plan = {"months": "12", "method": "equal-installment", "reason": "客户收入下降，申请分期"}
    preview = web.post("/work/accounts/P2/plan", {**plan, "action": "preview"})
    assert "需要审批" in preview.text
    saved = web.post("/work/accounts/P2/plan", {**plan, "action": "save"})
    assert saved.status_code == 303
    ((status, months),) = worked.rows("SELECT status, term_months FROM arrangements")
    assert (status, months) == ("proposed", 12)
