"""Passwords are stored as argon2id hashes, checked in constant time and held to a policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from huancui.access.passwords import check_policy, hash_password, needs_rehash, verify_password
from huancui.kit.errors import InvalidInput


def test_hash_is_argon2id_and_verifies_only_the_right_password() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "correct horse" not in hashed
    assert verify_password(hashed, "correct horse battery staple")
    assert not verify_password(hashed, "correct horse battery stapler")
    assert hash_password("correct horse battery staple") != hashed  # salted


def test_missing_or_damaged_hash_never_verifies() -> None:
    assert not verify_password(None, "anything at all here")
    assert not verify_password("not a hash", "anything at all here")


def test_hash_made_with_weaker_parameters_needs_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("a long passphrase")
    assert needs_rehash(weak)
    assert verify_password(weak, "a long passphrase")
    assert not needs_rehash(hash_password("a long passphrase"))


def test_policy_explains_a_short_password() -> None:
    with pytest.raises(InvalidInput, match="has 8 characters; use at least 12"):
        check_policy("abcdefgh", username="zhou")


def test_policy_refuses_the_username_as_password() -> None:
    with pytest.raises(InvalidInput, match="the password is the username"):
        check_policy("Zhou.Collector", username="zhou.collector")


def test_policy_accepts_a_passphrase() -> None:
    check_policy("四个字的密码也可以很长很长", username="zhou")
    check_policy("correct horse battery staple", username="zhou")
