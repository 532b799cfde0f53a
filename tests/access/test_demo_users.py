"""`huancui serve --demo`'s users: one per role, sign-in works with the printed passphrase, and a
restart keeps them."""

from __future__ import annotations

import stat
from datetime import UTC, datetime

from huancui.access import throttle
from huancui.access.demo_users import DEMO_STAFF, ensure_demo_users
from huancui.access.permissions import ROLES
from huancui.access.users import set_password
from huancui.kit.database import migrate, unit_of_work
from huancui.kit.settings import Settings

NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def _demo(settings: Settings) -> dict[str, str]:
    with unit_of_work(settings.resolved_database_url) as session:
        users = ensure_demo_users(session, home=settings.home, now=NOW)
    return {user.username: user.password for user in users}


def _signs_in(settings: Settings, username: str, password: str) -> bool:
    with unit_of_work(settings.resolved_database_url) as session:
        outcome = throttle.authenticate(
            session, settings, username, password, client="test", now=NOW,
            clients=throttle.ClientThrottle(),
        )  # fmt: skip
        return outcome.refusal is None


def test_every_staff_role_gets_a_demo_user_who_can_sign_in(settings: Settings) -> None:
    migrate(settings.resolved_database_url)
    passwords = _demo(settings)
    roles = {role for _, _, role in DEMO_STAFF}
    assert roles == set(ROLES) - {"customer"}
    assert set(passwords) == {username for username, _, _ in DEMO_STAFF}
    assert _signs_in(settings, "demo.collector", passwords["demo.collector"])
    assert not _signs_in(settings, "demo.collector", passwords["demo.supervisor"])
    stored = settings.home / "secrets" / "demo-users.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_a_restart_keeps_the_demo_passwords(settings: Settings) -> None:
    migrate(settings.resolved_database_url)
    assert _demo(settings) == _demo(settings)


def test_a_demo_password_changed_by_hand_is_no_longer_printed(settings: Settings) -> None:
    migrate(settings.resolved_database_url)
    _demo(settings)
    with unit_of_work(settings.resolved_database_url) as session:
        set_password(
            session, username="demo.admin", password="a private passphrase", actor="x", now=NOW
        )
    assert "demo.admin" not in _demo(settings)
    assert _signs_in(settings, "demo.admin", "a private passphrase")
