"""Password sign-in: locks after repeated failures, throttles a guessing client, audits all."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access.tables import AuditEventRow, UserRow
from huancui.access.throttle import REFUSED, ClientThrottle, authenticate
from huancui.access.tokens import Outcome
from huancui.access.users import add_user
from huancui.kit.errors import NotPermitted
from huancui.kit.settings import Settings
from tests.access.conftest import NOW, PASSWORD


def login(
    session: Session,
    settings: Settings,
    clients: ClientThrottle,
    password: str,
    *,
    minutes: float = 0,
    username: str = "zhou",
    client: str = "10.0.0.1",
) -> Outcome[UserRow]:
    return authenticate(
        session,
        settings,
        username,
        password,
        client=client,
        now=NOW + timedelta(minutes=minutes),
        clients=clients,
    )


def test_right_password_signs_in(
    session: Session, access_settings: Settings, zhou: UserRow, clients: ClientThrottle
) -> None:
    assert login(session, access_settings, clients, PASSWORD).value().username == "zhou"


def test_every_refusal_says_the_same(
    session: Session, access_settings: Settings, zhou: UserRow, clients: ClientThrottle
) -> None:
    add_user(session, username="qian", display_name="", role="analyst", actor="admin")
    for outcome in (
        login(session, access_settings, clients, "not-the-passphrase"),
        login(session, access_settings, clients, PASSWORD, username="nobody"),
        login(session, access_settings, clients, PASSWORD, username="qian"),  # no password yet
    ):
        with pytest.raises(NotPermitted) as caught:
            outcome.value()
        assert str(caught.value) == REFUSED


def test_account_locks_after_five_failures_and_unlocks_after_the_lock_time(
    session: Session, access_settings: Settings, zhou: UserRow, clients: ClientThrottle
) -> None:
    for minute in range(5):
        assert login(
            session, access_settings, clients, "not-the-passphrase", minutes=minute
        ).refusal
    # Locked: even the right password is refused until 15 minutes after the fifth failure.
    assert login(session, access_settings, clients, PASSWORD, minutes=18).refusal
    assert zhou.locked_until is not None
    assert login(session, access_settings, clients, PASSWORD, minutes=19.5).value() is zhou
    assert zhou.locked_until is None and zhou.failed_logins == 0


def test_success_resets_the_failure_count(
    session: Session, access_settings: Settings, zhou: UserRow, clients: ClientThrottle
) -> None:
    for _ in range(4):
        login(session, access_settings, clients, "not-the-passphrase")
    assert zhou.failed_logins == 4
    login(session, access_settings, clients, PASSWORD).value()
    assert zhou.failed_logins == 0
    for _ in range(4):
        login(session, access_settings, clients, "not-the-passphrase")
    assert login(session, access_settings, clients, PASSWORD).value() is zhou  # not locked


def test_failures_are_kept_when_the_unit_of_work_commits(
    access_settings: Settings, zhou: UserRow, session: Session, clients: ClientThrottle
) -> None:
    # The refusal is returned, not raised, so the count reaches the database.
    login(session, access_settings, clients, "not-the-passphrase")
    session.flush()
    session.expire_all()
    assert (
        session.scalars(select(UserRow.failed_logins).where(UserRow.username == "zhou")).one() == 1
    )


def test_a_client_guessing_many_usernames_is_throttled(
    session: Session, access_settings: Settings, zhou: UserRow
) -> None:
    clients = ClientThrottle(limit=3, window=timedelta(minutes=10))
    for name in ("a1", "b2", "c3"):
        login(
            session, access_settings, clients, "whatever password", username=name, client="6.6.6.6"
        )
    # The right password from that client is refused while the window lasts; others pass.
    assert login(session, access_settings, clients, PASSWORD, client="6.6.6.6").refusal
    assert login(session, access_settings, clients, PASSWORD, client="10.0.0.9").value() is zhou
    assert login(session, access_settings, clients, PASSWORD, minutes=11, client="6.6.6.6").value()


def test_an_old_hash_is_upgraded_at_sign_in(
    session: Session, access_settings: Settings, zhou: UserRow, clients: ClientThrottle
) -> None:
    zhou.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    login(session, access_settings, clients, PASSWORD).value()
    assert zhou.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_every_attempt_is_audited_without_the_password(
    session: Session, access_settings: Settings, zhou: UserRow, clients: ClientThrottle
) -> None:
    for minute in range(5):
        login(session, access_settings, clients, "not-the-passphrase", minutes=minute)
    login(session, access_settings, clients, PASSWORD, minutes=30).value()
    login(session, access_settings, clients, PASSWORD, username="ghost", minutes=31)
    events = session.scalars(
        select(AuditEventRow)
        .where(AuditEventRow.action.like("login.%"))
        .order_by(AuditEventRow.event_id)
    ).all()
    assert [e.action for e in events] == ["login.failure"] * 4 + [
        "login.locked",
        "login.success",
        "login.failure",
    ]
    assert events[-1].entity_id == "ghost" and events[0].after == {"client": "10.0.0.1"}
    everything = json.dumps(
        [
            [e.before, e.after, e.reason, e.actor, e.entity_id]
            for e in session.scalars(select(AuditEventRow))
        ],
        ensure_ascii=False,
    )
    assert "not-the-passphrase" not in everything and PASSWORD not in everything
    assert "$argon2" not in everything
