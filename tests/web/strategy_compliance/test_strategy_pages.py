"""The strategy manager's pages over HTTP: the editor shows each validation error at the rule
and line it names and stores nothing; a valid version is compared with the active one and
activated with its effective date and change note, audited; other roles are kept out."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape
from typing import Any

from sqlalchemy import text

from huancui.kit.database import make_engine
from huancui.kit.settings import Settings
from huancui.strategy.loader import parse_strategy
from huancui.strategy.pipeline import planned_date_for
from huancui.web.strategy_pages import bank_today
from tests.web.conftest import COLLECTOR, WebClient, csrf_of
from tests.web.strategy_compliance.conftest import COMPLIANCE_OFFICER, STRATEGY_MANAGER, signed_in

PRIME_CONDITION = "credit_grade IN ('A', 'B') AND days_past_due <= 30 AND cycles_delinquent <= 2"


def _rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with make_engine(settings.resolved_database_url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def _active(settings: Settings) -> list[tuple[Any, ...]]:
    """(name, version, effective date as text, change note) of the active version."""
    return [
        (name, version, str(effective)[:10], note)
        for name, version, effective, note in _rows(
            settings,
            "SELECT name, version, effective_date, change_note FROM strategy_versions"
            " WHERE is_active",
        )
    ]


def _textarea(html: str, name: str = "yaml_text") -> str:
    found = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, f"no textarea {name}"
    return unescape(found.group(1))


def _version_2(
    text: str, *, condition: str = PRIME_CONDITION, effective: date | None = None
) -> str:
    """The default strategy as version 2 with the prime segment's condition replaced."""
    assert PRIME_CONDITION in text
    day = effective or bank_today(None)
    text = text.replace("version: 1", "version: 2", 1)
    text = re.sub(r"effective_date: \S+", f"effective_date: {day.isoformat()}", text, count=1)
    text = re.sub(
        r"change_note: >-\n(  .*\n)+",
        "change_note: Prime ends at 20 days past due.\n",
        text,
        count=1,
    )
    return text.replace(PRIME_CONDITION, condition, 1)


def _submit(client: WebClient, url: str, data: dict[str, str]) -> str:
    response = client.post(url, data, page="/strategies/edit")
    assert response.status_code == 200, response.text
    return response.text


def test_a_collector_may_not_open_the_strategy_pages(web_settings: Settings) -> None:
    collector = signed_in(web_settings, COLLECTOR)
    try:
        for url in ("/strategies", "/strategies/edit"):
            assert collector.get(url).status_code == 403
        officer = signed_in(web_settings, COMPLIANCE_OFFICER)
        assert officer.get("/strategies").status_code == 403
        officer.http.close()
    finally:
        collector.http.close()


def test_the_list_marks_the_active_version_and_the_editor_starts_from_it(
    strategist: WebClient, default_yaml: str
) -> None:
    listing = strategist.get("/strategies")
    assert listing.status_code == 200
    row = re.search(r'<tr class="active" aria-current="true">(.*?)</tr>', listing.text, re.S)
    assert row and "default v1" in row.group(1) and "collections-strategy-team" in row.group(1)
    editor = strategist.get("/strategies/edit")
    assert _textarea(editor.text).strip() == default_yaml.strip()


def test_an_unknown_column_is_shown_at_its_rule_and_nothing_is_activated(
    strategist: WebClient, web_settings: Settings, default_yaml: str
) -> None:
    text = _version_2(default_yaml, condition="dpd <= 20 AND credit_grade IN ('A', 'B')")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "dpd <= 20" in row)
    events = _rows(web_settings, "SELECT count(*) FROM audit_events")[0][0]

    page = _submit(strategist, "/strategies/edit", {"action": "validate", "yaml_text": text})

    assert _textarea(page).strip() == text.strip()  # the user's text is kept
    # The error sits right after the line it names, and names the rule.
    listing = re.search(r'<pre class="yaml listing" id="listing">(.*?)</pre>', page, re.S)
    assert listing
    after_line = listing.group(1).split(f'id="L{line}"', 1)[1].split(f'id="L{line + 1}"', 1)[0]
    finding = unescape(after_line)
    assert "dpd <= 20" in finding
    assert "segments[0] 'prime' condition: unknown column 'dpd'" in finding.replace(
        "</code>", ""
    ).replace("<code>", "")
    assert "发现 1 个错误" in page  # zh-CN: the default language

    # Activating the same text is refused the same way; nothing is stored or audited.
    page = _submit(
        strategist,
        "/strategies/activate",
        {
            "yaml_text": text,
            "effective_date": bank_today(None).isoformat(),
            "change_note": "Prime ends at 20 days past due.",
        },
    )
    assert "unknown column 'dpd'" in unescape(page)
    assert [r[:2] for r in _active(web_settings)] == [("default", 1)]
    assert _rows(web_settings, "SELECT count(*) FROM strategy_versions")[0][0] == 1
    assert _rows(web_settings, "SELECT count(*) FROM audit_events")[0][0] == events


def test_an_injection_attempt_in_a_condition_is_refused_naming_the_rule(
    strategist: WebClient, web_settings: Settings, default_yaml: str
) -> None:
    text = _version_2(default_yaml, condition="TRUE; DROP TABLE accounts")
    page = unescape(
        _submit(strategist, "/strategies/edit", {"action": "validate", "yaml_text": text})
    )
    assert "segments[0] 'prime' condition" in page
    assert _rows(web_settings, "SELECT count(*) FROM strategy_versions")[0][0] == 1


