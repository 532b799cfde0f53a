"""`huancui report` end to end: a generated book imported, the default strategy activated and run,
the HTML report written through the real CLI and read back with the standard library's parser.

No browser is installed in this environment's venv (playwright is added with the browser tests), so
the document is checked statically: one HTML document, plotly.js inlined exactly once, nothing
fetched from elsewhere, every figure wired to Plotly.newPlot, and the numbers equal to
`compute_kpis` for the same window.
"""

from __future__ import annotations

import ast
import fcntl
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs
from sqlalchemy import create_engine, text

from huancui.arrangements.tables import HardshipRow
from huancui.kit.database import unit_of_work
from huancui.kit.money import display_yuan
from huancui.kit.settings import Settings
from huancui.monitoring.experiments import Timing, peeking_rule
from huancui.monitoring.kpis import KPIS, KpiReport, compute_kpis
from huancui.monitoring.report import CARD_KPIS, EMPTY, LABELS, report_data
from tests.conftest import ROOT, Cli
from tests.offline_report import assert_charts_drawn_offline

AS_OF = date(2026, 11, 27)
START = date(2026, 8, 1)
STRATEGY = ROOT / "strategies" / "default.yaml"
EXPERIMENT = "prime_early_email"  # the default strategy's challenger


class Page(HTMLParser):
    """What the tests look at in a report: tags, external references, cards, headings, text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.external: list[str] = []  # src/href that would be fetched from elsewhere
        self.script_sources: list[str] = []
        self.cards: dict[str, str] = {}  # data-kpi → the value shown (headline cards)
        self.notes: dict[str, str] = {}  # data-kpi → its note
        self.h1 = ""
        self.lang = ""
        self.ids: list[str] = []
        self.text: list[str] = []  # text outside <script>
        self._stack: list[tuple[str, str]] = []  # open tags: (tag, class)
        self._card: tuple[str, int] | None = None  # (data-kpi, depth) of the open headline card
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if tag == "html":
            self.lang = a.get("lang", "")
        if "id" in a:
            self.ids.append(a["id"])
        for name in ("src", "href"):
            if a.get(name, "").startswith(("http://", "https://", "//")):
                self.external.append(f"<{tag} {name}={a[name]}>")
        if tag == "script":
            self._in_script = True
            if "src" in a:
                self.script_sources.append(a["src"])
        self._stack.append((tag, a.get("class", "")))
        if tag == "div" and a.get("id", "").startswith("kpi-"):
            self._card = (a["data-kpi"], len(self._stack))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        while self._stack and self._stack.pop()[0] != tag:
            pass  # void elements (meta) have no end tag
        if self._card and len(self._stack) < self._card[1]:
            self._card = None

    def handle_data(self, data: str) -> None:
        if self._in_script:
            return
        self.text.append(data)
        tag, cls = self._stack[-1] if self._stack else ("", "")
        if tag == "h1":
            self.h1 += data
        if self._card and cls in ("value", "note"):
            (self.cards if cls == "value" else self.notes)[self._card[0]] = data.strip()


@dataclass(frozen=True)
class World:
    settings: Settings
    cli: Cli
    zh: str  # the report written with the default --lang
    en: str
    data: dict[str, Any]  # report_data(…, lang="en") of the same window


def _ok(result: object) -> None:
    assert getattr(result, "exit_code", None) == 0, getattr(result, "output", result)


def cli_settings(root: Path) -> Settings:
    home = root / "home"
    return Settings(home=home, database_url=f"sqlite:///{home / 'case.db'}")


def _build(root: Path) -> None:
    cli_settings(root).home.mkdir(parents=True)
    cli = Cli(cli_settings(root))
    delivery = root / "delivery"
    _ok(cli("generate", "--accounts", "500", "--months", "10", "--seed", "13",
            "--as-of", AS_OF.isoformat(), "--out", str(delivery)))  # fmt: skip
    _ok(cli("import", str(delivery), "--as-of", AS_OF.isoformat()))
    _ok(cli("strategy", "activate", str(STRATEGY)))
    _ok(cli("run", "--as-of", AS_OF.isoformat()))
    window = ("--from", START.isoformat(), "--to", AS_OF.isoformat())
    _ok(cli("report", *window, "--out", str(root / "report.html")))
    _ok(cli("report", *window, "--out", str(root / "report-en.html"), "--lang", "en"))
    data = report_data(cli_settings(root), START, AS_OF, lang="en")
    (root / "report-data.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> World:
    """Built once per session and shared by the xdist workers, which only read it."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    root = shared / "report-world"
    with (shared / "report-world.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (root / "built").exists():
            shutil.rmtree(root, ignore_errors=True)
            _build(root)
            (root / "built").touch()
    settings = cli_settings(root)
    return World(
        settings=settings,
        cli=Cli(settings),
        zh=(root / "report.html").read_text(encoding="utf-8"),
        en=(root / "report-en.html").read_text(encoding="utf-8"),
        data=json.loads((root / "report-data.json").read_text(encoding="utf-8")),
    )


@pytest.fixture(scope="module")
def kpis(world: World) -> KpiReport:
    return compute_kpis(world.settings, START, AS_OF)


def rate(value: Decimal | int | None) -> str:
    assert isinstance(value, Decimal), value
    return f"{value * 100:.2f}%"


# --- the document ---------------------------------------------------------------------------


def test_report_is_one_html_document_that_needs_nothing_from_elsewhere(world: World) -> None:
    for html in (world.zh, world.en):
        assert html.startswith("<!DOCTYPE html>")
        page = Page(html)
        assert page.tags.count("html") == page.tags.count("head") == page.tags.count("body") == 1
        assert page.script_sources == [] and page.external == []
        assert "link" not in page.tags and "img" not in page.tags and "@import" not in html
        # plotly.js is inlined exactly once, and each figure is drawn by it
        assert html.count(get_plotlyjs()) == 1
        graphs = html.count('class="plotly-graph-div"')
        assert graphs == 4  # delinquency, recovery and cure, roll rates, funnel
        assert html.count("Plotly.newPlot(") == graphs
        assert len(page.ids) == len(set(page.ids)), "element ids must be unique"
        assert "NaN" not in "".join(page.text)


def test_cards_show_the_numbers_of_compute_kpis_for_the_same_window(
    world: World, kpis: KpiReport
) -> None:
    page = Page(world.zh)
    assert set(page.cards) == set(CARD_KPIS)
    for key in ("recovery_rate", "cure_rate", "csat", "contact_rate", "hardship_uptake"):
        assert page.cards[key] == rate(kpis.kpis[key].value()), key
    for key in ("collected", "contact_cost", "net_recovery"):
        value = kpis.kpis[key].value()
        assert isinstance(value, int)
        assert page.cards[key] == display_yuan(value), key
    complaints = kpis.kpis["complaints_per_1000_accounts"].value()
    assert page.cards["complaints_per_1000_accounts"] == f"{complaints:.2f}"
    # the same figures in English; thousands separators where money is large enough to need one
    assert Page(world.en).cards == page.cards
    assert "," in page.cards["collected"]


def test_the_data_behind_the_report_is_json_and_its_figures_are_valid_plotly(
    world: World, kpis: KpiReport
) -> None:
    data = world.data  # went through json.dumps: a web page can be served it as is
    for card in data["cards"]:
        assert card["raw"] == kpis.kpis[card["key"]].value_text(kpis.kpis[card["key"]].value())
    for name, figure in data["figures"].items():
        assert figure is not None, name
        go.Figure(figure)  # raises on anything plotly does not know
    funnel = [stage["count"] for stage in data["funnel"]]
    assert funnel == sorted(funnel, reverse=True) and funnel[0] > 0
    assert data["window"]["data_through"] == AS_OF.isoformat()
    assert data["sources"]["runs"][0]["as_of"] == AS_OF.isoformat()


def test_labels_follow_lang(world: World) -> None:
    zh, en = Page(world.zh), Page(world.en)
    assert (zh.lang, zh.h1) == ("zh-CN", "催收报告")
    assert (en.lang, en.h1) == ("en", "Collections report")
    for label in ("回收率", "治愈率", "迁徙率", "联系漏斗", "缓催使用率", "数据来源"):
        assert label in world.zh
    for label in ("Recovery rate", "Cure rate", "Roll rates", "Contact funnel", "Sources"):
        assert label in world.en
        assert label not in "".join(zh.text)


def test_every_label_exists_in_both_languages() -> None:
    assert set(LABELS["en"]) == set(LABELS["zh-CN"])
    for spec in KPIS:
        for lang in LABELS.values():
            assert lang[f"kpi.{spec.key}"] and lang[f"formula.{spec.key}"]


def test_report_states_its_sources_and_that_figures_are_computed(world: World) -> None:
    engine = create_engine(world.settings.resolved_database_url)
    with engine.connect() as conn:
        run_id = conn.execute(text("SELECT run_id FROM plan_runs WHERE is_current")).scalar_one()
    engine.dispose()
    page = "".join(Page(world.en).text)
    assert "none was typed in" in page and "没有任何手工录入的数字" in world.zh
    assert f'<td>{run_id}</td><td>{AS_OF}</td><td class="text">default v1</td>' in world.en
    assert f"<td>{AS_OF}</td><td>500</td>" in world.en  # the history snapshot and its accounts
    assert f"huancui kpi --from {START} --to {AS_OF} --json" in page


def test_experiments_show_arms_recommendation_and_peeking_rule(world: World) -> None:
    engine = create_engine(world.settings.resolved_database_url)
    with engine.connect() as conn:
        started = conn.execute(
            text("SELECT min(first_as_of) FROM experiment_assignments WHERE experiment = :e"),
            {"e": EXPERIMENT},
        ).scalar_one()
    engine.dispose()
    assert started is not None, "the generated book must put accounts into the experiment"
    timing = Timing(started_on=date.fromisoformat(str(started)), horizon_days=30, as_of=AS_OF)
    assert f'data-experiment="{EXPERIMENT}"' in world.en
    assert peeking_rule(timing, "en").split(" on ")[0] in world.en
    assert peeking_rule(timing, "zh-CN")[:20] in world.zh
    # assigned on the report's last day: the horizon lies ahead, so the verdict is "run longer"
    assert "Run longer" in world.en and "interim" in world.en


# --- an almost empty book -------------------------------------------------------------------


def _application(account: str, status: str, applied_at: datetime) -> HardshipRow:
    return HardshipRow(
        account_id=account, customer_id="C", reason_code="illness", details="test",
        requested_start=AS_OF, requested_days=30, status=status, applied_via="cli",
        applied_by="test", applied_at=applied_at, interest_accrues=True, updated_at=applied_at,
    )  # fmt: skip


def test_a_book_without_feedback_or_experiments_shows_dashes_with_notes(
    cli: Cli, settings: Settings, delivery: Path, tmp_path: Path
) -> None:
    """The small example: no feedback file (CSAT is 0 ÷ 0) and no account in an experiment;
    three 缓催 applications, two of them made in the window's Beijing days."""
    _ok(cli("import", str(delivery), "--as-of", AS_OF.isoformat()))
    _ok(cli("strategy", "activate", str(STRATEGY)))
    _ok(cli("run", "--as-of", AS_OF.isoformat()))
    with unit_of_work(settings.resolved_database_url) as session:
        # 1 November 01:00 and 5 November 01:00 in Beijing; 31 October 23:00 is before the window
        session.add(_application("A0001", "rejected", datetime(2026, 10, 31, 17, tzinfo=UTC)))
        session.add(_application("A0002", "approved", datetime(2026, 11, 4, 17, tzinfo=UTC)))
        session.add(_application("A0002", "withdrawn", datetime(2026, 10, 31, 15, tzinfo=UTC)))
    out = tmp_path / "small.html"
    result = cli("report", "--from", "2026-11-01", "--to", AS_OF.isoformat(), "--out", str(out),
                 "--lang", "en")  # fmt: skip
    _ok(result)
    assert str(out) in result.output
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    assert page.cards["csat"] == EMPTY
    assert page.notes["csat"] == LABELS["en"]["empty_note"]
    assert "NaN" not in "".join(page.text) and "None" not in "".join(page.text)
    assert "no-experiments" in page.ids
    assert html.count(get_plotlyjs()) == 1
    assert "<tr><td>approved</td><td>1</td></tr><tr><td>rejected</td><td>1</td></tr>" in html
    assert "withdrawn" not in html


# --- bad options ----------------------------------------------------------------------------


def test_out_in_a_missing_folder_exits_2_naming_the_option(sqlite_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "report.html"
    result = sqlite_cli("report", "--from", "2026-11-01", "--to", "2026-11-27", "--out", str(out))
    assert result.exit_code == 2
    assert "--out" in result.output and "does not exist" in result.output
    assert not out.parent.exists()


def test_out_naming_a_folder_exits_2(sqlite_cli: Cli, tmp_path: Path) -> None:
    result = sqlite_cli(
        "report", "--from", "2026-11-01", "--to", "2026-11-27", "--out", str(tmp_path)
    )
    assert result.exit_code == 2 and "--out" in result.output


def test_to_before_from_exits_2_naming_the_option(sqlite_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = sqlite_cli("report", "--from", "2026-11-27", "--to", "2026-11-01", "--out", str(out))
    assert result.exit_code == 2
    assert "--to" in result.output and "before --from" in result.output
    assert not out.exists()


def test_bad_date_or_language_exits_2_naming_the_option(sqlite_cli: Cli, tmp_path: Path) -> None:
    out = str(tmp_path / "r.html")
    result = sqlite_cli("report", "--from", "2026-13-01", "--to", "2026-11-27", "--out", out)
    assert result.exit_code == 2 and "--from" in result.output
    result = sqlite_cli("report", "--from", "2026-11-01", "--to", "2026-11-27", "--out", out,
                 "--lang", "fr")  # fmt: skip
    assert result.exit_code == 2 and "--lang" in result.output


def test_starting_huancui_does_not_load_plotly_or_jinja2() -> None:
    """Every command imports huancui.cli, which mounts report_cli: the report module (plotly,
    Jinja2) must be imported inside the command only."""
    tree = ast.parse((ROOT / "src" / "huancui" / "monitoring" / "report_cli.py").read_text())
    top_level = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    top_level |= {n.module or "" for n in tree.body if isinstance(n, ast.ImportFrom)}
    assert not {m for m in top_level if m.split(".")[0] in ("plotly", "jinja2", "markupsafe")}
    assert "huancui.monitoring.report" not in top_level


# --- in a real browser ----------------------------------------------------------------------


@pytest.mark.browser
def test_the_report_draws_every_chart_in_a_browser_without_a_network(
    world: World, tmp_path: Path
) -> None:
    figures = world.zh.count("Plotly.newPlot(")
    assert figures >= 4
    assert_charts_drawn_offline(world.zh, tmp_path, charts=figures)
