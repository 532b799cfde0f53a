"""A small collections book for arrangement tests: a delivery written here (four customers, five
accounts) imported through the real importer, the default strategy active and staff with roles.

    P1  prime     credit card      grade A, 17 days past due, arrears 1,150.00
    P2  prime     instalment loan  grade B, 22 days past due, arrears 1,100.00
    S1  standard  credit card      grade C, 26 days past due, arrears 750.00
    H1  high_risk credit card      grade E, 22 days past due, arrears 1,775.00
    Z1  prime     credit card      grade A, nothing overdue (customer of P1)

Tests do not take these ids on trust: `Book.account` picks an account by querying the snapshot's
Parquet file and the active strategy (strategy.explain.segment_of), as a collector would.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import typer.main
import typer.testing
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from typer.testing import Result

from huancui.access.users import add_user
from huancui.arrangements.monitor import MonitorReport, monitor
from huancui.arrangements.policy import ArrangementPolicy, load_arrangement_policy
from huancui.kit.database import make_engine, unit_of_work
from huancui.kit.settings import Settings
from huancui.portfolio.snapshot_store import snapshot_dir
from huancui.strategy.explain import segment_of
from huancui.strategy.loader import load_strategy
from tests.conftest import POSTGRES_ENV, ROOT, Cli

AS_OF = date(2026, 11, 27)
DEFAULT_STRATEGY = ROOT / "strategies" / "default.yaml"

# Staff of the authority matrix (policies/default.yaml): two collectors, a supervisor, a manager
# and an analyst (a role that approves nothing).
COLLECTOR = "li.collector"
COLLECTOR_2 = "chen.collector"
SUPERVISOR = "wang.supervisor"
MANAGER = "zhao.manager"
ANALYST = "sun.analyst"
STAFF = {
    COLLECTOR: "collector",
    COLLECTOR_2: "collector",
    SUPERVISOR: "supervisor",
    MANAGER: "manager",
    ANALYST: "analyst",
}

_ACCOUNTS = [
    # account, customer, product, name, open, limit, loan, term, rate, principal, interest, fees
    ("P1", "C1", "credit_card", "白金信用卡", "2022-01-10", "50000.00", "", "", "0.1825",
     "12000.00", "300.00", "50.00"),
    ("P2", "C2", "instalment_loan", "消费分期贷", "2026-01-05", "", "24000.00", "24", "0.1800",
     "20000.00", "300.00", "0.00"),
    ("S1", "C3", "credit_card", "标准信用卡", "2021-05-01", "20000.00", "", "", "0.1825",
     "8000.00", "240.00", "60.00"),
    ("H1", "C4", "credit_card", "标准信用卡", "2020-05-01", "20000.00", "", "", "0.1825",
     "15000.00", "450.00", "100.00"),
    ("Z1", "C1", "credit_card", "标准信用卡", "2023-03-01", "10000.00", "", "", "0.1825",
     "0.00", "0.00", "0.00"),
]  # fmt: skip
_CUSTOMERS = [
    # customer, name, grade, monthly income, employment
    ("C1", "测试甲", "A", "18000.00", "employed"),
    ("C2", "测试乙", "B", "12000.00", "employed"),
    ("C3", "测试丙", "C", "9000.00", "self_employed"),
    ("C4", "测试丁", "E", "4000.00", "unemployed"),
]
_DUES = [
    ("P1", "1", "2026-10-20", "2026-11-10", "1000.00", "150.00", "0.00", "12000.00"),
    ("P2", "1", "", "2026-11-05", "800.00", "300.00", "0.00", ""),
    ("S1", "1", "2026-10-10", "2026-11-01", "600.00", "120.00", "30.00", "8000.00"),
    ("H1", "1", "2026-10-15", "2026-11-05", "1500.00", "225.00", "50.00", "15000.00"),
]
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@functools.cache
def _command(app: typer.Typer) -> Any:
    return typer.main.get_command(app)


@contextmanager
def built_once() -> Iterator[None]:
    """Typer rebuilds the app's whole click command tree, evaluating every annotation of every
    command, on each CliRunner.invoke (about 0.4 s). Build it once per worker: the commands
    parse and run exactly as before."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", _command)
        yield


@pytest.fixture
def cli_built_once() -> Iterator[None]:
    with built_once():
        yield


def national_id(body: str) -> str:
    """A resident ID number with its GB 11643 check character."""
    remainder = sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11
    return body + "10X98765432"[remainder]


def _write(path: Path, header: str, rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header.split(","))
        writer.writerows(rows)


