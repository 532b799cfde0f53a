"""In a real browser: a strategy manager signs in, pastes a strategy with an invalid rule into
the editor, validates it and sees the rule's error next to its line, the text kept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PASSWORD
from tests.web.strategy_compliance.conftest import STRATEGY_MANAGER

pytestmark = pytest.mark.browser

BAD_CONDITION = "credit_grade IN ('A', 'B') AND dpd <= 30"


def test_a_strategy_manager_sees_an_invalid_rules_error_at_its_line(
    browser_page: Any, artifacts: Path, default_yaml: str
) -> None:
    page = browser_page
    page.goto("/login")
    page.fill("input[name=username]", STRATEGY_MANAGER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/strategies$"))
    page.screenshot(path=str(artifacts / "01-signed-in-versions.png"), full_page=True)

    page.goto("/strategies/edit")
    editor = page.locator("textarea[name=yaml_text]")
    assert "name: default" in editor.input_value()
    pasted = re.sub(
        r"condition: credit_grade IN \('A', 'B'\) AND days_past_due <= 30.*",
        f"condition: {BAD_CONDITION}",
        default_yaml.replace("version: 1", "version: 2", 1),
        count=1,
    )
    assert BAD_CONDITION in pasted
    editor.fill(pasted)
    page.screenshot(path=str(artifacts / "02-pasted-invalid-rule.png"), full_page=True)

    page.click("#editor-form button[name=action][value=validate]")
    page.wait_for_selector("#listing .finding.error")
    bad_line = next(n for n, row in enumerate(pasted.splitlines(), 1) if BAD_CONDITION in row)
    finding = page.locator("#listing .finding.error")
    assert finding.count() == 1
    assert finding.get_attribute("data-line") == str(bad_line)
    assert finding.get_attribute("data-rule") == "segments[0] 'prime' condition"
    assert "unknown column 'dpd'" in finding.inner_text()
    # The finding follows the very line it names.
    assert page.locator(f"#L{bad_line} + .finding.error").count() == 1
    assert page.locator("textarea[name=yaml_text]").input_value().strip() == pasted.strip()
    assert page.locator("button[formaction='/strategies/activate']").count() == 0
    page.locator(f"#L{bad_line}").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "03-error-at-its-line.png"), full_page=True)
