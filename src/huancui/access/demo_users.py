"""Demo staff users for a local demo (`huancui serve --demo`, which `make run` ends with): one
per role, with random passphrases kept in HUANCUI_HOME/secrets/demo-users.json (mode 0600) so
the same demo keeps the same sign-ins. Never used unless asked for explicitly."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access.passwords import verify_password
from huancui.access.tables import UserRow
from huancui.access.users import add_user, set_password

ACTOR = "demo-setup"

# (username, display name, role): two collectors, so that "next case" can be tried side by side.
DEMO_STAFF: tuple[tuple[str, str, str], ...] = (
    ("demo.collector", "Li Na (collector)", "collector"),
    ("demo.collector2", "Zhang Wei (collector)", "collector"),
    ("demo.supervisor", "Wang Fang (supervisor)", "supervisor"),
    ("demo.manager", "Chen Jie (collections manager)", "manager"),
    ("demo.strategy", "Liu Yang (strategy manager)", "strategy_manager"),
    ("demo.compliance", "Zhao Min (compliance officer)", "compliance_officer"),
    ("demo.analyst", "Sun Hao (risk analyst)", "analyst"),
    ("demo.admin", "Zhou Jing (administrator)", "admin"),
)

_WORDS = (
    "bamboo", "lantern", "harbour", "willow", "jade", "river", "kite", "plum", "tea", "cloud",
    "bridge", "orchid", "pine", "lotus", "crane", "silk", "maple", "pearl", "ember", "meadow",
)  # fmt: skip


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password: str


def _passphrase() -> str:
    return "-".join(secrets.choice(_WORDS) for _ in range(4)) + f"-{secrets.randbelow(100):02d}"


def _load(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _save(path: Path, passwords: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(passwords, handle, indent=2, sort_keys=True)


def ensure_demo_users(session: Session, *, home: Path, now: datetime) -> list[DemoUser]:
    """Every demo user exists, is active and has the passphrase stored under `home`; users and
    passphrases made on an earlier start are kept. Each change is an audit event (add_user,
    set_password)."""
    path = home / "secrets" / "demo-users.json"
    passwords = _load(path)
    demo: list[DemoUser] = []
    for username, display_name, role in DEMO_STAFF:
        row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
        if row is None:
            row = add_user(
                session, username=username, display_name=display_name, role=role, actor=ACTOR
            )
        if row.role != role or not row.active:
            # Someone changed a demo user by hand: leave it, and do not advertise it.
            continue
        if username not in passwords or row.password_hash is None:
            passwords[username] = passwords.get(username) or _passphrase()
            set_password(
                session, username=username, password=passwords[username], actor=ACTOR, now=now
            )
        elif not verify_password(row.password_hash, passwords[username]):
            continue  # the password was changed since: it is no longer the demo's to show
        demo.append(DemoUser(username=username, role=role, password=passwords[username]))
    _save(path, passwords)
    return demo
