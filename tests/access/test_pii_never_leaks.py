"""`make run` in miniature — generate, import, run the nightly job, send through the log and
file adapters, list the outbox, rotate the key — and no phone number, national ID or e-mail
address of the delivery appears in clear in the audit log, the logs, the command output, the
outbox file or the bytes of the SQLite database."""

from __future__ import annotations

import csv
import json
import logging
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from huancui.kit.database import unit_of_work
from huancui.kit.settings import Settings
from huancui.portfolio.synthetic import generate_portfolio
from tests.conftest import ROOT, Cli

AS_OF = "2026-11-27"


def test_no_personal_value_leaks_into_logs_audit_output_or_the_database_file(
    sqlite_cli: Cli, sqlite_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    delivery = tmp_path / "delivery"
    generate_portfolio(
        accounts=400, months=13, seed=11, as_of=date(2026, 11, 27),
        out=delivery,
    )  # fmt: skip
    with (delivery / "customers.csv").open(encoding="utf-8", newline="") as fh:
        people = list(csv.DictReader(fh))
    secrets = {p[c] for p in people for c in ("phone", "national_id", "email") if p[c]}
    assert len(secrets) > 2 * len(people)

    caplog.set_level(logging.DEBUG)
    outputs = []
    for args in (
        ("import", str(delivery), "--as-of", AS_OF),
        ("strategy", "activate", str(ROOT / "strategies" / "default.yaml"), "--actor", "demo"),
        ("run", "--as-of", AS_OF, "--actor", "demo"),
        ("outbox", "send", "--adapter", "log", "--limit", "2",
         "--now", "2026-11-28T10:00:00+08:00", "--actor", "demo"),
        ("outbox", "send", "--adapter", "file", "--now", "2026-11-28T10:00:00+08:00",
         "--actor", "demo", "--json"),
        ("outbox", "list", "--json"),
        ("keys", "rotate"),
        ("keys", "check"),
    ):  # fmt: skip
        result = sqlite_cli(*args)
        assert result.exit_code == 0, (args, result.output)
        outputs.append(result.output)
    assert json.loads(outputs[4])["sent"] > 0  # messages really went out through the file

    with unit_of_work(sqlite_settings.resolved_database_url) as session:
        audit = session.execute(text("SELECT * FROM audit_events")).all()
        outbox = session.execute(text("SELECT * FROM outbox")).all()
    audit_text = "\n".join(str(v) for row in audit for v in row)
    outbox_text = "\n".join(str(v) for row in outbox for v in row)
    sent = (sqlite_settings.home / "outbox" / "messages.jsonl").read_text(encoding="utf-8")
    database = b"".join(
        path.read_bytes() for path in sqlite_settings.home.glob("case.db*") if path.is_file()
    )
    assert sent and audit and database
    places = {
        "audit_events": audit_text,
        "outbox table": outbox_text,
        "logs": caplog.text,
        "command output": "\n".join(outputs),
        "outbox file": sent,
    }
    for secret in secrets:
        for place, content in places.items():
            assert secret not in content, f"a personal value appears in the {place}"
        assert secret.encode() not in database, "a personal value is in the database file"
