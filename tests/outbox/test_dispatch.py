"""Dispatching the outbox against a real case plane (SQLite and PostgreSQL): messages go only in
their window, at most once; ended windows expire; failures and leftovers are reported, not lost."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from huancui.access.audit import verify
from huancui.contact.channels import ChannelAdapter, FileAdapter, OutgoingMessage
from huancui.contact.outbox import DispatchReport, _Dispatch, dispatch
from huancui.contact.tables import OutboxRow
from huancui.kit.database import unit_of_work
from huancui.kit.errors import InvalidInput
from tests.outbox.conftest import (
    AFTER,
    BEFORE,
    EMAIL,
    INSIDE,
    NAME,
    PHONE,
    Recorder,
    World,
)


def utc(moment: datetime) -> datetime:
    """A stored timestamp as an aware instant (SQLite gives it back naive, in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def send(
    world: World,
    adapter: ChannelAdapter,
    now: datetime = INSIDE,
    **options: object,
) -> DispatchReport:
    return dispatch(
        world.url,
        adapters={"sms": adapter, "email": adapter},
        now=now,
        actor="ops.zhang",
        monotonic=lambda: 0.0,
        **options,  # type: ignore[arg-type]
    )


def test_only_messages_inside_their_window_are_sent(world: World) -> None:
    world.customer()
    early = world.message(window=("2026-11-29T11:00:00+08:00", "2026-11-29T20:00:00+08:00"))
    due = world.message()
    ended = world.message(window=("2026-11-29T08:00:00+08:00", "2026-11-29T10:30:00+08:00"))
    recorder = Recorder()
    report = send(world, recorder)
    assert recorder.keys == [due]
    assert (report.sent, report.expired, report.not_yet_due, report.left_pending) == (1, 1, 1, 1)
    rows = world.rows()
    assert rows[due].status == "sent"
    assert rows[due].attempts == 1
    assert rows[due].adapter == "recorder"
    assert rows[due].provider_ref == "rec-1"
    sent_at = rows[due].sent_at
    assert sent_at is not None and utc(sent_at) == INSIDE
    assert rows[early].status == "pending" and rows[early].attempts == 0
    assert rows[ended].status == "expired"
    assert "window ended at 2026-11-29T10:30:00+08:00" in (rows[ended].status_reason or "")
    assert recorder.closed == 1


def test_the_window_is_half_open_and_compared_as_instants(world: World) -> None:
    world.customer()
    # 09:00–20:00 in Beijing written in New York time (UTC-5): the same instants.
    new_york = ("2026-11-28T20:00:00-05:00", "2026-11-29T07:00:00-05:00")
    key = world.message(window=new_york)
    recorder = Recorder()
    assert send(world, recorder, now=BEFORE).sent == 0
    assert send(world, recorder, now=BEFORE + timedelta(minutes=1)).sent == 1
    assert recorder.keys == [key]
    other = world.message(window=new_york)
    assert send(world, recorder, now=AFTER).expired == 1  # 20:00 itself is outside
    assert world.statuses()[other] == "expired"


def test_the_message_says_what_the_template_says_in_the_customers_language(world: World) -> None:
    world.customer("C1", language="zh-CN")
    world.customer("C2", name="Li Na", language="en", arrears_fen=250000, days_past_due=40)
    zh = world.message("C1", template="sms.reminder.friendly", tone="gentle")
    en = world.message("C2", channel="email", template="call.offer_solution", tone="firm")
    recorder = Recorder()
    send(world, recorder)
    sent = {m.idempotency_key: m for m in recorder.sent}
    assert sent[zh].recipient == PHONE and sent[zh].language == "zh-CN"
    assert sent[zh].subject is None
    assert sent[zh].body.startswith(f"【缓催银行】{NAME}您好") and "1,150.50 元" in sent[zh].body
    assert "逾期 13 天" in sent[zh].body  # 12 in the snapshot of the 28th; sent on the 29th
    assert sent[en].recipient == EMAIL and sent[en].language == "en"
    assert sent[en].subject == "Huancui Bank: please agree a repayment plan with us soon"
    assert sent[en].body.startswith("Hello Li Na,") and "CNY 2,500.00" in sent[en].body
    assert (sent[en].customer_id, sent[en].account_id, sent[en].template) == (
        "C2",
        "A-C2",
        "call.offer_solution",
    )


def test_dispatching_twice_sends_nothing_twice(world: World) -> None:
    world.customer()
    keys = [world.message() for _ in range(3)]
    recorder = Recorder()
    first = send(world, recorder)
    second = send(world, recorder, now=INSIDE + timedelta(minutes=5))
    assert (first.sent, second.sent) == (3, 0)
    assert sorted(recorder.keys) == sorted(keys)
    assert all(r.attempts == 1 for r in world.rows().values())


def test_a_failing_adapter_marks_failed_without_losing_the_others(world: World) -> None:
    world.customer()
    keys = [world.message() for _ in range(4)]
    recorder = Recorder(fail={keys[1]})
    report = send(world, recorder, batch_size=2)
    assert (report.sent, report.failed) == (3, 1)
    assert recorder.keys == [keys[0], keys[2], keys[3]]
    row = world.rows()[keys[1]]
    assert row.status == "failed" and row.attempts == 1
    assert row.status_reason == "recorder: the gateway is down"
    assert [n.idempotency_key for n in report.failures] == [keys[1]]
    # Failed messages are not retried by the next dispatch.
    again = Recorder()
    assert send(world, again).sent == 0 and again.sent == []


def test_an_unexpected_error_is_recorded_without_personal_data(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.customer()
    key = world.message()
    error = RuntimeError(f"gateway rejected {PHONE} for {NAME}")
    with caplog.at_level(logging.DEBUG):
        report = send(world, Recorder(fail={key}, error=error))
    reason = world.rows()[key].status_reason or ""
    assert reason.startswith("recorder: RuntimeError: gateway rejected 138****5678 for 王**")
    for secret in (PHONE, NAME, EMAIL):
        assert secret not in reason
        assert secret not in caplog.text
        assert secret not in str(report.as_json())
        assert secret not in str(world.audit()[-1].after)


def test_sending_leftovers_are_reported_and_never_resent(world: World) -> None:
    world.customer()
    stuck = world.message(status="sending")
    fresh = world.message()
    recorder = Recorder()
    report = send(world, recorder)
    assert recorder.keys == [fresh]
    assert [n.idempotency_key for n in report.stuck] == [stuck]
    assert world.statuses()[stuck] == "sending"
    # Even after its window ends it stays for a person: not expired, not sent.
    later = send(world, recorder, now=AFTER + timedelta(days=1))
    assert [n.idempotency_key for n in later.stuck] == [stuck]
    assert world.statuses()[stuck] == "sending"
    after = world.audit()[-1].after
    assert after is not None and after["stuck_sending"] == 1


def test_a_crash_after_claiming_leaves_only_the_message_in_flight_sending(world: World) -> None:
    world.customer()
    keys = [world.message() for _ in range(4)]

    def crash_on_second(message: OutgoingMessage) -> None:
        if message.idempotency_key == keys[1]:
            raise KeyboardInterrupt  # the process is stopped mid-send

    recorder = Recorder(on_send=crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        send(world, recorder, batch_size=10)
    statuses = world.statuses()
    assert statuses[keys[0]] == "sent"
    assert statuses[keys[1]] == "sending"  # in flight: nobody knows whether it went out
    assert statuses[keys[2]] == statuses[keys[3]] == "pending"  # never handed over: released
    rows = world.rows()
    assert rows[keys[2]].attempts == 0 and rows[keys[2]].adapter is None
    again = Recorder()
    report = send(world, again)
    assert sorted(again.keys) == sorted(keys[2:])
    assert [n.idempotency_key for n in report.stuck] == [keys[1]]
    assert "claimed by dispatch" in (report.stuck[0].reason or "")


def test_a_window_that_closes_during_a_long_dispatch_expires_the_rest(world: World) -> None:
    world.customer()
    closing = ("2026-11-29T09:00:00+08:00", "2026-11-29T10:31:00+08:00")
    keys = [world.message(window=closing) for _ in range(3)]
    elapsed = [0.0]

    def slow(_message: OutgoingMessage) -> None:
        elapsed[0] += 40.0  # each send takes 40 s

    recorder = Recorder(on_send=slow)
    report = dispatch(
        world.url,
        adapters={"sms": recorder},
        now=INSIDE,  # 10:30:00; the window ends 60 s later
        actor="ops.zhang",
        monotonic=lambda: elapsed[0],
    )
    assert recorder.keys == keys[:2]
    assert (report.sent, report.expired) == (2, 1)
    assert "during the dispatch" in (world.rows()[keys[2]].status_reason or "")


def test_a_customer_without_email_fails_clearly(world: World) -> None:
    world.customer(email=None)
    key = world.message(channel="email")
    report = send(world, Recorder())
    assert world.rows()[key].status == "failed"
    assert world.rows()[key].status_reason == "the customer has no e-mail address on file"
    assert world.rows()[key].attempts == 0
    assert report.failed == 1


def test_consent_withdrawn_or_arrears_paid_cancels(world: World) -> None:
    world.customer("C1", consent_sms=False)
    account = world.customer("C2")
    world.later_snapshot(date(2026, 11, 29), account, "C2", arrears_fen=0)
    no_consent = world.message("C1")
    paid = world.message("C2")
    recorder = Recorder()
    report = send(world, recorder)
    assert recorder.sent == [] and report.cancelled == 2
    rows = world.rows()
    assert rows[no_consent].status == "cancelled"
    assert rows[no_consent].status_reason == "the customer no longer consents to sms"
    assert rows[paid].status == "cancelled"
    assert rows[paid].status_reason == (
        "nothing is overdue on the account in the snapshot of 2026-11-29"
    )


def test_a_newer_snapshot_gives_the_current_amount(world: World) -> None:
    account = world.customer()
    world.later_snapshot(date(2026, 11, 29), account, "C1", arrears_fen=60000)
    world.message()
    recorder = Recorder()
    send(world, recorder)
    assert "600.00 元" in recorder.sent[0].body


def test_a_template_needing_an_unknown_amount_fails_with_the_reason(world: World) -> None:
    world.customer(snapshot=False)
    key = world.message()
    send(world, Recorder())
    reason = world.rows()[key].status_reason or ""
    assert reason.startswith(
        "template 'sms.reminder.friendly' (zh-CN, sms) needs placeholder {amount}"
    )
    assert "no snapshot from 2026-11-28 on" in reason


def test_a_missing_template_fails_the_message_only(world: World) -> None:
    world.customer()
    bad = world.message(template="sms.unknown")
    good = world.message()
    recorder = Recorder()
    report = send(world, recorder)
    assert recorder.keys == [good]
    assert world.rows()[bad].status_reason == "no template 'sms.unknown' in language 'zh-CN'"
    assert report.failed == 1


def test_limit_and_missing_adapters_leave_messages_pending(world: World) -> None:
    world.customer()
    sms = [world.message() for _ in range(3)]
    email = world.message(channel="email")
    recorder = Recorder()
    report = dispatch(
        world.url,
        adapters={"sms": recorder},
        now=INSIDE,
        actor="ops.zhang",
        limit=2,
    )
    assert recorder.keys == sms[:2]
    assert (report.sent, report.over_limit, report.no_adapter, report.left_pending) == (2, 1, 1, 2)
    statuses = world.statuses()
    assert statuses[sms[2]] == statuses[email] == "pending"


def test_each_dispatch_is_audited(world: World) -> None:
    world.customer()
    world.message()
    world.message(window=("2026-11-29T08:00:00+08:00", "2026-11-29T09:00:00+08:00"))
    report = send(world, Recorder(), reason="morning run")
    events = world.audit()
    assert len(events) == 1
    event = events[0]
    assert (event.actor, event.action, event.entity_type) == (
        "ops.zhang",
        "outbox.dispatch",
        "outbox",
    )
    assert event.entity_id == f"dispatch:{report.dispatch_id}"
    assert event.reason == "morning run"
    assert event.after is not None
    assert event.after["sent"] == 1 and event.after["expired"] == 1
    assert event.after["adapters"] == {"email": "recorder", "sms": "recorder"}
    assert event.after["now"] == INSIDE.isoformat()
    send(world, Recorder())
    assert "contact window contains" in (world.audit()[-1].reason or "")
    with unit_of_work(world.url) as session:
        assert verify(session).ok


def test_a_damaged_window_fails_the_message(world: World) -> None:
    world.customer()
    key = world.message(window=("2026-11-29 09:00", "2026-11-29 20:00"))
    report = send(world, Recorder())
    assert report.failed == 1
    assert "not an ISO time with an offset" in (world.rows()[key].status_reason or "")


def test_bad_arguments_are_refused_before_anything_changes(world: World) -> None:
    world.customer()
    key = world.message()
    with pytest.raises(InvalidInput, match="offset"):
        dispatch(world.url, adapters={}, now=datetime(2026, 11, 29, 10), actor="x")

    class SmsOnly(Recorder):
        channels = frozenset({"sms"})

    with pytest.raises(InvalidInput, match="cannot send email"):
        dispatch(world.url, adapters={"email": SmsOnly()}, now=INSIDE, actor="x")
    with pytest.raises(InvalidInput, match="no outbox channel 'call'"):
        dispatch(world.url, adapters={"call": Recorder()}, now=INSIDE, actor="x")
    assert world.statuses()[key] == "pending"
    assert world.audit() == []


def test_two_dispatchers_cannot_both_claim_a_message(world: World) -> None:
    """The second dispatcher scans the row as due, but the first claims and sends it first."""
    world.customer()
    key = world.message()
    inner = Recorder()

    def race(_message: OutgoingMessage) -> None:
        # While the outer dispatch is sending, a second one runs: the row is 'sending' already.
        report = send(world, inner)
        assert report.sent == 0 and [n.idempotency_key for n in report.stuck] == [key]

    outer = Recorder(on_send=race)
    send(world, outer)
    assert outer.keys == [key] and inner.sent == []


def test_a_row_taken_between_scan_and_claim_is_skipped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent run cancels the row after this dispatch found it due: it is not sent."""
    world.customer()
    key = world.message()
    claim = _Dispatch.claim

    def cancel_then_claim(self: _Dispatch, chunk: Sequence[int]) -> list[Any]:
        with unit_of_work(world.url) as session:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.idempotency_key == key)
                .values(status="cancelled", status_reason="no longer planned by run 2")
            )
        return claim(self, chunk)

    monkeypatch.setattr(_Dispatch, "claim", cancel_then_claim)
    recorder = Recorder()
    report = send(world, recorder)
    assert recorder.sent == [] and report.sent == 0
    assert world.statuses()[key] == "cancelled"


def test_the_file_adapter_writes_masked_lines(world: World, tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    world.customer()
    sms = world.message()
    email = world.message(channel="email")
    send(world, FileAdapter(folder))
    lines = [
        json.loads(line) for line in (folder / "messages.jsonl").read_text("utf-8").splitlines()
    ]
    assert [line["idempotency_key"] for line in lines] == [sms, email]
    text = (folder / "messages.jsonl").read_text("utf-8")
    assert PHONE not in text and EMAIL not in text and NAME not in text
    assert lines[0]["recipient"] == "138****5678"
    assert lines[1]["recipient"] == "w***@example.com"
    assert lines[0]["body"].startswith("【缓催银行】王**您好")
    assert lines[1]["subject"] == "缓催银行：温馨还款提醒"
    rows = world.rows()
    assert rows[sms].provider_ref == "file:messages.jsonl@0"
    assert (rows[email].provider_ref or "").startswith("file:messages.jsonl@")