def test_a_valid_version_is_compared_then_activated_with_its_date_and_note(
    strategist: WebClient, web_settings: Settings, default_yaml: str
) -> None:
    effective = bank_today(None)
    condition = "credit_grade IN ('A', 'B') AND days_past_due <= 20 AND cycles_delinquent <= 2"
    text = _version_2(default_yaml, condition=condition, effective=effective)

    compared = unescape(
        _submit(strategist, "/strategies/edit", {"action": "compare", "yaml_text": text})
    )
    assert "default v2" in compared
    diff = compared.split('id="diff"', 1)[1]
    assert "prime" in diff and "days_past_due <= 20" in diff and "days_past_due <= 30" in diff
    # The activation form repeats the version's date and note, prefilled from the text.
    assert f'name="effective_date" value="{effective.isoformat()}"' in compared
    assert _textarea(compared, "change_note") == "Prime ends at 20 days past due."

    # A date other than the text's is refused at the field; nothing changes.
    wrong = _submit(
        strategist,
        "/strategies/activate",
        {
            "yaml_text": text,
            "effective_date": (effective - timedelta(days=3)).isoformat(),
            "change_note": "Prime ends at 20 days past due.",
        },
    )
    date_field = wrong.split('name="effective_date"', 1)[1].split("</label>", 1)[0]
    assert "与 YAML 中的 effective_date" in date_field
    assert [r[:2] for r in _active(web_settings)] == [("default", 1)]
    missing = _submit(
        strategist,
        "/strategies/activate",
        {"yaml_text": text, "effective_date": effective.isoformat(), "change_note": " "},
    )
    assert 'class="field-error"' in missing
    assert [r[:2] for r in _active(web_settings)] == [("default", 1)]

    done = strategist.post(
        "/strategies/activate",
        {
            "yaml_text": text,
            "effective_date": effective.isoformat(),
            "change_note": "Prime ends at 20 days past due.",
        },
        page="/strategies/edit",
    )
    assert done.status_code == 303
    shown = strategist.get(done.headers["location"])
    assert "default v2 已成为生效策略" in shown.text
    assert _active(web_settings) == [
        ("default", 2, effective.isoformat(), "Prime ends at 20 days past due.")
    ]
    (event,) = _rows(
        web_settings,
        "SELECT actor, entity_id, reason FROM audit_events WHERE action = 'strategy.activate'"
        " AND entity_id = 'default:v2'",
    )
    assert event == (STRATEGY_MANAGER, "default:v2", "Prime ends at 20 days past due.")

    # The compliance officer finds the activation in the audit log.
    officer = signed_in(web_settings, COMPLIANCE_OFFICER)
    try:
        found = officer.get("/compliance/audit?action=strategy.activate&entity_id=default:v2")
    finally:
        officer.http.close()
    rows = re.findall(r'<tr data-action="strategy.activate">(.*?)</tr>', found.text, re.S)
    assert len(rows) == 1 and STRATEGY_MANAGER in rows[0] and "default:v2" in rows[0]


def test_a_changed_text_under_a_stored_version_number_is_refused(
    strategist: WebClient, web_settings: Settings, default_yaml: str
) -> None:
    text = default_yaml.replace("priority: ", "# cheaper calls first\npriority: ", 1)
    effective = re.search(r"effective_date: (\S+)", text)
    assert effective
    parsed = parse_strategy(text, source="t").strategy
    assert parsed is not None
    page = unescape(
        _submit(
            strategist,
            "/strategies/activate",
            {
                "yaml_text": text,
                "effective_date": effective.group(1),
                "change_note": parsed.change_note,
            },
        )
    )
    assert "versions never change once stored" in page and "version: 2" in page
    assert "/tmp" not in page and "huancui-strategy-" not in page
    assert _rows(web_settings, "SELECT count(*) FROM strategy_versions")[0][0] == 1


def test_an_uploaded_yaml_file_fills_the_editor_and_other_files_are_refused(
    strategist: WebClient, default_yaml: str
) -> None:
    token = csrf_of(strategist.get("/strategies/edit").text)

    def upload(name: str, content: bytes) -> str:
        response = strategist.http.post(
            "/strategies/edit",
            data={"csrf_token": token, "action": "validate"},
            files={"upload": (name, content, "application/octet-stream")},
        )
        assert response.status_code == 200, response.text
        return str(response.text)

    page = upload("../../etc/strategy.yaml", default_yaml.encode())
    assert _textarea(page).strip() == default_yaml.strip()
    assert "default v1" in page
    assert "请上传 YAML 文件" in upload("strategy.exe", b"name: x")
    assert "文件超过 256 KiB" in upload("big.yaml", b"#" * (300 * 1024))
    assert "文件不是 UTF-8 文本" in upload("latin.yaml", "name: caf\u00e9".encode("latin-1"))


def test_a_future_effective_date_says_the_version_will_be_scheduled(
    strategist: WebClient, default_yaml: str
) -> None:
    later = planned_date_for(bank_today(None)) + timedelta(days=10)
    text = _version_2(default_yaml, effective=later)
    page = _submit(strategist, "/strategies/edit", {"action": "validate", "yaml_text": text})
    note = page.split('class="warning" role="status"', 1)[1].split("</p>", 1)[0]
    assert "启用后本版本将按计划生效" in note and "当前生效的版本继续使用" in note
