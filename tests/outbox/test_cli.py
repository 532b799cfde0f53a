"""`huancui outbox send | list` as an operator runs them."""

from __future__ import annotations

import json
from collections.abc import Callable

from typer.testing import Result

from huancui.kit.settings import Settings
from tests.outbox.conftest import EMAIL, INSIDE, NAME, PHONE, World

Run = Callable[..., Result]


def test_send_with_the_file_adapter_prints_the_counts(
    outbox_cli: Run, world: World, settings: Settings
) -> None:
    world.customer()
    world.customer("C2", email=None)
    sent = world.message()
    world.message(window=("2026-11-29T08:00:00+08:00", "2026-11-29T09:00:00+08:00"))
    world.message(window=("2026-11-29T19:00:00+08:00", "2026-11-29T20:00:00+08:00"))
    failed = world.message("C2", channel="email")
    result = outbox_cli("send", "--now", INSIDE.isoformat(), "--actor", "ops.zhang")
    assert result.exit_code == 0, result.output
    assert "sent 1, expired 1, failed 1, cancelled 0, left pending 1" in result.stdout, (
        result.stdout
    )
    assert "sms → file" in result.stdout
    assert "the customer has no e-mail address on file" in result.stderr
    lines = (settings.home / "outbox" / "messages.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["idempotency_key"] for line in lines] == [sent]
    assert world.statuses()[failed] == "failed"
    assert world.audit()[-1].actor == "ops.zhang"


def test_send_json_and_a_second_send_sends_nothing(outbox_cli: Run, world: World) -> None:
    world.customer()
    world.message()
    first = outbox_cli("send", "--now", INSIDE.isoformat(), "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["sent"], report["left_pending"], report["adapters"]) == (
        1,
        0,
        {"email": "file", "sms": "file"},
    )
    second = json.loads(outbox_cli("send", "--now", INSIDE.isoformat(), "--json").stdout)
    assert second["sent"] == 0


def test_send_with_the_log_adapter_and_a_limit(outbox_cli: Run, world: World) -> None:
    world.customer()
    keys = [world.message() for _ in range(3)]
    result = outbox_cli("send", "--adapter", "log", "--now", INSIDE.isoformat(), "--limit", "2")
    assert result.exit_code == 0, result.output
    assert "sent 2," in result.stdout and "1 due message(s) over --limit" in result.stdout
    assert result.stderr.count("outbox sms") == 2 and "138****5678" in result.stderr
    assert PHONE not in result.stderr and NAME not in result.stderr
    assert world.statuses()[keys[2]] == "pending"


def test_send_reports_sending_leftovers(outbox_cli: Run, world: World) -> None:
    world.customer()
    world.message(status="sending")
    result = outbox_cli("send", "--now", INSIDE.isoformat())
    assert result.exit_code == 0
    assert "1 message(s) still 'sending'" in result.stderr
    assert "They are NOT re-sent" in result.stderr


def test_send_refuses_bad_options(outbox_cli: Run, world: World) -> None:
    naive = outbox_cli("send", "--now", "2026-11-29T10:30:00")
    assert naive.exit_code == 2
    assert "not an ISO-8601 time with an offset" in naive.stderr
    unknown = outbox_cli("send", "--adapter", "fax")
    assert unknown.exit_code == 2 and "choose one of file, log, smtp" in unknown.stderr


def test_list_is_masked(outbox_cli: Run, world: World) -> None:
    world.customer()
    sms = world.message()
    email = world.message(channel="email", tone="firm")
    outbox_cli("send", "--now", INSIDE.isoformat())
    result = outbox_cli("list", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["idempotency_key"]: r for r in json.loads(result.stdout)}
    assert rows[sms]["recipient"] == "138****5678" and rows[sms]["customer"] == "王**"
    assert rows[email]["recipient"] == "w***@example.com"
    assert rows[sms]["status"] == "sent" and rows[sms]["provider_ref"].startswith("file:")
    for secret in (PHONE, EMAIL, NAME):
        assert secret not in result.stdout
    table = outbox_cli("list", "--status", "sent")
    assert table.exit_code == 0
    assert "138****5678" in table.stdout and PHONE not in table.stdout
    assert outbox_cli("list", "--status", "pending").stdout.startswith("the outbox is empty")
    assert outbox_cli("list", "--status", "nope").exit_code == 2
