"""Fixtures for the outbox: a case plane with a run, customers, snapshots and outbox rows made
directly with the ORM, adapters that record or fail, and the `huancui outbox` CLI."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select
from typer.testing import CliRunner, Result

from huancui.access.crypto import FieldCipher, new_key
from huancui.access.pii import stored_fields
from huancui.access.tables import AuditEventRow
from huancui.cli import app
from huancui.contact.channels import ChannelError, OutgoingMessage, SendResult
from huancui.contact.cli import outbox_app
from huancui.contact.tables import OutboxRow
from huancui.kit.database import migrate, unit_of_work
from huancui.kit.settings import Settings, get_settings
from huancui.portfolio.tables import AccountRow, AccountSnapshotRow, CustomerRow, SnapshotRow
from huancui.strategy.tables import PlanRunRow, StrategyVersionRow
from tests.conftest import Cli

AS_OF = date(2026, 11, 28)
CONTACT_DAY = date(2026, 11, 29)
CST = timezone(timedelta(hours=8))
# The contact day's SMS window in Beijing time, and instants inside, before and after it.
WINDOW = ("2026-11-29T09:00:00+08:00", "2026-11-29T20:00:00+08:00")
BEFORE = datetime(2026, 11, 29, 8, 59, tzinfo=CST)
INSIDE = datetime(2026, 11, 29, 10, 30, tzinfo=CST)
AFTER = datetime(2026, 11, 29, 20, 0, tzinfo=CST)

NAME, PHONE, EMAIL = "王小明", "13812345678", "wang.xiaoming@example.com"


class World:
    """A case plane with one plan run of AS_OF and a snapshot of AS_OF; add customers (each
    with one overdue account) and outbox messages."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.customers: set[str] = set()
        now = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
        with unit_of_work(url) as session:
            version = StrategyVersionRow(
                name="default",
                version=1,
                owner="test",
                effective_date=AS_OF,
                change_note="test",
                yaml_text="name: default",
                sha256="0" * 64,
                activated_at=now,
                activated_by="test",
                is_active=True,
            )
            session.add(version)
            session.flush()
            run = PlanRunRow(
                run_key="test-run",
                as_of=AS_OF,
                planned_date=CONTACT_DAY,
                strategy_version_id=version.strategy_version_id,
                strategy_label="default v1",
                policy_name="cn",
                policy_version=1,
                policy_sha256="0" * 64,
                model_versions={},
                snapshot_sha256="0" * 64,
                engine="duckdb",
                plan_path="plans/test",
                plan_sha256="0" * 64,
                rows_planned=0,
                rows_suppressed=0,
                summary={},
                is_current=True,
                started_at=now,
                finished_at=now,
                actor="test",
            )
            snapshot = SnapshotRow(
                as_of=AS_OF,
                imported_at=now,
                imported_by="test",
                note=None,
                source="test",
                files={},
                policy={},
                accounts=0,
                rejected_rows=0,
            )
            session.add_all([run, snapshot])
            session.flush()
            self.run_id = run.run_id
            self.snapshot_id = snapshot.snapshot_id

    def customer(
        self,
        customer_id: str = "C1",
        *,
        name: str = NAME,
        phone: str = PHONE,
        email: str | None = EMAIL,
        language: str = "zh-CN",
        consent_sms: bool = True,
        consent_email: bool = True,
        arrears_fen: int = 115050,
        days_past_due: int = 12,
        snapshot: bool = True,
    ) -> str:
        """A customer with account A-<id>, overdue in the AS_OF snapshot; returns the account."""
        account_id = f"A-{customer_id}"
        self.customers.add(customer_id)
        with unit_of_work(self.url) as session:
            session.add(
                CustomerRow(
                    customer_id=customer_id,
                    **stored_fields(
                        FieldCipher.from_settings(get_settings()),
                        name=name,
                        national_id="110101199003071234",
                        phone=phone,
                        email=email,
                    ),
                    province="11",
                    city=None,
                    timezone="Asia/Shanghai",
                    credit_grade="B",
                    monthly_income_fen=None,
                    employment_status=None,
                    preferred_language=language,
                    consent_sms=consent_sms,
                    consent_email=consent_email,
                    consent_call=True,
                    first_seen_on=AS_OF,
                    last_seen_on=AS_OF,
                )
            )
            session.flush()
            session.add(
                AccountRow(
                    account_id=account_id,
                    customer_id=customer_id,
                    product="card",
                    product_name=None,
                    open_date=date(2024, 1, 1),
                    currency="CNY",
                    credit_limit_fen=5_000_000,
                    loan_amount_fen=None,
                    term_months=None,
                    annual_rate_ppm=180_000,
                    status="active",
                    branch=None,
                    guarantor_customer_id=None,
                    first_seen_on=AS_OF,
                    last_seen_on=AS_OF,
                )
            )
            session.flush()
            if snapshot:
                session.add(
                    self._account_snapshot(account_id, customer_id, arrears_fen, days_past_due)
                )
        return account_id

    def _account_snapshot(
        self, account_id: str, customer_id: str, arrears_fen: int, days_past_due: int
    ) -> AccountSnapshotRow:
        return AccountSnapshotRow(
            snapshot_id=self.snapshot_id,
            account_id=account_id,
            customer_id=customer_id,
            product="card",
            status="active",
            credit_grade="B",
            province="11",
            principal_fen=arrears_fen,
            interest_fen=0,
            fees_fen=0,
            balance_fen=arrears_fen,
            arrears_fen=arrears_fen,
            arrears_principal_fen=arrears_fen,
            arrears_interest_fen=0,
            arrears_fee_fen=0,
            missed_dues=1 if arrears_fen else 0,
            days_past_due=days_past_due,
            bucket="M1" if arrears_fen else "current",
            oldest_unpaid_due_date=None,
            delinquent_since=None,
            cycles_delinquent=1,
            last_payment_date=None,
            paid_30d_fen=0,
            charged_off=False,
            charge_off_date=None,
        )

    def later_snapshot(
        self, as_of: date, account_id: str, customer_id: str, arrears_fen: int
    ) -> None:
        """A newer delivery in which the account's arrears are `arrears_fen`."""
        with unit_of_work(self.url) as session:
            snapshot = SnapshotRow(
                as_of=as_of,
                imported_at=datetime.now(UTC),
                imported_by="test",
                note=None,
                source="test",
                files={},
                policy={},
                accounts=1,
                rejected_rows=0,
            )
            session.add(snapshot)
            session.flush()
            row = self._account_snapshot(account_id, customer_id, arrears_fen, 0)
            row.snapshot_id = snapshot.snapshot_id
            session.add(row)

    def message(
        self,
        customer_id: str = "C1",
        *,
        channel: str = "sms",
        template: str = "sms.reminder.friendly",
        tone: str = "gentle",
        window: tuple[str, str] = WINDOW,
        status: str = "pending",
        key: str | None = None,
    ) -> str:
        """An outbox row; returns its idempotency key."""
        key = key or uuid.uuid4().hex
        with unit_of_work(self.url) as session:
            session.add(
                OutboxRow(
                    idempotency_key=key,
                    run_id=self.run_id,
                    as_of=AS_OF,
                    contact_date=CONTACT_DAY,
                    account_id=f"A-{customer_id}",
                    customer_id=customer_id,
                    channel=channel,
                    template=template,
                    tone=tone,
                    experiment=None,
                    arm=None,
                    window_start=window[0],
                    window_end=window[1],
                    status=status,
                    status_reason=None,
                    attempts=0,
                    adapter=None,
                    provider_ref=None,
                    created_at=datetime(2026, 11, 28, 21, 0, tzinfo=UTC),
                    sent_at=None,
                )
            )
        return key

    def rows(self) -> dict[str, OutboxRow]:
        with unit_of_work(self.url) as session:
            return {r.idempotency_key: r for r in session.scalars(select(OutboxRow))}

    def statuses(self) -> dict[str, str]:
        return {k: r.status for k, r in self.rows().items()}

    def audit(self) -> list[AuditEventRow]:
        with unit_of_work(self.url) as session:
            query = select(AuditEventRow).order_by(AuditEventRow.event_id)
            return list(session.scalars(query))

    def clear_messages(self) -> None:
        with unit_of_work(self.url) as session:
            session.execute(delete(OutboxRow))


