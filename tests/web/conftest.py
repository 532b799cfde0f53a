"""Web fixtures: the real app over the `book` portfolio with staff who have passwords, a
TestClient that signs in through the real form (CSRF included), and for browser tests a live
uvicorn server on a free loopback port with Debian's chromium driven by playwright."""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from httpx import Response

from huancui.access import throttle
from huancui.access.passwords import hash_password
from huancui.access.users import staff
from huancui.api.app import create_app
from huancui.kit.database import make_engine, unit_of_work
from huancui.kit.settings import Settings
from tests.api.conftest import PASSWORD, with_secret
from tests.arrangements.conftest import (  # noqa: F401  (fixtures)
    ANALYST,
    AS_OF,
    COLLECTOR,
    COLLECTOR_2,
    MANAGER,
    STAFF,
    SUPERVISOR,
    Book,
    _book_templates,
    book,
    cli_built_once,
)

__all__ = [
    "ANALYST",
    "AS_OF",
    "COLLECTOR",
    "COLLECTOR_2",
    "MANAGER",
    "PASSWORD",
    "SUPERVISOR",
    "Book",
]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a csrf_token"
    return found.group(1)


class WebClient:
    """A browser-like client: keeps cookies, and posts forms with the page's CSRF token."""

    def __init__(self, client: TestClient) -> None:
        self.http = client

    def get(self, url: str, **kwargs: Any) -> Response:
        response: Response = self.http.get(
            url, follow_redirects=kwargs.pop("follow_redirects", False), **kwargs
        )
        return response

    def token(self, page: str = "/login") -> str:
        return csrf_of(self.get(page, follow_redirects=True).text)

    def post(
        self, url: str, data: dict[str, Any], *, page: str | None = None, **kwargs: Any
    ) -> Response:
        """POST a form; its csrf_token comes from `page` (default /login, which shows this
        browser's token: the session's once signed in) unless `data` already has one."""
        if "csrf_token" not in data:
            data = {**data, "csrf_token": self.token(page or "/login")}
        response: Response = self.http.post(
            url, data=data, follow_redirects=kwargs.pop("follow_redirects", False), **kwargs
        )
        return response

    def sign_in(self, username: str, password: str = PASSWORD) -> Response:
        response = self.post("/login", {"username": username, "password": password})
        assert response.status_code == 303, response.text
        return response


@pytest.fixture(autouse=True)
def _fresh_client_throttle() -> Iterator[None]:
    """The per-client throttle lives in the process: every test starts with a clean slate."""
    throttle.CLIENTS.reset()
    yield
    throttle.CLIENTS.reset()


@functools.cache
def _password_hash() -> str:
    """PASSWORD hashed once per worker (argon2id takes 64 MiB and a noticeable moment)."""
    return hash_password(PASSWORD)


@pytest.fixture
def web_settings(book: Book) -> Settings:  # noqa: F811
    """The book with a token secret, and every staff member of the book with PASSWORD (the
    hash access.users.set_password would store)."""
    settings = with_secret(book.settings)
    with unit_of_work(settings.resolved_database_url) as session:
        for username in STAFF:
            user = staff(session, username)
            user.password_hash = _password_hash()
            user.password_changed_at = datetime.now(UTC)
    return settings


@pytest.fixture
def web(web_settings: Settings) -> Iterator[WebClient]:
    """A client of the real app (web pages and API) over the book."""
    with TestClient(create_app(web_settings)) as client:
        yield WebClient(client)
    make_engine(web_settings.resolved_database_url).dispose()


@pytest.fixture
def worked(book: Book, web_settings: Settings) -> Book:  # noqa: F811
    """The book after the nightly run of AS_OF: the day's calls are in the collectors' queues
    (H1, P2, P1, S1 by priority; tests/cases/conftest.py)."""
    result = book.cli("run", "--as-of", AS_OF.isoformat(), "--actor", "night-batch", "--json")
    assert result.exit_code == 0, result.output
    return book


def audit_actions(book: Book) -> list[str]:  # noqa: F811
    """Every audit event's action, oldest first."""
    return [str(a) for (a,) in book.rows("SELECT action FROM audit_events ORDER BY event_id")]


def new_client(settings: Settings) -> WebClient:
    """Another browser (its own cookies) on an app over the same database; close its .http."""
    return WebClient(TestClient(create_app(settings)))


# --- browser tests ---------------------------------------------------------------------------


def chromium_path() -> str:
    """Debian's chromium (playwright must not download a browser here): HUANCUI_CHROMIUM or
    /usr/bin/chromium. Skipped without it, except in CI where it must be there."""
    found = os.environ.get("HUANCUI_CHROMIUM") or shutil.which("chromium")
    if not found or not Path(found).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium (HUANCUI_CHROMIUM or /usr/bin/chromium)")
        pytest.skip("browser tests need chromium: apt-get install chromium")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LiveServer:
    """create_app served by uvicorn in a background thread on 127.0.0.1."""

    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(web_settings: Settings) -> Iterator[LiveServer]:
    """The app over the book, served on a free loopback port for a browser."""
    with LiveServer(web_settings) as server:
        yield server
    make_engine(web_settings.resolved_database_url).dispose()


@pytest.fixture
def artifacts(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Where a browser test saves screenshots: $HUANCUI_ARTIFACTS/<test name>, else tmp_path."""
    root = os.environ.get("HUANCUI_ARTIFACTS")
    folder = Path(root) / re.sub(r"[^\w.-]+", "_", request.node.name) if root else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser_page(live_server: LiveServer) -> Iterator[Any]:
    """A playwright chromium page (a fresh context: no cookies) on the live server."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        context = browser.new_context(base_url=live_server.url, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
