"""Portal page fixtures: a customer signs in the way they would, with the code read off the
SMS that the file adapter wrote (HUANCUI_HOME/outbox/messages.jsonl)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from httpx import Response

from huancui.kit.settings import Settings
from huancui.portal import codes
from tests.web.conftest import WebClient

# The book's customers' mobile numbers (tests/arrangements/conftest.write_delivery).
PHONE_C1 = "13800000001"
PHONE_C3 = "13800000003"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _fresh_portal_throttles() -> Iterator[None]:
    codes.REQUESTS.reset()
    codes.FAILURES.reset()
    yield
    codes.REQUESTS.reset()
    codes.FAILURES.reset()


def last_code(settings: Settings) -> str:
    """The code in the newest SMS, as the customer reads it."""
    path = settings.home / "outbox" / "messages.jsonl"
    body = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])["body"]
    (code,) = re.findall(r"(?<!\d)\d{6}(?!\d)", body)
    return str(code)


def request_code(web: WebClient, phone: str) -> Response:
    return web.post("/portal/login", {"phone": phone}, page="/portal/login")


def sign_in_customer(web: WebClient, settings: Settings, phone: str) -> Response:
    """Phone → code → a customer session; returns the redirect to /portal."""
    assert request_code(web, phone).status_code == 200
    answer = web.post(
        "/portal/login/code",
        {"phone": phone, "code": last_code(settings)},
        page="/portal/login",
    )
    assert answer.status_code == 303, answer.text
    return answer