class Recorder:
    """An adapter that keeps what it is given; fails (ChannelError or `error`) for some keys."""

    name = "recorder"
    channels = frozenset({"sms", "email"})

    def __init__(
        self,
        *,
        fail: Iterable[str] = (),
        error: Exception | None = None,
        on_send: Callable[[OutgoingMessage], None] | None = None,
    ) -> None:
        self.sent: list[OutgoingMessage] = []
        self.fail = set(fail)
        self.error = error
        self.on_send = on_send
        self.closed = 0

    def send(self, message: OutgoingMessage) -> SendResult:
        if self.on_send is not None:
            self.on_send(message)
        if message.idempotency_key in self.fail:
            raise self.error or ChannelError("the gateway is down")
        self.sent.append(message)
        return SendResult(f"rec-{len(self.sent)}")

    def close(self) -> None:
        self.closed += 1

    @property
    def keys(self) -> list[str]:
        return [m.idempotency_key for m in self.sent]


@pytest.fixture
def url(settings: Settings) -> str:
    url = settings.resolved_database_url
    migrate(url)
    return url


@pytest.fixture
def world(url: str, monkeypatch: pytest.MonkeyPatch) -> World:
    # One key for the customers written here and for every dispatch, direct or through the CLI.
    monkeypatch.setenv("HUANCUI_PII_KEYS", new_key())
    return World(url)


def _mounted() -> bool:
    return any(group.name == "outbox" for group in app.registered_groups)


@pytest.fixture
def outbox_cli(cli: Cli, url: str) -> Callable[..., Result]:
    """`huancui outbox …` through the main app once it mounts the sub-app, directly until then."""

    def run(*args: str) -> Result:
        if _mounted():
            return cli("outbox", *args)
        return CliRunner().invoke(outbox_app, list(args), env=cli.env, catch_exceptions=False)

    return run