def write_delivery(folder: Path, payments: Sequence[tuple[str, str, date, str]] = ()) -> Path:
    """The book's delivery; `payments`: (payment_id, account_id, paid_date, amount in yuan)."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(
        folder / "customers.csv",
        "customer_id,name,national_id,phone,email,birth_date,province,city,timezone,"
        "credit_grade,monthly_income,employment_status,preferred_language,consent_sms,"
        "consent_email,consent_call",
        [
            (cid, name, national_id(f"11010119900307{n:03d}"), f"138000000{n:02d}",
             f"{cid.lower()}@example.com", "1990-03-07", "BJ", "北京市", "Asia/Shanghai", grade,
             income, job, "zh-CN", "true", "true", "true")
            for n, (cid, name, grade, income, job) in enumerate(_CUSTOMERS, start=1)
        ],
    )  # fmt: skip
    _write(
        folder / "accounts.csv",
        "account_id,customer_id,product,product_name,open_date,currency,credit_limit,"
        "loan_amount,term_months,annual_rate,outstanding_principal,outstanding_interest,"
        "outstanding_fees,status,branch,guarantor_customer_id",
        [(*a[:5], "CNY", *a[5:], "open", "BJ001", "") for a in _ACCOUNTS],
    )
    _write(
        folder / "dues.csv",
        "account_id,period_no,statement_date,due_date,principal_due,interest_due,fee_due,"
        "statement_balance",
        _DUES,
    )
    _write(
        folder / "payments.csv",
        "payment_id,account_id,paid_date,amount,channel",
        [(pid, account, day.isoformat(), amount, "app") for pid, account, day, amount in payments],
    )
    _write(
        folder / "contacts.csv",
        "contact_id,account_id,contacted_at,channel,connected,right_party,outcome,agent_id",
        [],
    )
    _write(
        folder / "holds.csv", "hold_id,account_id,hold_type,channel,start_date,end_date,reason", []
    )
    return folder


def _query(sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of a DuckDB query over Parquet files."""
    con = duckdb.connect()
    try:
        return [tuple(r) for r in con.execute(sql, params or {}).fetchall()]
    finally:
        con.close()


def plan_rows(plan_path: str, account_id: str) -> list[tuple[str, str, str | None]]:
    """(channel, status, suppressed_by) of the account's rows in a plan file."""
    return [
        (str(c), str(s), b)
        for c, s, b in _query(
            "SELECT channel, status, suppressed_by FROM read_parquet($path)"
            " WHERE account_id = $account ORDER BY channel",
            {"path": plan_path, "account": account_id},
        )
    ]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def _pick(accounts_file: Path, segment: str, product: str, overdue: bool) -> str:
    # Every test's snapshot is a copy of the same file: pick once per worker.
    key = (hashlib.sha256(accounts_file.read_bytes()).hexdigest(), segment, product, overdue)
    if key not in _PICKED:
        _PICKED[key] = _first_in_segment(accounts_file, segment, product, overdue)
    return _PICKED[key]


_PICKED: dict[tuple[str, str, str, bool], str] = {}


def _first_in_segment(accounts_file: Path, segment: str, product: str, overdue: bool) -> str:
    """Query the snapshot, and segment its accounts by the default strategy, as a collector's
    screen would."""
    source = str(accounts_file).replace("'", "''")
    candidates = _query(
        f"SELECT account_id FROM read_parquet('{source}') WHERE product = '{product}'"
        f" AND (arrears_fen > 0) = {str(overdue).upper()} AND NOT charged_off"
        " ORDER BY account_id"
    )
    strategy = load_strategy(DEFAULT_STRATEGY).strategy
    assert strategy is not None
    for (account_id,) in candidates:
        if segment_of(accounts_file, strategy, account_id) == segment:
            return str(account_id)
    raise AssertionError(f"the book has no {segment} {product} account (overdue={overdue})")


@dataclass
class Book:
    """The imported book: its CLI, settings and ways to look at the case plane."""

    cli: Cli
    settings: Settings
    folder: Path

    @property
    def url(self) -> str:
        return self.settings.resolved_database_url

    @property
    def policy(self) -> ArrangementPolicy:
        return load_arrangement_policy().policy

    @contextmanager
    def session(self) -> Iterator[Session]:
        with unit_of_work(self.url) as session:
            yield session

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with make_engine(self.url).connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params).all()]

    def count(self, table: str) -> int:
        return int(self.rows(f"SELECT count(*) FROM {table}")[0][0])

    def counts(self) -> dict[str, int]:
        """Rows of every table an arrangement or a pause writes to."""
        tables = (
            "arrangements",
            "arrangement_lines",
            "payment_allocations",
            "hardship_applications",
            "hardship_evidence",
            "case_holds",
            "audit_events",
        )
        return {t: self.count(t) for t in tables}

    def accounts_file(self, as_of: date = AS_OF) -> Path:
        return snapshot_dir(self.settings.snapshots_dir, as_of) / "accounts.parquet"

    def account(self, segment: str, product: str = "credit_card", *, overdue: bool = True) -> str:
        """The first account of the snapshot in `segment` with `product` (overdue or not)."""
        return _pick(self.accounts_file(), segment, product, overdue)

    def snapshot_value(self, account_id: str, column: str, as_of: date = AS_OF) -> Any:
        source = str(self.accounts_file(as_of)).replace("'", "''")
        (found,) = _query(
            f"SELECT {column} FROM read_parquet('{source}') WHERE account_id = '{account_id}'"
        )
        return found[0]

    def reimport(self, as_of: date, payments: Sequence[tuple[str, str, date, str]] = ()) -> None:
        """A later delivery: the same book, with these payments made since."""
        folder = write_delivery(self.folder.parent / f"delivery-{as_of}", payments)
        ok(self.cli("import", str(folder), "--as-of", as_of.isoformat(), "--actor", "etl"))

    def monitor(self, as_of: date, *, payments_of: date | None = None) -> MonitorReport:
        """The nightly monitoring of `as_of`, committed, against the payments of its snapshot
        (none when no snapshot of that day was imported) or of a later one: monitoring counts
        only payments made by `as_of`."""
        folder = snapshot_dir(self.settings.snapshots_dir, payments_of or as_of)
        payments = folder / "payments.parquet"
        with self.session() as session:
            return monitor(
                session, self.policy, as_of=as_of, payments_file=payments, actor="night-batch"
            )

    def propose(self, account_id: str, *args: str, actor: str = COLLECTOR) -> Result:
        return self.cli(
            "arrangement", "propose", account_id, "--as-of", AS_OF.isoformat(),
            "--actor", actor, "--json", *args,
        )  # fmt: skip

    def propose_ok(self, account_id: str, *args: str, actor: str = COLLECTOR) -> dict[str, Any]:
        data: dict[str, Any] = as_json(self.propose(account_id, *args, actor=actor))
        return data

    def holds(self, account_id: str) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = as_json(
            self.cli("hold", "list", "--account", account_id, "--json")
        )
        return data


