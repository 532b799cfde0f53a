"""Password hashing (argon2id) and the password policy. Pure: no database.

Parameters are RFC 9106's second recommended option ("low memory"): argon2id, 3 passes over
64 MiB with 4 lanes, a 16-byte random salt and a 32-byte tag, about 50 ms per hash on a server
core. They are stored inside each hash, so raising them later rehashes old passwords on the
next successful sign-in (`needs_rehash`).
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from huancui.kit.errors import InvalidInput

MIN_LENGTH = 12
# Long enough for any passphrase; bounds the work an attacker can ask the hasher to do.
MAX_LENGTH = 1024

_HASHER = PasswordHasher(
    time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16, type=Type.ID
)
# Verified against when the user is unknown, so that a wrong username costs as long as a wrong
# password and response times do not reveal which usernames exist.
_DUMMY_HASH = _HASHER.hash("huancui: no such user, this hash is never matched")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches. argon2 compares tags in constant time; an unknown user
    (no hash) is checked against a dummy hash so it takes the same time and is False."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def check_policy(password: str, *, username: str) -> None:
    """Raise InvalidInput saying what to change when `password` breaks the policy."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"the password has {len(password)} characters; use at least {MIN_LENGTH}"
            " (a passphrase of three or four words is easy to remember)"
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"the password is longer than {MAX_LENGTH} characters; shorten it")
    if password.strip().casefold() == username.casefold():
        raise InvalidInput("the password is the username; choose something else")
