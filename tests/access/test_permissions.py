"""The permission matrix: every role × permission decided, and docs/security.md shows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huancui.access import permissions
from huancui.access.permissions import (
    MATRIX,
    PERMISSIONS,
    ROLES,
    allowed,
    render_matrix,
    require,
    unmasked_fields,
)
from huancui.access.tables import ROLES as STAFF_ROLES
from huancui.kit.errors import NotPermitted

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_every_role_is_decided_and_grants_only_known_permissions() -> None:
    assert set(MATRIX) == set(ROLES) == {*STAFF_ROLES, "customer"}
    for role, granted in MATRIX.items():
        assert granted <= set(PERMISSIONS), role


def test_customer_has_only_the_portal() -> None:
    assert MATRIX["customer"] == {"portal:self"}
    assert [r for r in ROLES if allowed(r, "portal:self")] == ["customer"]


def test_personal_data_is_shown_only_where_the_work_needs_it() -> None:
    assert unmasked_fields("collector") == {"phone"}
    assert unmasked_fields("compliance_officer") == {"phone", "national_id"}
    assert unmasked_fields("admin") == {"phone", "national_id"}
    assert unmasked_fields("analyst") == set()
    assert unmasked_fields("customer") == set()


def test_admin_administers_but_does_not_work_cases_or_approve() -> None:
    assert allowed("admin", "user:admin")
    assert not allowed("admin", "case:work")
    assert not allowed("admin", "arrangement:approve")
    assert [r for r in ROLES if allowed(r, "user:admin")] == ["admin"]


def test_unknown_role_or_permission_is_denied() -> None:
    assert not allowed("root", "user:admin")
    assert not allowed("admin", "user:delete_everything")
    with pytest.raises(NotPermitted, match="the collector role may not approve"):
        require("collector", "arrangement:approve")


@given(
    role=st.sampled_from([*ROLES, "root", ""]),
    permission=st.sampled_from([*PERMISSIONS, "pii:read", "x"]) | st.text(max_size=12),
)
def test_require_agrees_with_allowed(role: str, permission: str) -> None:
    if allowed(role, permission):
        require(role, permission)
    else:
        with pytest.raises(NotPermitted):
            require(role, permission)


def test_docs_show_the_matrix_the_code_enforces() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(
        r"<!-- permission-matrix:start -->\n(.*?)<!-- permission-matrix:end -->", text, re.S
    )
    assert found, "docs/security.md lost its permission-matrix markers"
    assert found.group(1) == render_matrix(), (
        "docs/security.md differs from access/permissions.py: paste render_matrix() between the"
        " markers"
    )
    assert permissions.__doc__
