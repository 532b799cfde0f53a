"""Make the screenshots of docs/user-guide.md from a fresh demo, through the real web app.

    .venv/bin/python scripts/user_guide_screenshots.py [--out docs/user-guide] [--keep-home]

Builds a small demo (3,000 accounts) in a temporary HUANCUI_HOME exactly as `make run` does,
serves it with `huancui serve --demo` on a free loopback port, and drives Debian's chromium
(HUANCUI_CHROMIUM or /usr/bin/chromium; no browser is downloaded) with playwright through one
journey per role: collector, a second collector, supervisor, strategy manager, compliance
officer and a customer on a phone-sized screen. The server is stopped at the end, also on a
failure. Writes docs/user-guide/NN-role-screen.png.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
HUANCUI = ROOT / ".venv" / "bin" / "huancui"
AS_OF = "2026-11-27"
SEND_AT = "2026-11-28T10:00:00+08:00"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(HUANCUI), *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"huancui {' '.join(args)} failed ({result.returncode})")
    return result.stdout


def build_demo(env: dict[str, str], work: Path) -> None:
    delivery = work / "delivery"
    steps = [
        ("generate", "--accounts", "3000", "--months", "15", "--seed", "7", "--as-of", AS_OF,
         "--out", str(delivery)),
        ("import", str(delivery), "--as-of", AS_OF),
        ("strategy", "activate", "strategies/default.yaml", "--actor", "demo"),
        ("run", "--as-of", AS_OF, "--actor", "demo"),
        ("outbox", "send", "--now", SEND_AT, "--actor", "demo"),
    ]  # fmt: skip
    for step in steps:
        log("huancui " + " ".join(step[:2]))
        cli(env, *step)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(env: dict[str, str], work: Path) -> Iterator[str]:
    """`huancui serve --demo` on a free port; yields its base URL and stops it afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = (work / "serve.log").open("w")
    process = subprocess.Popen(
        [str(HUANCUI), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"huancui serve exited; see {work / 'serve.log'}")
            try:
                with urllib.request.urlopen(base + "/login", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("huancui serve did not answer within 60 s")
            time.sleep(0.5)
        log(f"serving on {base}")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server_log.close()
        log("server stopped")


class Shooter:
    """Writes NN-name.png: the viewport, or the region of one element (at most a viewport)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.count = 0
        self.written: list[Path] = []

    def __call__(self, page: Page, name: str, region: Locator | None = None, pad: int = 12) -> None:
        self.count += 1
        path = self.out / f"{self.count:02d}-{name}.png"
        page.wait_for_load_state("networkidle")
        if region is None:
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(path))
        else:
            region.first.scroll_into_view_if_needed()
            top = region.first.evaluate("e => e.getBoundingClientRect().top + window.scrollY")
            page.evaluate("y => window.scrollTo(0, y)", max(0, top - pad))
            box = region.first.bounding_box()
            assert box is not None, name
            view = page.viewport_size or DESKTOP
            y = max(0.0, box["y"] - pad)
            height = min(box["height"] + 2 * pad, view["height"] - y)
            page.screenshot(path=str(path), clip={"x": 0, "y": y, "width": view["width"],
                                                  "height": height})  # fmt: skip
        self.written.append(path)
        log(f"{path.name} ({path.stat().st_size // 1024} KB)")


def sign_in(browser: Browser, base: str, username: str, password: str) -> Page:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", base_url=base)
    page = context.new_page()
    page.goto("/login?lang=en")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    if "/login" in page.url:
        raise SystemExit(f"sign-in as {username} failed")
    return page


def saved(page: Page, what: str) -> None:
    """The form was accepted: no inline refusal came back."""
    page.wait_for_load_state("networkidle")
    refusals = page.locator(".form-error, .field-error")
    if refusals.count():
        raise SystemExit(f"{what} was refused: {refusals.first.inner_text()}")


def wait_quote(page: Page, target: str) -> None:
    page.wait_for_function(
        "id => document.getElementById(id) && document.getElementById(id).dataset.ready",
        arg=target,
        timeout=15000,
    )


def collector_journey(browser: Browser, base: str, pw: dict[str, str], shot: Shooter) -> dict:
    # The sign-in page, before anyone is signed in.
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", base_url=base)
    page = context.new_page()
    page.goto("/login?lang=en")
    page.fill("input[name=username]", "demo.collector")
    shot(page, "staff-sign-in")
    context.close()

    page = sign_in(browser, base, "demo.collector", pw["demo.collector"])
    page.goto("/work")
    shot(page, "collector-queue")
    page.click("#next-case")
    page.wait_for_url(re.compile(r"/work/accounts/"))
    account = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.wait_for_selector("#dpd-chart .main-svg", timeout=15000)
    shot(page, "collector-account-360")
    shot(page, "collector-script", page.locator("#script"))
    phone = page.locator("#customer dl.facts dd").nth(1).inner_text().strip()
    name = page.locator("#customer dl.facts dd").nth(0).inner_text().strip()

    # A promise to pay with its live quote; within a week (high risk): approved at once.
    page.click("#promise-form summary")
    wait_quote(page, "promise-quote")
    form = page.locator("#promise-form form")
    form.locator("input[name=pay_by]").fill("2026-12-03")
    form.locator("textarea[name=reason]").fill("Customer will pay the arrears from next salary.")
    page.wait_for_timeout(800)
    wait_quote(page, "promise-quote")
    shot(page, "collector-promise-quote", page.locator("#promise-form"))
    form.locator("button[value=save]").click()
    saved(page, "the promise")

    # A second case: an outcome, so that the team page has figures.
    page.goto("/work")
    page.click("#next-case")
    page.wait_for_url(re.compile(r"/work/accounts/"))
    page.click("#outcome-form summary")
    outcome = page.locator("#outcome-form form")
    outcome.locator("select[name=outcome]").select_option("no_answer")
    outcome.locator("button[type=submit]").click()
    saved(page, "the outcome")

    page.goto("/work?lang=zh-CN")
    shot(page, "collector-queue-zh")
    page.goto("/work?lang=en")
    page.context.close()
    return {"account": account, "phone": phone, "name": name}


def second_collector_journey(browser: Browser, base: str, pw: dict[str, str], shot: Shooter) -> str:
    page = sign_in(browser, base, "demo.collector2", pw["demo.collector2"])
    # The standard segment is offered instalment plans (high risk is not).
    page.goto("/work?queue=phone_standard")
    page.click("#next-case")
    page.wait_for_url(re.compile(r"/work/accounts/"))
    account = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.click("#plan-form summary")
    wait_quote(page, "plan-quote")
    form = page.locator("#plan-form form")
    form.locator("select[name=months]").select_option("12")
    form.locator("textarea[name=reason]").fill(
        "Lost overtime pay; can afford a fixed monthly amount for a year."
    )
    page.wait_for_timeout(800)
    wait_quote(page, "plan-quote")
    shot(page, "collector-plan-needs-approval", page.locator("#plan-form"))
    form.locator("button[value=save]").click()
    saved(page, "the plan")
    page.context.close()
    return account


def supervisor_journey(browser: Browser, base: str, pw: dict[str, str], shot: Shooter) -> None:
    page = sign_in(browser, base, "demo.supervisor", pw["demo.supervisor"])
    page.goto("/supervise")
    shot(page, "supervisor-approvals")
    page.goto("/supervise/team")
    shot(page, "supervisor-team")
    page.context.close()


def strategy_journey(browser: Browser, base: str, pw: dict[str, str], shot: Shooter) -> None:
    page = sign_in(browser, base, "demo.strategy", pw["demo.strategy"])
    page.goto("/strategies")
    shot(page, "strategy-list")
    page.goto("/strategies/edit")
    editor = page.locator("textarea[name=yaml_text]")
    original = editor.input_value()

    # An invalid rule: a column that does not exist.
    broken = original.replace(
        "credit_grade IN ('A', 'B') AND days_past_due <= 30",
        "credit_grade IN ('A', 'B') AND dpd <= 30",
        1,
    )
    assert broken != original, "the prime condition was not found in the active strategy"
    editor.fill(broken)
    page.click("#editor-form button[value=validate]")
    page.wait_for_load_state("networkidle")
    shot(page, "strategy-editor-errors")
    shot(page, "strategy-editor-inline-error", page.locator("#listing .finding.error"), pad=160)

    # A valid change, compared with the active version.
    changed = original.replace("version: 1\n", "version: 2\n", 1)
    changed = changed.replace(
        "tone: gentle, cadence_days: 5, queue: digital",
        "tone: gentle, cadence_days: 3, queue: digital",
    )
    changed = re.sub(
        r"change_note: >-\n(?:  .*\n)+",
        "change_note: Prime early reminders every 3 days instead of 5.\n",
        changed,
        count=1,
    )
    changed = changed.replace(
        "credit_grade IN ('A', 'B') AND days_past_due <= 30",
        "credit_grade IN ('A', 'B') AND days_past_due <= 20",
        1,
    )
    changed = changed.replace("effective_date: 2026-11-01", "effective_date: 2026-11-28", 1)
    page.locator("textarea[name=yaml_text]").fill(changed)
    page.click("#editor-form button[value=compare]")
    page.wait_for_load_state("networkidle")
    heading = page.locator("#editor-form section h2", has_text="v1").first
    shot(page, "strategy-compare", heading.locator("xpath=.."))
    page.context.close()


def compliance_journey(
    browser: Browser, base: str, pw: dict[str, str], shot: Shooter, spare_account: str
) -> None:
    page = sign_in(browser, base, "demo.compliance", pw["demo.compliance"])
    # Place a dispute hold through the form, so the list shows one placed in huancui.
    page.goto("/compliance/holds")
    form = page.locator("#place-hold form")
    form.locator("input[name=account_id]").fill(spare_account)
    form.locator("select[name=hold_type]").select_option("dispute")
    form.locator("textarea[name=reason]").fill(
        "Customer disputes the late fee of October; documents requested."
    )
    form.locator("button[type=submit]").click()
    saved(page, "the hold")
    page.goto("/compliance/holds")
    shot(page, "compliance-holds")
    page.goto("/compliance/suppressions")
    shot(page, "compliance-suppressions")
    # The verify button drops the search; both at once through the URL.
    page.goto("/compliance/audit?action=hold.*&verify=1")
    shot(page, "compliance-audit")
    page.context.close()


def latest_code(home: Path, since_lines: int) -> str:
    lines = (home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    for line in reversed(lines[since_lines:]):
        message = json.loads(line)
        if message.get("template") != "notice.portal.code":
            continue
        found = re.search(r"(?<!\d)(\d{6})(?!\d)", message.get("body") or "")
        if found:
            return found.group(1)
    raise SystemExit("no one-time code in outbox/messages.jsonl")


def customer_journey(browser: Browser, base: str, home: Path, shot: Shooter, seen: dict) -> None:
    context = browser.new_context(
        viewport=PHONE, locale="zh-CN", base_url=base, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto("/portal/login?lang=zh-CN")
    page.fill("input[name=phone]", seen["phone"])
    shot(page, "customer-sign-in")
    messages = home / "outbox" / "messages.jsonl"
    before = len(messages.read_text(encoding="utf-8").splitlines())
    page.click("form[action='/portal/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    code = latest_code(home, before)
    page.fill("input[name=code]", code)
    shot(page, "customer-code")
    page.click("form[action='/portal/login/code'] button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/?$"))
    shot(page, "customer-home")
    page.locator(f"article[data-account='{seen['account']}'] a.button").click()
    page.wait_for_url(re.compile(r"/portal/accounts/"))
    shot(page, "customer-account")
    page.goto(page.url.split("?")[0] + "/hardship")
    page.locator("select[name=reason_code]").select_option(index=1)
    page.fill("textarea[name=details]", "上个月住院两周，工资停发，预计下月复工。")
    page.fill("input[name=days]", "60")
    shot(page, "customer-hardship")
    page.goto("/portal/rate")
    page.locator("input[name=score][value='5']").check()
    shot(page, "customer-rating")
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "user-guide")
    parser.add_argument("--keep-home", action="store_true", help="keep the demo's HUANCUI_HOME")
    args = parser.parse_args()
    chromium = os.environ.get("HUANCUI_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        raise SystemExit(f"no chromium at {chromium} (set HUANCUI_CHROMIUM)")
    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("[0-9][0-9]-*.png"):
        old.unlink()
    work = Path(tempfile.mkdtemp(prefix="huancui-guide-"))
    home = work / "home"
    env = {
        **os.environ,
        "HUANCUI_HOME": str(home),
        "HUANCUI_PII_DEV_KEY": "1",
        "HUANCUI_OUTBOX_ADAPTER": "file",
    }
    for unwanted in ("HUANCUI_DATABASE_URL", "HUANCUI_JWT_SECRET", "HUANCUI_PII_KEYS"):
        env.pop(unwanted, None)
    shot = Shooter(args.out)
    try:
        build_demo(env, work)
        with served(env, work) as base, sync_playwright() as p:
            passwords = json.loads((home / "secrets" / "demo-users.json").read_text())
            browser = p.chromium.launch(executable_path=chromium)
            try:
                seen = collector_journey(browser, base, passwords, shot)
                log(f"collector worked {seen['account']}")
                second = second_collector_journey(browser, base, passwords, shot)
                log(f"second collector proposed a plan on {second}")
                supervisor_journey(browser, base, passwords, shot)
                strategy_journey(browser, base, passwords, shot)
                spare = spare_account(env, exclude={seen["account"], second})
                compliance_journey(browser, base, passwords, shot, spare)
                customer_journey(browser, base, home, shot, seen)
            finally:
                browser.close()
    finally:
        if args.keep_home:
            log(f"demo kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    log(f"{len(shot.written)} screenshots in {args.out} ({time.monotonic() - started:.0f} s)")


def spare_account(env: dict[str, str], exclude: set[str]) -> str:
    """An account of the day's queue that the journey did not touch (for the hold form)."""
    plan = sorted(Path(env["HUANCUI_HOME"], "runs").glob("*/run-*/plan.parquet"))[-1]
    import pyarrow.parquet as pq

    for account in pq.read_table(plan, columns=["account_id"]).column(0).to_pylist():
        if account not in exclude:
            return str(account)
    raise SystemExit("no spare account in the plan")


if __name__ == "__main__":
    main()
