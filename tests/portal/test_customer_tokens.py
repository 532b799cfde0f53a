"""Customers' access tokens: short-lived, honoured only by the portal, and never by a staff
check, whatever a staff user happens to be called."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from huancui.access import tokens
from huancui.access.tables import UserRow
from huancui.access.tokens import TokenRejected
from huancui.kit.settings import Settings

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


@pytest.fixture
def keyed() -> Settings:
    return Settings(jwt_secret=SecretStr("portal-token-test-" + "k" * 32), access_token_minutes=60)


def test_a_customer_token_names_the_customer_and_lives_at_most_fifteen_minutes(
    keyed: Settings,
) -> None:
    token = tokens.issue_customer_access(keyed, "C1", now=NOW)
    claims = tokens.verify_customer(keyed, token, now=NOW)
    assert (claims.username, claims.role, claims.typ) == ("C1", "customer", "access")
    assert claims.expires_at - NOW == timedelta(minutes=tokens.CUSTOMER_ACCESS_MINUTES)
    with pytest.raises(TokenRejected) as expired:
        tokens.verify_customer(keyed, token, now=NOW + timedelta(minutes=15))
    assert expired.value.reason == "expired"


def test_staff_checks_refuse_a_customer_token_and_the_portal_refuses_a_staff_one(
    keyed: Settings,
) -> None:
    customer = tokens.issue_customer_access(keyed, "admin.user", now=NOW)
    with pytest.raises(TokenRejected):
        tokens.verify(keyed, customer, typ="access", now=NOW)
    staff = tokens.issue_access(keyed, UserRow(username="admin.user", role="admin"), now=NOW)
    assert tokens.verify(keyed, staff, typ="access", now=NOW).role == "admin"
    with pytest.raises(TokenRejected) as refused:
        tokens.verify_customer(keyed, staff, now=NOW)
    assert refused.value.reason == tokens.STAFF_TOKEN
