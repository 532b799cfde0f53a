"""Portal fixtures: the arrangements book (four customers, five accounts, imported for real)
with a token secret, and the sign-in code read where the customer would read it: the SMS the
file adapter wrote to HUANCUI_HOME/outbox/messages.jsonl."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from huancui.arrangements.policy import ArrangementPolicy, load_arrangement_policy
from huancui.kit.database import unit_of_work
from huancui.kit.settings import Settings
from huancui.portal import codes
from tests.api.conftest import with_secret
from tests.arrangements.conftest import (  # noqa: F401  (fixtures)
    AS_OF,
    Book,
    _book_templates,
    book,
    cli_built_once,
)

# The book's customers and their mobile numbers (tests/arrangements/conftest.write_delivery).
PHONES = {"C1": "13800000001", "C2": "13800000002", "C3": "13800000003", "C4": "13800000004"}
UNKNOWN_PHONE = "13912345678"
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, the day after AS_OF
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Portal:
    book: Book
    settings: Settings

    @property
    def policy(self) -> ArrangementPolicy:
        return load_arrangement_policy().policy

    @property
    def messages_file(self) -> Path:
        return self.settings.home / "outbox" / "messages.jsonl"

    def messages(self) -> list[dict[str, Any]]:
        if not self.messages_file.exists():
            return []
        lines = self.messages_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def last_code(self) -> str:
        """The code in the newest SMS, as the customer reads it off their phone."""
        (code,) = re.findall(r"(?<!\d)\d{6}(?!\d)", self.messages()[-1]["body"])
        return str(code)

    def request(self, phone: str, *, now: datetime = NOW) -> codes.CodeRequest:
        with unit_of_work(self.settings.resolved_database_url) as session:
            return codes.request_code(session, self.settings, phone=phone, now=now)

    def verify(self, phone: str, code: str, *, now: datetime = NOW) -> str:
        """The customer_id the code signs in; the refusal (after committing) otherwise."""
        with unit_of_work(self.settings.resolved_database_url) as session:
            outcome = codes.verify_code(session, self.settings, phone=phone, code=code, now=now)
        return outcome.value()

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        return self.book.rows(sql, **params)


@pytest.fixture(autouse=True)
def _fresh_portal_throttles() -> Iterator[None]:
    """The per-client throttles live in the process: a clean slate for every test."""
    codes.REQUESTS.reset()
    codes.FAILURES.reset()
    yield
    codes.REQUESTS.reset()
    codes.FAILURES.reset()


@pytest.fixture
def portal(book: Book) -> Portal:  # noqa: F811
    settings = with_secret(book.settings)
    return Portal(Book(book.cli, settings, book.folder), settings)
