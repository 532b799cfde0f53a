"""Masking of personal data (names, national ID numbers, phones, e-mail) for logs and messages."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """'王小明' → '王**': the family name stays, so a collector can still address the customer."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def mask_national_id(value: str) -> str:
    """'110101199003071234' → '110***********1234'."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str) -> str:
    """'13812345678' → '138****5678'."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_email(value: str) -> str:
    """'wang@example.com' → 'w***@example.com'."""
    local, sep, domain = value.partition("@")
    if not sep:
        return mask_text(value)
    return local[:1] + "***@" + domain


def mask_text(value: str) -> str:
    """Any other personal value: keep only the length."""
    return "*" * len(value)
