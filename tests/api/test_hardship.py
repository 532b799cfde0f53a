"""缓催 over the API on the small book: applying with evidence files (checked, stored under their
hash, retried safely), four eyes and the authority matrix on decisions, filters, and the
approvals inbox."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from huancui.kit.settings import Settings
from tests.api.conftest import assert_problem, bearer
from tests.arrangements.conftest import (
    AS_OF,
    COLLECTOR,
    COLLECTOR_2,
    MANAGER,
    SUPERVISOR,
    Book,
    day,
)

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _form(account: str, **extra: Any) -> dict[str, Any]:
    return {
        "account_id": account,
        "as_of": AS_OF.isoformat(),
        "reason_code": "job_loss",
        "details": "公司裁员，下月入职新单位",
        **extra,
    }


def _apply(
    client: TestClient,
    settings: Settings,
    account: str,
    *,
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    actor: str = COLLECTOR,
    key: str | None = None,
    **extra: Any,
) -> Response:
    headers = bearer(settings, actor)
    if key:
        headers["Idempotency-Key"] = key
    response: Response = client.post(
        "/api/hardship", data=_form(account, **extra), files=files or [], headers=headers
    )
    return response


def test_apply_with_evidence_stores_it_under_its_hash_and_a_retry_applies_once(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    account = book.account("prime")
    files = [("evidence", ("../../etc/解除劳动合同证明.pdf", PDF, "application/pdf"))]
    first = _apply(book_client, book_settings, account, files=files, key="hs-0001", days=30)
    assert first.status_code == 201, first.text
    shown = first.json()
    assert first.headers["Location"] == f"/api/hardship/{shown['hardship_id']}"
    assert (shown["status"], shown["requested_days"], shown["applied_by"]) == (
        "applied",
        30,
        COLLECTOR,
    )
    digest = hashlib.sha256(PDF).hexdigest()
    # The name is a label only: the path in it is gone, the content lives under its hash.
    assert shown["evidence"] == [
        {"filename": "解除劳动合同证明.pdf", "sha256": digest, "bytes": len(PDF)}
    ]
    store = book_settings.home / "evidence"
    assert sorted(p.name for p in store.iterdir()) == [digest]
    assert (store / digest).read_bytes() == PDF
    again = _apply(book_client, book_settings, account, files=files, key="hs-0001", days=30)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == shown
    assert book.count("hardship_applications") == 1
    other = _apply(book_client, book_settings, account, files=files, key="hs-0001", days=20)
    assert_problem(other, 409, "conflict")
    assert book.rows("SELECT action, actor FROM audit_events WHERE entity_type = 'hardship'") == [
        ("hardship.applied", COLLECTOR)
    ]


def test_uploads_of_the_wrong_type_size_or_content_are_refused_and_nothing_is_written(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    account = book.account("prime")
    before = book.counts()
    cases = [
        (("note.txt", b"hello", "text/plain"), 415, "text/plain is not accepted"),
        (("scan.png", PDF, "image/png"), 415, "its content is not a PNG image"),
        (("fake.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"), 415, "not a PDF"),
        (("big.pdf", PDF + b"0" * (5 * 1024 * 1024), "application/pdf"), 413, "limit of"),
        (("empty.pdf", b"", "application/pdf"), 422, "empty"),
    ]
    for upload, status, words in cases:
        files = [("evidence", ("ok.png", PNG, "image/png")), ("evidence", upload)]
        response = _apply(book_client, book_settings, account, files=files)
        slug = {415: "unsupported-media-type", 413: "too-large", 422: "invalid-input"}[status]
        body = assert_problem(response, status, slug)
        assert body["detail"].startswith("evidence[1]: ") and words in body["detail"]
    assert book.counts() == before
    assert not (book_settings.home / "evidence").exists()


def test_nobody_decides_their_own_application_and_authority_limits_the_days(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    account = book.account("prime")
    applied = _apply(book_client, book_settings, account, actor=SUPERVISOR, days=90)
    assert applied.status_code == 201, applied.text
    hardship_id = applied.json()["hardship_id"]
    url = f"/api/hardship/{hardship_id}"
    own = book_client.post(
        f"{url}/approve", json={"reason": "ok"}, headers=bearer(book_settings, SUPERVISOR)
    )
    assert "four eyes" in assert_problem(own, 403, "not-permitted")["detail"]
    collector = book_client.post(
        f"{url}/approve", json={"reason": "ok"}, headers=bearer(book_settings, COLLECTOR)
    )
    assert_problem(collector, 403, "not-permitted")  # collectors hold no hardship:approve
    # A manager may grant all 90 days; granting fewer is a decision of its own.
    approved = book_client.post(
        f"{url}/approve",
        json={"reason": "证明齐全", "days": 45},
        headers=bearer(book_settings, MANAGER),
    )
    assert approved.status_code == 200, approved.text
    shown = approved.json()
    assert (shown["status"], shown["decided_by"]) == ("approved", MANAGER)
    assert shown["hold_id"] is not None
    assert [h["action"] for h in shown["history"]][-1] == "hardship.approved"
    again = book_client.post(
        f"{url}/reject", json={"reason": "late"}, headers=bearer(book_settings, MANAGER)
    )
    assert_problem(again, 409, "conflict")
    ended = book_client.post(
        f"{url}/end",
        json={"reason": "客户已复工", "last_day": day(3).isoformat()},
        headers=bearer(book_settings, MANAGER),
    )
    assert ended.status_code == 200, ended.text
    assert (ended.json()["status"], ended.json()["ended_on"]) == ("ended", day(3).isoformat())


def test_reject_needs_a_reason_and_withdraw_is_for_the_customer_s_change_of_mind(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    first = _apply(book_client, book_settings, book.account("prime"), days=30).json()
    second = _apply(book_client, book_settings, book.account("standard"), days=30).json()
    no_reason = book_client.post(
        f"/api/hardship/{first['hardship_id']}/reject",
        json={"reason": ""},
        headers=bearer(book_settings, SUPERVISOR),
    )
    body = assert_problem(no_reason, 422, "invalid-input")
    assert body["errors"][0]["loc"] == ["body", "reason"]
    rejected = book_client.post(
        f"/api/hardship/{first['hardship_id']}/reject",
        json={"reason": "材料不全"},
        headers=bearer(book_settings, SUPERVISOR),
    )
    assert rejected.json()["status"] == "rejected"
    withdrawn = book_client.post(
        f"/api/hardship/{second['hardship_id']}/withdraw",
        json={"reason": "客户已筹到钱"},
        headers=bearer(book_settings, COLLECTOR_2),
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"


def test_list_filters_pages_and_treats_sql_looking_values_as_data(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    prime, standard = book.account("prime"), book.account("standard")
    _apply(book_client, book_settings, prime, days=30)
    _apply(book_client, book_settings, standard, days=30)
    headers = bearer(book_settings, SUPERVISOR)
    everything = book_client.get("/api/hardship", headers=headers).json()
    assert everything["total"] == 2
    assert [i["account_id"] for i in everything["items"]] == [prime, standard]
    page = book_client.get("/api/hardship?limit=1&offset=1", headers=headers).json()
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert [i["account_id"] for i in page["items"]] == [standard]
    customer = everything["items"][0]["customer_id"]
    mine = book_client.get(f"/api/hardship?customer_id={customer}", headers=headers).json()
    assert [i["account_id"] for i in mine["items"]] == [prime]
    for attack in ("' OR 1=1 --", "x' UNION SELECT * FROM users --", "%", "P1' OR 'a'='a"):
        found = book_client.get("/api/hardship", params={"account_id": attack}, headers=headers)
        assert found.status_code == 200
        assert found.json()["total"] == 0
    bad = book_client.get("/api/hardship?status=applied' OR 1=1 --", headers=headers)
    assert_problem(bad, 422, "invalid-input")
    too_many = book_client.get("/api/hardship?limit=201", headers=headers)
    assert assert_problem(too_many, 422, "invalid-input")["errors"][0]["loc"] == [
        "query",
        "limit",
    ]


def test_the_customer_s_own_words_are_masked_for_roles_that_do_not_decide(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    from tests.api.conftest import username_of

    applied = _apply(book_client, book_settings, book.account("prime"), days=30).json()
    url = f"/api/hardship/{applied['hardship_id']}"
    assert book_client.get(url, headers=bearer(book_settings, SUPERVISOR)).json()["details"] == (
        "公司裁员，下月入职新单位"
    )
    from huancui.access.users import add_user
    from huancui.kit.database import unit_of_work

    with unit_of_work(book.url) as session:
        add_user(
            session,
            username=username_of("strategy_manager"),
            display_name="",
            role="strategy_manager",
            actor="t",
        )
    seen = book_client.get(url, headers=bearer(book_settings, username_of("strategy_manager")))
    assert seen.status_code == 200
    assert set(seen.json()["details"]) == {"*"}


def test_the_inbox_shows_what_the_caller_may_decide_oldest_first_never_their_own(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    prime, standard, risky = (
        book.account("prime"),
        book.account("standard"),
        book.account("high_risk"),
    )
    long_pause = _apply(book_client, book_settings, prime, days=90).json()  # a manager's call
    short_pause = _apply(book_client, book_settings, standard, days=30).json()
    own = _apply(book_client, book_settings, risky, days=30, actor=SUPERVISOR).json()
    plan = {
        "account_id": book.account("prime", "instalment_loan"),
        "as_of": AS_OF.isoformat(),
        "kind": "installment",
        "months": 12,
        "reason": "客户来电：月底发薪后还款",
    }
    proposed = book_client.post(
        "/api/arrangements", json=plan, headers=bearer(book_settings, COLLECTOR)
    )
    assert proposed.status_code == 201, proposed.text
    arrangement = proposed.json()["arrangement_id"]

    inbox = book_client.get("/api/approvals", headers=bearer(book_settings, SUPERVISOR)).json()
    assert [(i["type"], i["id"]) for i in inbox["items"]] == [
        ("hardship", short_pause["hardship_id"]),
        ("arrangement", arrangement),
    ]
    assert inbox["items"][0]["needs"] == {"hardship_days": 30}
    assert inbox["items"][1]["needs"] == {"term_months": 12}
    assert "supervisor" in inbox["items"][1]["approving_roles"]
    manager = book_client.get("/api/approvals", headers=bearer(book_settings, MANAGER)).json()
    assert [(i["type"], i["id"]) for i in manager["items"]] == [
        ("hardship", long_pause["hardship_id"]),
        ("hardship", short_pause["hardship_id"]),
        ("hardship", own["hardship_id"]),
        ("arrangement", arrangement),
    ]
    assert manager["total"] == 4
    assert manager["items"][0]["approving_roles"] == ["manager"]
    collector = book_client.get("/api/approvals", headers=bearer(book_settings, COLLECTOR))
    assert_problem(collector, 403, "not-permitted")
