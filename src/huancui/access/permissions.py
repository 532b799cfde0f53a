"""The permission matrix: which role may do what, as data, and the Markdown table of it that
docs/security.md embeds (a test keeps the two equal)."""

from __future__ import annotations

from huancui.access.tables import ROLES as STAFF_ROLES
from huancui.kit.errors import NotPermitted

# Customers sign in to the portal only (with a one-time code); they are not staff users.
ROLES: tuple[str, ...] = (*STAFF_ROLES, "customer")

# Permission → what it allows. Order is the order of the documented table.
PERMISSIONS: dict[str, str] = {
    "queue:read": "see work queues and cases",
    "case:work": "take the next case and hold it",
    "outcome:write": "log a contact outcome",
    "arrangement:propose": "propose a promise or repayment plan",
    "arrangement:approve": "approve or reject a plan, within the authority matrix",
    "hardship:apply": "apply for 缓催, the hardship pause, on a customer's behalf",
    "hardship:approve": "approve or reject 缓催",
    "hold:manage": "place and release dispute, complaint and legal holds",
    "strategy:edit": "edit, upload and validate strategies",
    "strategy:activate": "activate a strategy",
    "compliance:read": "see holds, disputes, complaints and contact-rule suppressions",
    "audit:read": "search the audit log",
    "kpi:read": "see KPIs, runs and plans",
    "user:admin": "add users, change roles, reset passwords",
    "pii:phone": "see phone numbers unmasked",
    "pii:national_id": "see national ID numbers unmasked",
    "portal:self": "the customer portal, for one's own accounts only",
}

_CASEWORK = frozenset(
    {
        "queue:read",
        "case:work",
        "outcome:write",
        "arrangement:propose",
        "hardship:apply",
        # Collectors dial the customer, so they need the number; never the national ID.
        "pii:phone",
    }
)
_APPROVAL = frozenset({"arrangement:approve", "hardship:approve", "hold:manage", "kpi:read"})

# Every role's complete set: anything not listed is denied. Admins administer but do not work
# cases or approve (separation of duties); analysts see no personal data at all.
MATRIX: dict[str, frozenset[str]] = {
    "collector": _CASEWORK,
    "supervisor": _CASEWORK | _APPROVAL,
    "manager": _CASEWORK | _APPROVAL,
    "strategy_manager": frozenset({"queue:read", "strategy:edit", "strategy:activate", "kpi:read"}),
    "compliance_officer": frozenset(
        {
            "queue:read",
            "hold:manage",
            "compliance:read",
            "audit:read",
            "kpi:read",
            "pii:phone",
            "pii:national_id",
        }
    ),
    "analyst": frozenset({"kpi:read"}),
    "admin": frozenset({"user:admin", "audit:read", "kpi:read", "pii:phone", "pii:national_id"}),
    "customer": frozenset({"portal:self"}),
}

_PII_FIELDS = {"pii:phone": "phone", "pii:national_id": "national_id"}


def allowed(role: str, permission: str) -> bool:
    """True when `role` has `permission`; unknown roles and permissions are denied."""
    return permission in MATRIX.get(role, frozenset())


def require(role: str, permission: str) -> None:
    if not allowed(role, permission):
        what = PERMISSIONS.get(permission, permission)
        raise NotPermitted(f"the {role} role may not {what} ({permission})")


def unmasked_fields(role: str) -> frozenset[str]:
    """The personal fields ('phone', 'national_id') this role sees in clear; others masked."""
    return frozenset(field for perm, field in _PII_FIELDS.items() if allowed(role, perm))


def render_matrix() -> str:
    """The matrix as a Markdown table: one row per permission, one column per role."""
    header = "| permission | allows | " + " | ".join(ROLES) + " |"
    rule = "|---|---|" + "---|" * len(ROLES)
    rows = [
        f"| `{perm}` | {what} | "
        + " | ".join("✓" if allowed(role, perm) else "—" for role in ROLES)
        + " |"
        for perm, what in PERMISSIONS.items()
    ]
    return "\n".join([header, rule, *rows]) + "\n"
