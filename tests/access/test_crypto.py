"""Personal fields encrypted at rest with rotating keys, and keyed hashes to find them."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from huancui.access.crypto import FieldCipher, UndecryptableField
from huancui.kit.errors import InvalidInput
from huancui.kit.settings import Settings

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
NATIONAL_ID = "11010519491231002X"


def cipher(keys: str) -> FieldCipher:
    return FieldCipher.from_settings(Settings(pii_keys=SecretStr(keys)))


def test_round_trip_hides_the_value() -> None:
    c = cipher(OLD)
    token = c.encrypt(NATIONAL_ID)
    assert NATIONAL_ID not in token
    assert c.decrypt(token) == NATIONAL_ID
    assert c.encrypt(NATIONAL_ID) != token  # random IV: equal values do not look equal


def test_rotation_with_two_keys() -> None:
    before = cipher(OLD).encrypt("13800138000")
    both = cipher(f"{NEW}, {OLD}")
    assert both.decrypt(before) == "13800138000"  # old values still read
    rotated = both.rotate(before)
    assert cipher(NEW).decrypt(rotated) == "13800138000"  # old key can now go
    with pytest.raises(UndecryptableField):
        cipher(OLD).decrypt(both.encrypt("13800138000"))  # new values use the newest key


def test_wrong_key_fails_cleanly_without_naming_the_value() -> None:
    token = cipher(OLD).encrypt(NATIONAL_ID)
    with pytest.raises(UndecryptableField) as caught:
        cipher(NEW).decrypt(token)
    assert NATIONAL_ID not in str(caught.value) and OLD not in str(caught.value)
    assert "HUANCUI_PII_KEYS" in str(caught.value)
    with pytest.raises(UndecryptableField):
        cipher(OLD).decrypt("garbage")


def test_lookup_hash_is_stable_keyed_and_covers_every_key_during_rotation() -> None:
    old = cipher(OLD)
    assert old.lookup_hash(NATIONAL_ID) == cipher(OLD).lookup_hash(NATIONAL_ID)
    assert old.lookup_hash(NATIONAL_ID) != old.lookup_hash("110105194912310021")
    assert old.lookup_hash(NATIONAL_ID) != cipher(NEW).lookup_hash(NATIONAL_ID)
    both = cipher(f"{NEW},{OLD}")
    assert both.lookup_hashes(NATIONAL_ID) == [
        cipher(NEW).lookup_hash(NATIONAL_ID),
        old.lookup_hash(NATIONAL_ID),
    ]
    assert len(old.lookup_hash(NATIONAL_ID)) == 64


def test_missing_or_malformed_keys_say_how_to_make_one() -> None:
    with pytest.raises(InvalidInput, match=r"HUANCUI_PII_KEYS is not set.*make one with"):
        FieldCipher.from_settings(Settings(pii_dev_key=False))
    with pytest.raises(InvalidInput, match="key 2 is not a Fernet key"):
        cipher(f"{OLD},not-a-key")
