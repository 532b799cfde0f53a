"""Encryption of personal fields at rest (national ID, phone) and keyed hashes to look them up.

Keys come from settings.pii_keys: Fernet keys, comma-separated, newest first. Encryption uses
the newest; decryption tries each; `rotate` re-encrypts with the newest (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from huancui.kit.errors import HuancuiError, InvalidInput
from huancui.kit.settings import Settings

_LOOKUP_INFO = b"huancui pii lookup hash v1"
NEW_KEY_HINT = (
    "make one with: python -c 'from cryptography.fernet import Fernet;"
    " print(Fernet.generate_key().decode())'"
)


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
        if settings.pii_keys is None:
            raise InvalidInput(f"HUANCUI_PII_KEYS is not set; {NEW_KEY_HINT}")
        return cls.from_text(settings.pii_keys.get_secret_value())

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

    @property
    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(key) for key in self.keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

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

    def lookup_hash(self, value: str) -> str:
        """HMAC-SHA256 of `value` under the newest key: stored beside the ciphertext so an exact
        value can be found without decrypting. Callers normalise first (strip, upper-case)."""
        return self._hash(self.keys[0], value)

    def lookup_hashes(self, value: str) -> list[str]:
        """The hash under every key, newest first: query with IN (...) while a rotation runs."""
        return [self._hash(key, value) for key in self.keys]

    @staticmethod
    def _hash(key: bytes, value: str) -> str:
        return hmac.new(_lookup_key(key), value.encode("utf-8"), hashlib.sha256).hexdigest()
