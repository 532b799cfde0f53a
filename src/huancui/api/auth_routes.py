"""Sign-in for the API (OAuth2 password flow): tokens, refresh with rotation, sign-out.

A refused sign-in or refresh still writes (a failure count, an audit event, a revoked token
family), so the route commits before raising the refusal (docs/security.md, "Outcome")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from huancui.access import audit, throttle, tokens
from huancui.access.tables import RefreshTokenRow
from huancui.access.tokens import TokenPair, TokenRejected
from huancui.api.deps import SessionDep, SettingsDep
from huancui.api.problems import SignInRequired
from huancui.kit.errors import NotPermitted

router = APIRouter(prefix="/auth", tags=["sign-in"])


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int  # seconds until the access token expires


class RefreshRequest(BaseModel):
    refresh_token: str


def _response(pair: TokenPair, *, now: datetime) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=int((pair.access_expires_at - now).total_seconds()),
    )


@router.post("/token", response_model=TokenResponse)
def sign_in(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenResponse:
    """Trade a username and password for an access and a refresh token. Every refusal (unknown
    user, wrong password, locked account, throttled client) answers the same 401."""
    now = datetime.now(UTC)
    client = request.client.host if request.client else "unknown"
    outcome = throttle.authenticate(
        session, settings, form.username, form.password, client=client, now=now
    )
    session.commit()  # the failure count and audit event outlive the refusal
    try:
        user = outcome.value()
    except NotPermitted as refusal:
        raise SignInRequired(str(refusal)) from None
    return _response(tokens.sign_in(session, settings, user, now=now), now=now)


@router.post("/refresh", response_model=TokenResponse)
def refresh(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> TokenResponse:
    """A new pair for a refresh token, which is spent; a spent one presented again signs the
    whole family out."""
    now = datetime.now(UTC)
    outcome = tokens.refresh(session, settings, body.refresh_token, now=now)
    session.commit()  # a reuse revokes the family even though the request is refused
    return _response(outcome.value(), now=now)


@router.post("/logout", status_code=204)
def logout(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> None:
    """Sign out: revoke the refresh token's whole family (this sign-in's tokens). The access
    token stays valid until it expires (at most settings.access_token_minutes)."""
    now = datetime.now(UTC)
    claims = tokens.verify(settings, body.refresh_token, typ="refresh", now=now)
    row = session.get(RefreshTokenRow, claims.jti)
    if row is None:
        raise TokenRejected("unknown refresh token")
    tokens.revoke_family(session, family_id=row.family_id, now=now)
    audit.record(
        session,
        actor=claims.username,
        action="token.logout",
        entity_type="user",
        entity_id=claims.username,
        after={"family": row.family_id},
        reason="signed out: the refresh token family is revoked",
    )
