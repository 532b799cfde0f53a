"""A customer's personal fields for one caller: read in clear for the services that must use
them (sending a message), and shown masked to any role that does not need them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from huancui.access import permissions
from huancui.kit.masking import mask_email, mask_name, mask_national_id, mask_phone
from huancui.kit.settings import Settings
from huancui.portfolio.tables import CustomerRow


@dataclass(frozen=True)
class CustomerPII:
    """The personal fields of one customer, in clear. Never log this object."""

    customer_id: str
    name: str
    phone: str
    national_id: str
    email: str | None

    def __repr__(self) -> str:  # a stray log line shows nothing personal
        return f"CustomerPII(customer_id={self.customer_id!r}, ...)"


def read_customer(session: Session, settings: Settings, customer_id: str) -> CustomerPII | None:
    """The customer's personal fields in clear, or None for an unknown customer."""
    row = session.get(CustomerRow, customer_id)
    if row is None:
        return None
    return CustomerPII(
        customer_id=row.customer_id,
        name=row.name,
        phone=row.phone,
        national_id=row.national_id,
        email=row.email,
    )


def shown_to(role: str, pii: CustomerPII) -> dict[str, str | None]:
    """The fields as `role` may see them: phone and national ID in clear only with pii:phone or
    pii:national_id (access.permissions); the name in clear for roles that see either."""
    clear = permissions.unmasked_fields(role)
    return {
        "customer_id": pii.customer_id,
        "name": pii.name if clear else mask_name(pii.name),
        "phone": pii.phone if "phone" in clear else mask_phone(pii.phone),
        "national_id": (
            pii.national_id if "national_id" in clear else mask_national_id(pii.national_id)
        ),
        "email": (
            None if pii.email is None else pii.email if "phone" in clear else mask_email(pii.email)
        ),
    }
