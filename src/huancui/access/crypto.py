"""Encryption of personal fields at rest (the customers' names, national IDs, phones, e-mail
addresses and birth dates) and keyed hashes to look them up.

Keys come from settings.pii_keys: Fernet keys, comma-separated, newest first. Encryption uses
the newest; decryption tries each; `rotate` re-encrypts with the newest (docs/security.md).
Without configured keys, and only if settings.pii_dev_key allows it, a demo key kept in
HUANCUI_HOME/secrets/pii.key is used (created on first use, with a warning).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from huancui.kit.errors import HuancuiError, InvalidInput
from huancui.kit.secret_files import read_or_create
from huancui.kit.settings import Settings

log = logging.getLogger(__name__)

_LOOKUP_INFO = b"huancui pii lookup hash v1"
NEW_KEY_HINT = "make one with: huancui keys new"
# A Fernet token: version byte 0x80, 8-byte time, 16-byte IV, AES blocks, 32-byte HMAC.
_TOKEN_VERSION = 0x80
_TOKEN_OVERHEAD = 1 + 8 + 16 + 32
_warned_dev_keys: set[Path] = set()


class UndecryptableField(HuancuiError):
    """Stored ciphertext that no configured key opens: a key was removed too early, or the
    value was damaged. The message names neither the value nor the keys."""

    http_status = 500


def _lookup_key(fernet_key: bytes) -> bytes:
    # A key of its own for hashing, derived so that the encryption key is never used twice.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LOOKUP_INFO).derive(
        fernet_key
    )


@dataclass(frozen=True)
class FieldCipher:
    """Encrypts, decrypts and hashes personal fields with the configured keys."""

    keys: tuple[bytes, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> FieldCipher:
        """The keys in HUANCUI_PII_KEYS; without them the demo key if settings.pii_dev_key
        allows it, else InvalidInput saying how to make a key."""
        if settings.pii_keys is not None:
            return cls.from_text(settings.pii_keys.get_secret_value())
        if not settings.pii_dev_key:
            raise InvalidInput(
                f"HUANCUI_PII_KEYS is not set; {NEW_KEY_HINT}. For a local demo only, set"
                " HUANCUI_PII_DEV_KEY=1 to use a demo key kept under HUANCUI_HOME/secrets"
            )
        return cls.from_text(dev_key(settings))

    @classmethod
    def from_text(cls, text: str) -> FieldCipher:
        keys = tuple(part.strip().encode() for part in text.split(",") if part.strip())
        if not keys:
            raise InvalidInput(f"HUANCUI_PII_KEYS holds no key; {NEW_KEY_HINT}")
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key)
            except ValueError:
                raise InvalidInput(
                    f"HUANCUI_PII_KEYS key {position} is not a Fernet key (32 bytes,"
                    f" url-safe base64); {NEW_KEY_HINT}"
                ) from None
        return cls(keys)

    # Built once per cipher: bulk work (an import, a rotation) calls these per value.
    @cached_property
    def _fernets(self) -> tuple[Fernet, ...]:
        return tuple(Fernet(key) for key in self.keys)

    @cached_property
    def _fernet(self) -> MultiFernet:
        return MultiFernet(list(self._fernets))

    @cached_property
    def _lookup_keys(self) -> tuple[bytes, ...]:
        return tuple(_lookup_key(key) for key in self.keys)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def encrypt_many(self, values: Iterable[str | None]) -> list[str | None]:
        """Each value encrypted with the newest key (None stays None): the bulk path."""
        newest, now = self._fernets[0], int(time.time())
        return [
            None if v is None else newest.encrypt_at_time(v.encode("utf-8"), now).decode("ascii")
            for v in values
        ]

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise UndecryptableField(
                "a stored personal field could not be decrypted with any key in"
                " HUANCUI_PII_KEYS; was an old key removed before rotation finished?"
            ) from None

    def rotate(self, token: str) -> str:
        """The same value encrypted with the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise UndecryptableField(
                "a stored personal field could not be rotated: no key in HUANCUI_PII_KEYS opens it"
            ) from None

    def is_current(self, token: str) -> bool:
        """Whether the newest key opens `token` (a rotation leaves such values alone)."""
        try:
            self._fernets[0].decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def lookup_hash(self, value: str) -> str:
        """HMAC-SHA256 of `value` under the newest key: stored beside the ciphertext so an exact
        value can be found without decrypting. Callers normalise first (access.pii)."""
        return self._hash(self._lookup_keys[0], value)

    def lookup_hashes(self, value: str) -> list[str]:
        """The hash under every key, newest first: query with IN (...) while a rotation runs."""
        return [self._hash(key, value) for key in self._lookup_keys]

    @staticmethod
    def _hash(lookup_key: bytes, value: str) -> str:
        return hmac.new(lookup_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def looks_encrypted(value: str) -> bool:
    """Whether `value` has the shape of a Fernet token (a name, ID number, phone, address or
    date never has): a database written before encryption holds clear values instead."""
    if not value.startswith("gAAAAA"):
        return False
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (binascii.Error, UnicodeError, ValueError):
        return False
    body = len(raw) - _TOKEN_OVERHEAD
    return raw[0] == _TOKEN_VERSION and body >= 16 and body % 16 == 0


def new_key() -> str:
    """A fresh random Fernet key."""
    return Fernet.generate_key().decode("ascii")


def dev_key(settings: Settings) -> str:
    """The demo key in HUANCUI_HOME/secrets/pii.key, created (mode 0600) on first use."""
    path = settings.pii_dev_key_file
    key = read_or_create(path, new_key)
    resolved = path.resolve()
    if resolved not in _warned_dev_keys:
        _warned_dev_keys.add(resolved)
        log.warning(
            "personal data is encrypted with the demo key %s: for local demos and tests only;"
            " production sets HUANCUI_PII_KEYS and never HUANCUI_PII_DEV_KEY",
            path,
        )
    return key