def day(offset: int) -> date:
    """AS_OF + offset days."""
    return AS_OF + timedelta(days=offset)


def _build(settings: Settings, folder: Path) -> None:
    """Import the book for AS_OF, activate the default strategy and add the staff."""
    cli = Cli(settings)
    write_delivery(folder)
    with built_once():
        ok(cli("import", str(folder), "--as-of", AS_OF.isoformat(), "--actor", "etl"))
        ok(cli("strategy", "activate", str(DEFAULT_STRATEGY), "--actor", "strategy.owner"))
    with unit_of_work(settings.resolved_database_url) as session:
        for username, role in STAFF.items():
            add_user(session, username=username, display_name="", role=role, actor="admin")
    make_engine(settings.resolved_database_url).dispose()


def _admin(url: str, *statements: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


class _Templates:
    """The book built once per test worker and database kind, copied into each test's database
    (SQLite: the backup API; PostgreSQL: CREATE DATABASE ... TEMPLATE) and home."""

    def __init__(self, root: Path, worker: str) -> None:
        self.root = root
        self.worker = worker
        self.built: dict[str, Settings] = {}

    def template(self, kind: str) -> Settings:
        if kind not in self.built:
            home = self.root / kind / "home"
            home.mkdir(parents=True)
            if kind == "sqlite":
                url = f"sqlite:///{self.root / kind / 'case.db'}"
            else:
                admin = os.environ[POSTGRES_ENV]
                name = f"huancui_book_template_{self.worker}_{os.getpid()}"
                _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                       f'CREATE DATABASE "{name}"')  # fmt: skip
                url = make_url(admin).set(database=name).render_as_string(hide_password=False)
            settings = Settings(home=home, database_url=url)
            _build(settings, self.root / kind / "delivery")
            self.built[kind] = settings
        return self.built[kind]

    def copy(self, kind: str, *, database_url: str, home: Path) -> Settings:
        template = self.template(kind)
        shutil.copytree(template.home, home, dirs_exist_ok=True)
        if kind == "sqlite":
            target = Path(database_url.removeprefix("sqlite:///"))
            source = template.resolved_database_url.removeprefix("sqlite:///")
            with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
                src.backup(dst)
            return Settings(home=home, database_url=database_url)
        admin = os.environ[POSTGRES_ENV]
        template_name = make_url(template.resolved_database_url).database
        name = f"huancui_book_{self.worker}_{os.getpid()}"
        _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
               f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')  # fmt: skip
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        return Settings(home=home, database_url=url)

    def drop(self) -> None:
        """Remove this session's PostgreSQL databases (SQLite files go with the temp folder)."""
        if "postgres" not in self.built:
            return
        admin = os.environ[POSTGRES_ENV]
        template = make_url(self.built["postgres"].resolved_database_url).database
        _admin(admin, f'DROP DATABASE IF EXISTS "huancui_book_{self.worker}_{os.getpid()}"'
               " WITH (FORCE)", f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')  # fmt: skip


@pytest.fixture(scope="session")
def _book_templates(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[_Templates]:
    templates = _Templates(tmp_path_factory.mktemp("book-templates"), worker_id)
    yield templates
    templates.drop()


@pytest.fixture
def book(
    _book_templates: _Templates,
    database_url: str,
    home: Path,
    tmp_path: Path,
    cli_built_once: None,
) -> Iterator[Book]:
    """The book imported for AS_OF, the default strategy active and the staff added, in this
    test's own database (SQLite or PostgreSQL) and home."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgres"
    settings = _book_templates.copy(kind, database_url=database_url, home=home)
    yield Book(Cli(settings), settings, tmp_path / "delivery")
    make_engine(settings.resolved_database_url).dispose()  # no idle connection outlives the test
