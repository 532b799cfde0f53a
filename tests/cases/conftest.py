"""Casework fixtures: the arrangements' small book (tests/arrangements/conftest.py) after its
nightly run, so the case plane holds the day's calls (AS_OF + 1 is their contact day).

    H1  phone_high_risk  call, priority ~3077 (and a letter)
    P2  phone_prime      call, priority ~1907
    P1  phone_prime      call, priority ~1802
    S1  phone_standard   call, priority  1400
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access.users import add_user
from huancui.contact.tables import WorkItemRow
from tests.arrangements.conftest import (  # noqa: F401  (fixtures)
    AS_OF,
    COLLECTOR,
    COLLECTOR_2,
    SUPERVISOR,
    Book,
    _book_templates,
    as_json,
    book,
    cli_built_once,
)

DAY = AS_OF + timedelta(days=1)  # the contact day of the run's work items
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime.combine(DAY, time(10, 0), tzinfo=SHANGHAI).astimezone(UTC)
BY_PRIORITY = ["H1", "P2", "P1", "S1"]


@pytest.fixture
def worked(book: Book) -> Book:
    """The book after the nightly run of AS_OF."""
    as_json(book.cli("run", "--as-of", AS_OF.isoformat(), "--actor", "night-batch", "--json"))
    return book


def add_cases(session: Session, count: int, *, prefix: str = "Q") -> list[str]:
    """`count` more calls on DAY for accounts of their own, with falling priorities below the
    book's (copies of a run's work item: the run, template and window are real)."""
    model = session.scalars(select(WorkItemRow).where(WorkItemRow.channel == "call")).first()
    assert model is not None
    columns = {c.key: getattr(model, c.key) for c in WorkItemRow.__table__.columns}
    ids = []
    for n in range(count):
        account_id = f"{prefix}{n:03d}"
        values: dict[str, Any] = {
            **columns,
            "work_item_id": None,
            "idempotency_key": f"test-{account_id}",
            "account_id": account_id,
            "customer_id": f"C{account_id}",
            "priority": 1000.0 - n,
        }
        values.pop("work_item_id")
        session.add(WorkItemRow(**values))
        ids.append(account_id)
    session.flush()
    return ids


def add_collectors(book: Book, count: int) -> list[str]:
    names = [f"collector.{n:02d}" for n in range(count)]
    with book.session() as session:
        for name in names:
            add_user(session, username=name, display_name="", role="collector", actor="admin")
    return names


__all__ = ["AS_OF", "COLLECTOR", "COLLECTOR_2", "SUPERVISOR", "Book", "as_json", "book"]
