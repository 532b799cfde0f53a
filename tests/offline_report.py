"""Checks shared by the tests of the self-contained HTML reports (collections, simulation,
model): nothing is loaded from elsewhere, and in a real browser plotly draws every chart
offline."""

from __future__ import annotations

import re
from pathlib import Path

from plotly.offline import get_plotlyjs


def assert_loads_nothing_from_elsewhere(html: str) -> None:
    # plotly.js itself holds links (its logo, map attributions) that it never loads
    page = html.replace(get_plotlyjs(), "")
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page, re.I)
    assert tags and not [t for t in tags if re.search(r"(src|href)\s*=", t, re.I)]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page


def assert_charts_drawn_offline(html: str, folder: Path, *, charts: int) -> None:
    """Open the report in chromium with the network off; every chart has traces and an svg, no
    page error, no request leaves the file."""
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import chromium_path

    report = folder / "report.html"
    report.write_text(html, encoding="utf-8")
    errors: list[str] = []
    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_context(offline=True).new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "request",
                lambda r: (
                    outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None
                ),
            )
            page.goto(report.as_uri())
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}",
                timeout=30_000,
            )
            plots = page.evaluate(
                "Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".map(el => [(el.data || []).length, el.querySelectorAll('svg').length])"
            )
        finally:
            browser.close()
    assert len(plots) == charts
    assert all(n_traces > 0 and n_svg > 0 for n_traces, n_svg in plots), plots
    assert errors == []
    assert outside == []
