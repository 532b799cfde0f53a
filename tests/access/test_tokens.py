"""Access and refresh tokens: genuine ones pass, anything else gets one generic refusal."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access import tokens
from huancui.access.tables import AuditEventRow, RefreshTokenRow, UserRow
from huancui.access.tokens import (
    GENERIC,
    TokenRejected,
    TokenType,
    ensure_secret,
    issue_access,
    verify,
)
from huancui.access.users import set_password
from huancui.kit.errors import InvalidInput
from huancui.kit.settings import Settings
from tests.access.conftest import NOW


def rejected(settings: Settings, token: str, *, typ: TokenType, now: datetime) -> str:
    with pytest.raises(TokenRejected) as caught:
        verify(settings, token, typ=typ, now=now)
    assert str(caught.value) == GENERIC  # the caller learns nothing more
    return caught.value.reason


def test_access_token_round_trip(access_settings: Settings, zhou: UserRow) -> None:
    token = issue_access(access_settings, zhou, now=NOW)
    claims = verify(access_settings, token, typ="access", now=NOW + timedelta(minutes=14))
    assert (claims.username, claims.role, claims.typ) == ("zhou", "collector", "access")
    assert claims.expires_at - claims.issued_at == timedelta(minutes=15)
    raw = jwt.decode(token, options={"verify_signature": False})
    assert set(raw) == {"iss", "sub", "role", "typ", "jti", "iat", "exp"}


def test_tampered_token_is_refused(access_settings: Settings, zhou: UserRow) -> None:
    token = issue_access(access_settings, zhou, now=NOW)
    forged = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "role": "admin"},
        "a different secret of enough length!!",
        algorithm="HS256",
    )
    assert rejected(access_settings, forged, typ="access", now=NOW) == "tampered"
    head, body, sig = token.split(".")
    flipped = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    assert rejected(access_settings, f"{head}.{body}.{flipped}", typ="access", now=NOW) in {
        "tampered",
        "malformed",
    }
    unsigned = jwt.encode(jwt.decode(token, options={"verify_signature": False}), "", "none")
    assert rejected(access_settings, unsigned, typ="access", now=NOW) == "malformed"
    assert rejected(access_settings, "not.a.token", typ="access", now=NOW) == "malformed"


def test_expired_token_is_refused(access_settings: Settings, zhou: UserRow) -> None:
    token = issue_access(access_settings, zhou, now=NOW)
    assert rejected(access_settings, token, typ="access", now=NOW + timedelta(minutes=15)) == (
        "expired"
    )


def test_refresh_token_is_not_an_access_token(
    access_settings: Settings, session: Session, zhou: UserRow
) -> None:
    pair = tokens.sign_in(session, access_settings, zhou, now=NOW)
    assert rejected(access_settings, pair.refresh_token, typ="access", now=NOW) == "wrong type"
    assert rejected(access_settings, pair.access_token, typ="refresh", now=NOW) == "wrong type"


def test_no_secret_no_tokens(settings: Settings, zhou: UserRow) -> None:
    with pytest.raises(InvalidInput, match="HUANCUI_JWT_SECRET is not set"):
        issue_access(settings, zhou, now=NOW)
    short = settings.model_copy(update={"jwt_secret": SecretStr("short")})
    with pytest.raises(InvalidInput, match="use at least 32"):
        issue_access(short, zhou, now=NOW)


def test_dev_mode_creates_a_private_secret_once(settings: Settings, zhou: UserRow) -> None:
    dev = ensure_secret(settings)
    key_file = Path(settings.home) / "secrets" / "jwt.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ensure_secret(settings).jwt_secret == dev.jwt_secret  # stable across restarts
    token = issue_access(dev, zhou, now=NOW)
    assert verify(dev, token, typ="access", now=NOW).username == "zhou"
    configured = settings.model_copy(update={"jwt_secret": SecretStr("c" * 40)})
    assert ensure_secret(configured) is configured


def test_refresh_rotates_and_reuse_revokes_the_family(
    access_settings: Settings, session: Session, zhou: UserRow
) -> None:
    first = tokens.sign_in(session, access_settings, zhou, now=NOW)
    later = NOW + timedelta(minutes=20)
    second = tokens.refresh(session, access_settings, first.refresh_token, now=later).value()
    assert verify(access_settings, second.access_token, typ="access", now=later).username == "zhou"

    stolen = tokens.refresh(session, access_settings, first.refresh_token, now=later)
    with pytest.raises(TokenRejected) as caught:
        stolen.value()
    assert caught.value.reason == "reused"
    # The owner's newer token is revoked too: the family is burnt.
    after = tokens.refresh(session, access_settings, second.refresh_token, now=later)
    assert after.refusal is not None and getattr(after.refusal, "reason", None) == "revoked"
    rows = session.scalars(select(RefreshTokenRow)).all()
    assert len(rows) == 2 and all(r.revoked_at is not None for r in rows)
    actions = session.scalars(select(AuditEventRow.action)).all()
    assert "token.reuse" in actions


def test_other_families_survive_a_reuse(
    access_settings: Settings, session: Session, zhou: UserRow
) -> None:
    phone = tokens.sign_in(session, access_settings, zhou, now=NOW)
    laptop = tokens.sign_in(session, access_settings, zhou, now=NOW)
    tokens.refresh(session, access_settings, phone.refresh_token, now=NOW).value()
    tokens.refresh(session, access_settings, phone.refresh_token, now=NOW)  # reuse
    assert tokens.refresh(session, access_settings, laptop.refresh_token, now=NOW).value()


def test_expired_refresh_token_is_refused(
    access_settings: Settings, session: Session, zhou: UserRow
) -> None:
    pair = tokens.sign_in(session, access_settings, zhou, now=NOW)
    outcome = tokens.refresh(
        session, access_settings, pair.refresh_token, now=NOW + timedelta(days=7)
    )
    assert getattr(outcome.refusal, "reason", None) == "expired"


def test_new_password_signs_the_user_out_everywhere(
    access_settings: Settings, session: Session, zhou: UserRow
) -> None:
    pair = tokens.sign_in(session, access_settings, zhou, now=NOW)
    set_password(
        session, username="zhou", password="another long passphrase", actor="zhou", now=NOW
    )
    outcome = tokens.refresh(session, access_settings, pair.refresh_token, now=NOW)
    assert getattr(outcome.refusal, "reason", None) == "revoked"
