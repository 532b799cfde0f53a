"""A compliance pack that the guard could not apply as written is refused when it is loaded."""

from __future__ import annotations

import pytest

from huancui.contact.policy import PACKS_DIR, parse_pack
from huancui.kit.errors import InvalidInput

CN = (PACKS_DIR / "cn.yaml").read_text(encoding="utf-8")


def _variant(old: str, new: str) -> str:
    assert CN.count(old) == 1, old
    return CN.replace(old, new)


def test_shipped_packs_load() -> None:
    assert parse_pack(CN, source="cn.yaml").pack.name == "cn"


def test_consent_for_a_channel_without_a_consent_record_is_refused() -> None:
    """Customers record consent for SMS, e-mail and calls only; a pack asking consent for visits
    would have every visit found without one, so it must say so at load time, not silently."""
    text = _variant("consent_channels: [sms, email, call]", "consent_channels: [sms, visit]")
    with pytest.raises(InvalidInput, match="no consent is recorded for visit"):
        parse_pack(text, source="cn.yaml")


def test_a_cap_cannot_take_a_guard_rule_id() -> None:
    """Rule ids say which rule stopped a contact; a cap named like a hold would lie."""
    text = _variant("- id: cn.connected_calls_per_debtor_day", "- id: hold.dispute")
    with pytest.raises(InvalidInput, match=r"hold\.dispute"):
        parse_pack(text, source="cn.yaml")


def test_unknown_holiday_calendar_is_refused_at_load() -> None:
    text = _variant("calendar: CN", "calendar: XX")
    with pytest.raises(InvalidInput, match="XX"):
        parse_pack(text, source="cn.yaml")
