"""The compliance officer's pages over HTTP: holds placed and released here stop the work
queue and the next nightly run (and only until released), disputes, complaints from the
snapshot's feedback, each run's suppressions by rule, and the audit log's search and chain."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from huancui.cases.service import log_outcome, take_next
from huancui.contact.holds import blocking
from huancui.kit.database import make_engine, unit_of_work
from huancui.kit.settings import Settings
from tests.arrangements.conftest import (
    AS_OF,
    COLLECTOR,
    Book,
    as_json,
    ok,
    plan_rows,
    write_delivery,
)
from tests.web.conftest import SUPERVISOR, WebClient
from tests.web.strategy_compliance.conftest import COMPLIANCE_OFFICER, STRATEGY_MANAGER, signed_in

DAY = AS_OF + timedelta(days=1)  # the contact day the run of AS_OF plans
NOW = datetime.combine(DAY, time(10, 0), tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
DISPUTED = "H1"  # the book's highest-priority call of DAY


def _rows(settings: Settings, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with make_engine(settings.resolved_database_url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


def _run(book: Book) -> dict[str, Any]:
    report: dict[str, Any] = as_json(
        book.cli("run", "--as-of", AS_OF.isoformat(), "--actor", "night-batch", "--json")
    )
    return report


def _plan(book: Book, report: dict[str, Any]) -> str:
    path = Path(report["plan_path"])
    return str(path if path.is_absolute() else book.settings.home / path)


def _statuses(book: Book, report: dict[str, Any], account: str) -> set[tuple[str, str | None]]:
    return {(status, rule) for _, status, rule in plan_rows(_plan(book, report), account)}


def _next_case(settings: Settings) -> str | None:
    with unit_of_work(settings.resolved_database_url) as session:
        found = take_next(session, collector=COLLECTOR, as_of=DAY, now=NOW)
        session.rollback()  # only looking: the claim is not kept
        return found.account_id if found else None


def test_other_roles_may_not_open_the_compliance_pages(web_settings: Settings) -> None:
    for username in (COLLECTOR, STRATEGY_MANAGER, SUPERVISOR):
        client = signed_in(web_settings, username)
        try:
            for url in ("/compliance/holds", "/compliance/suppressions", "/compliance/audit"):
                assert client.get(url).status_code == 403, (username, url)
        finally:
            client.http.close()


def test_a_dispute_hold_stops_the_queue_and_the_next_run_until_it_is_released(
    officer: WebClient, book: Book, web_settings: Settings
) -> None:
    _run(book)
    assert _next_case(web_settings) == DISPUTED

    placed = officer.post(
        "/compliance/holds",
        {
            "account_id": DISPUTED,
            "hold_type": "dispute",
            "channel": "",
            "start": DAY.isoformat(),
            "end": "",
            "reason": "Customer disputes the annual fee; statement requested",
        },
    )
    assert placed.status_code == 303, placed.text
    page = officer.get(placed.headers["location"]).text
    ((hold_id,),) = _rows(web_settings, "SELECT hold_id FROM case_holds")
    assert f'id="hold-case-{hold_id}" class="hold active"' in page
    assert "Customer disputes the annual fee" in page

    # The work queue skips the account at once; the next run suppresses every action on it.
    with unit_of_work(web_settings.resolved_database_url) as session:
        assert blocking(session, [DISPUTED], DAY) == {DISPUTED: [("dispute", hold_id)]}
    assert _next_case(web_settings) not in (DISPUTED, None)
    held_run = _run(book)
    assert _statuses(book, held_run, DISPUTED) == {("suppressed", "hold.dispute")}

    # The suppressions page counts it under its rule, with the account as an example.
    shown = officer.get("/compliance/suppressions").text
    rule = re.search(r'<tr data-rule="hold.dispute">(.*?)</tr>', shown, re.S)
    assert rule, shown
    assert DISPUTED in rule.group(1)
    count = re.search(r'<td class="num">(\d+)</td>', rule.group(1))
    assert count and int(count.group(1)) == len(plan_rows(_plan(book, held_run), DISPUTED))

    released = officer.post(
        f"/compliance/holds/{hold_id}/release",
        {"reason": "Fee confirmed with the customer", "last_day": AS_OF.isoformat()},
        page="/compliance/holds",
    )
    assert released.status_code == 303, released.text
    again = officer.post(
        f"/compliance/holds/{hold_id}/release",
        {"reason": "twice", "last_day": AS_OF.isoformat()},
        page="/compliance/holds",
    )
    assert again.status_code == 409 and f"hold {hold_id} was already released" in again.text
    with unit_of_work(web_settings.resolved_database_url) as session:
        assert blocking(session, [DISPUTED], DAY) == {}
    assert ("planned", None) in _statuses(book, _run(book), DISPUTED)

    events = _rows(
        web_settings,
        "SELECT action, actor, entity_id, reason FROM audit_events"
        " WHERE entity_type = 'case_hold' ORDER BY event_id",
    )
    assert events == [
        ("hold.place", COMPLIANCE_OFFICER, str(hold_id),
         "Customer disputes the annual fee; statement requested"),
        ("hold.release", COMPLIANCE_OFFICER, str(hold_id), "Fee confirmed with the customer"),
    ]  # fmt: skip
    found = officer.get("/compliance/audit?action=hold.*").text
    assert 'data-action="hold.place"' in found and 'data-action="hold.release"' in found


def test_a_hold_without_a_reason_is_refused_at_the_field_and_nothing_is_written(
    officer: WebClient, web_settings: Settings
) -> None:
    before = _rows(web_settings, "SELECT count(*) FROM audit_events")
    refused = officer.post(
        "/compliance/holds",
        {"account_id": DISPUTED, "hold_type": "dispute", "start": DAY.isoformat(), "reason": " "},
    )
    assert refused.status_code == 422
    reason_field = refused.text.split('name="reason"', 1)[1].split("</label>", 1)[0]
    assert 'class="field-error"' in reason_field
    unknown = officer.post(
        "/compliance/holds",
        {"account_id": "NOPE9", "hold_type": "legal", "start": DAY.isoformat(), "reason": "x"},
    )
    assert unknown.status_code == 422 and "account NOPE9 is not in the case plane" in unknown.text
    assert _rows(web_settings, "SELECT count(*) FROM case_holds") == [(0,)]
    assert _rows(web_settings, "SELECT count(*) FROM audit_events") == before


def test_a_dispute_a_collector_logs_shows_with_its_hold_on_the_disputes_page(
    officer: WebClient, book: Book, web_settings: Settings
) -> None:
    _run(book)
    with unit_of_work(web_settings.resolved_database_url) as session:
        case = take_next(session, collector=COLLECTOR, as_of=DAY, now=NOW)
        assert case is not None
        log_outcome(
            session,
            web_settings,
            account_id=case.account_id,
            outcome="dispute",
            note="Says the card was never activated",
            actor=COLLECTOR,
            occurred_at=NOW,
        )
    page = unescape(officer.get("/compliance/disputes").text)
    outcomes = page.split('class="data outcomes"', 1)[1]
    assert case.account_id in outcomes and "Says the card was never activated" in outcomes
    assert COLLECTOR in outcomes
    holds = page.split('class="data holds"', 1)[1].split("</table>", 1)[0]
    assert case.account_id in holds and "contact outcome" in holds


def test_complaints_come_from_the_newest_snapshots_feedback_file(
    officer: WebClient, book: Book, tmp_path: Path
) -> None:
    page = officer.get("/compliance/complaints").text
    assert 'class="data complaints"' not in page and 'class="empty"' in page

    later = AS_OF + timedelta(days=1)
    delivery = write_delivery(tmp_path / "with-feedback")
    (delivery / "feedback.csv").write_text(
        "feedback_id,account_id,received_date,kind,score,channel,category,contact_id\n"
        f"F1,H1,{AS_OF},complaint,,call,frequency,\n"
        f"F2,S1,{AS_OF},complaint,,sms,frequency,\n"
        f"F3,P1,{AS_OF},complaint,,call,rudeness,\n"
        f"F4,P2,{AS_OF},survey,5,call,,\n",
        encoding="utf-8",
    )
    ok(book.cli("import", str(delivery), "--as-of", later.isoformat(), "--actor", "etl"))

    page = officer.get("/compliance/complaints?lang=en").text
    by_category = page.split('class="data by-category"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">(\d+)</td></tr>", by_category) == [
        ("Contact frequency", "2"),
        ("Rudeness", "1"),
    ]
    listed = page.split('class="data complaints"', 1)[1]
    assert all(f">{ref}<" in listed for ref in ("F1", "F2", "F3")) and ">F4<" not in listed


def test_the_audit_chain_check_reports_intact_then_the_first_altered_event(
    officer: WebClient, web_settings: Settings
) -> None:
    intact = officer.get("/compliance/audit?verify=1").text
    assert 'id="chain-result" data-intact="true"' in intact
    searched = officer.get("/compliance/audit?action=hold.%2A").text
    verify_form = searched.split('class="verify"', 1)[1].split("</form>", 1)[0]
    assert 'name="action" value="hold.*"' in verify_form  # checking keeps the search
    ((first,),) = _rows(web_settings, "SELECT min(event_id) FROM audit_events")
    with make_engine(web_settings.resolved_database_url).begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET reason = 'rewritten' WHERE event_id = :id"),
            {"id": first},
        )
    broken = officer.get("/compliance/audit?verify=1&lang=en").text
    assert 'id="chain-result" data-intact="false"' in broken
    assert f"broken at event {first}" in broken


def test_an_audit_search_with_a_malformed_date_names_the_field(officer: WebClient) -> None:
    page = officer.get("/compliance/audit?since=yesterday").text
    since = page.split('name="since"', 1)[1].split("</label>", 1)[0]
    assert 'class="field-error"' in since
