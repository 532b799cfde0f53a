"""Signing in to the portal with a one-time code: sent at once by SMS, stored only as a keyed
hash, valid ten minutes, five tries, spent by its use, throttled, and the same answer for a
number nobody has."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from huancui.kit.errors import InvalidInput
from huancui.portal import codes
from huancui.portal.codes import CodeRefused
from tests.portal.conftest import NOW, PHONES, UNKNOWN_PHONE, Portal


def test_a_requested_code_arrives_by_sms_at_once_and_signs_the_customer_in(
    portal: Portal,
) -> None:
    sent = portal.request("138 0000 0001")
    assert sent.outcome == "sent" and sent.channel == "sms"
    (message,) = portal.messages()
    assert message["template"] == "notice.portal.code"
    assert message["channel"] == "sms"
    assert message["customer_id"] == "C1"
    assert PHONES["C1"] not in message["recipient"]  # the file adapter masks the number
    assert "10" in message["body"] and message["language"] == "zh-CN"
    code = portal.last_code()
    assert portal.verify("+86 138-0000-0001", code) == "C1"
    events = portal.rows(
        "SELECT actor, action FROM audit_events WHERE action LIKE 'portal.%' ORDER BY event_id"
    )
    assert events == [("customer:C1", "portal.code.sent"), ("customer:C1", "portal.sign_in")]


def test_only_a_keyed_hash_of_the_code_is_stored_and_nothing_reveals_it(portal: Portal) -> None:
    portal.request(PHONES["C1"])
    code = portal.last_code()
    ((stored, attempts, used),) = portal.rows(
        "SELECT code_hash, attempts, used_at FROM one_time_codes"
    )
    assert code not in stored and len(stored) == 64
    assert stored == codes.code_hash(portal.settings, "C1", code)
    assert (attempts, used) == (0, None)
    audit = " ".join(str(r) for r in portal.rows("SELECT after, reason FROM audit_events"))
    assert code not in audit and PHONES["C1"] not in audit


def test_a_number_nobody_has_gets_the_same_answer_and_no_message(portal: Portal) -> None:
    assert portal.request(UNKNOWN_PHONE).outcome == "unknown"
    assert portal.messages() == []
    assert portal.rows("SELECT count(*) FROM one_time_codes") == [(0,)]
    with pytest.raises(CodeRefused) as refused:
        portal.verify(UNKNOWN_PHONE, "123456")
    portal.request(PHONES["C2"])
    with pytest.raises(CodeRefused) as wrong:
        portal.verify(PHONES["C2"], "000000" if portal.last_code() != "000000" else "111111")
    assert str(refused.value) == str(wrong.value)  # nothing tells the two apart


def test_a_badly_formed_number_or_code_is_refused_naming_the_field(portal: Portal) -> None:
    with pytest.raises(InvalidInput, match=r"^phone: "):
        portal.request("12345")
    with pytest.raises(InvalidInput, match=r"^code: "):
        portal.verify(PHONES["C1"], "12ab56")


def test_a_code_expires_after_ten_minutes(portal: Portal) -> None:
    portal.request(PHONES["C1"])
    code = portal.last_code()
    with pytest.raises(CodeRefused, match="expired") as refused:
        portal.verify(PHONES["C1"], code, now=NOW + timedelta(minutes=10))
    assert refused.value.reason == "expired"
    portal.request(PHONES["C1"], now=NOW + timedelta(minutes=11))
    assert portal.verify(PHONES["C1"], portal.last_code(), now=NOW + timedelta(minutes=20)) == "C1"


def test_five_wrong_codes_spend_it_and_every_attempt_is_counted_for_good(
    portal: Portal,
) -> None:
    portal.request(PHONES["C1"])
    code = portal.last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for attempt in range(1, 5):
        with pytest.raises(CodeRefused, match="wrong"):
            portal.verify(PHONES["C1"], wrong)
        assert portal.rows("SELECT attempts FROM one_time_codes") == [(attempt,)]
    with pytest.raises(CodeRefused, match="too many"):
        portal.verify(PHONES["C1"], wrong)
    with pytest.raises(CodeRefused, match="too many"):
        portal.verify(PHONES["C1"], code)  # even the right one, now
    assert portal.rows("SELECT attempts FROM one_time_codes") == [(5,)]
    refusals = portal.rows("SELECT count(*) FROM audit_events WHERE action = 'portal.code.refused'")
    assert refusals == [(6,)]


def test_a_code_signs_in_once_and_a_newer_code_replaces_an_older_one(portal: Portal) -> None:
    portal.request(PHONES["C3"])
    first = portal.last_code()
    portal.request(PHONES["C3"], now=NOW + timedelta(minutes=1))
    second = portal.last_code()
    if first != second:
        with pytest.raises(CodeRefused):
            portal.verify(PHONES["C3"], first, now=NOW + timedelta(minutes=2))
    assert portal.verify(PHONES["C3"], second, now=NOW + timedelta(minutes=2)) == "C3"
    with pytest.raises(CodeRefused, match="used already"):
        portal.verify(PHONES["C3"], second, now=NOW + timedelta(minutes=3))


def test_at_most_five_codes_an_hour_per_customer(portal: Portal) -> None:
    for minute in range(5):
        assert portal.request(PHONES["C1"], now=NOW + timedelta(minutes=minute)).outcome == "sent"
    assert portal.request(PHONES["C1"], now=NOW + timedelta(minutes=30)).outcome == "throttled"
    assert len(portal.messages()) == 5
    later = portal.request(PHONES["C1"], now=NOW + timedelta(minutes=61))
    assert later.outcome == "sent"


def test_the_code_and_the_number_never_reach_the_log(
    portal: Portal, caplog: pytest.LogCaptureFixture
) -> None:
    settings = portal.settings.model_copy(update={"outbox_adapter": "log"})
    caplog.set_level(logging.DEBUG)
    from huancui.kit.database import unit_of_work

    with unit_of_work(settings.resolved_database_url) as session:
        sent = codes.request_code(session, settings, phone=PHONES["C1"], now=NOW)
    assert sent.outcome == "sent"
    assert "notice.portal.code" in caplog.text  # the log adapter did "send" it
    assert PHONES["C1"] not in caplog.text
    (stored,) = portal.rows("SELECT code_hash FROM one_time_codes")[0]
    # No six-digit run in the log could be the code: check every candidate against the hash.
    import re

    for candidate in re.findall(r"\d{6}", caplog.text):
        assert codes.code_hash(settings, "C1", candidate) != stored
