"""A customer's personal fields: how they are stored (encrypted, with lookup hashes), read in
clear for the services that must use them (sending a message), found by phone or national ID,
shown masked to any role that does not need them, and re-encrypted when a key rotates.

The personal fields are the data contract's pii columns (name, national_id, phone, email,
birth_date); `customers` holds each as <field>_encrypted, a Fernet token (access.crypto).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huancui.access import permissions
from huancui.access.crypto import FieldCipher, UndecryptableField, looks_encrypted
from huancui.kit.masking import mask_email, mask_name, mask_national_id, mask_phone
from huancui.kit.settings import Settings
from huancui.portfolio.tables import CustomerRow

# The data contract's pii columns of customers, in the order they are stored.
PII_FIELDS = ("name", "national_id", "phone", "email", "birth_date")


def normalise_phone(text: str) -> str:
    """A mainland mobile number as stored: digits only, without a +86 / 0086 country code."""
    digits = re.sub(r"\D", "", text)
    for prefix in ("0086", "86"):
        if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
            return digits[len(prefix) :]
    return digits


def normalise_national_id(text: str) -> str:
    """A resident ID number as stored: no spaces, check character upper-case."""
    return re.sub(r"\s", "", text).upper()


# The fields with a lookup hash (customers.<field>_hash), and how a value is normalised first.
HASHED: dict[str, Callable[[str], str]] = {
    "national_id": normalise_national_id,
    "phone": normalise_phone,
}


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


# ---------------------------------------------------------------------------------------------
# Writing


def stored_fields(
    cipher: FieldCipher,
    *,
    name: str,
    national_id: str,
    phone: str,
    email: str | None,
    birth_date: str | None = None,
) -> dict[str, str | None]:
    """CustomerRow's personal columns for one customer: ciphertexts and lookup hashes."""
    clear = {
        "name": name,
        "national_id": national_id,
        "phone": phone,
        "email": email,
        "birth_date": birth_date,
    }
    stored: dict[str, str | None] = {
        f"{f}_encrypted": None if v is None else cipher.encrypt(v) for f, v in clear.items()
    }
    for f, normalise in HASHED.items():
        stored[f"{f}_hash"] = cipher.lookup_hash(normalise(clear[f] or ""))
    return stored


def encrypt_batches(
    cipher: FieldCipher, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """Customer rows with clear personal columns (named as in the data contract) → the same
    rows as `customers` stores them: <field>_encrypted and <field>_hash in their place, every
    other column unchanged. One pass per column and batch: the import's bulk path."""
    for batch in batches:
        names = batch.schema.names
        arrays: dict[str, pa.Array] = {}
        for name in names:
            column = batch.column(name)
            if name not in PII_FIELDS:
                arrays[name] = column
                continue
            if pa.types.is_date(column.type):
                column = column.cast(pa.string())
            values: list[str | None] = column.to_pylist()
            arrays[f"{name}_encrypted"] = pa.array(cipher.encrypt_many(values), pa.string())
            normalise = HASHED.get(name)
            if normalise is not None:
                hashes = [None if v is None else cipher.lookup_hash(normalise(v)) for v in values]
                arrays[f"{name}_hash"] = pa.array(hashes, pa.string())
        yield pa.RecordBatch.from_arrays(list(arrays.values()), names=list(arrays))


# ---------------------------------------------------------------------------------------------
# Reading and finding


def _decrypted(cipher: FieldCipher, row: CustomerRow) -> CustomerPII:
    email = row.email_encrypted
    return CustomerPII(
        customer_id=row.customer_id,
        name=cipher.decrypt(row.name_encrypted),
        phone=cipher.decrypt(row.phone_encrypted),
        national_id=cipher.decrypt(row.national_id_encrypted),
        email=None if email is None else cipher.decrypt(email),
    )


def read_customer(session: Session, settings: Settings, customer_id: str) -> CustomerPII | None:
    """The customer's personal fields in clear, or None for an unknown customer. Raises
    UndecryptableField when no configured key opens them (the message names no value)."""
    row = session.get(CustomerRow, customer_id)
    if row is None:
        return None
    return _decrypted(FieldCipher.from_settings(settings), row)


def read_customers(
    session: Session, settings: Settings, customer_ids: Collection[str]
) -> dict[str, CustomerPII]:
    """Several customers' personal fields in clear, by customer_id (unknown ids are left out)."""
    if not customer_ids:
        return {}
    cipher = FieldCipher.from_settings(settings)
    rows = session.scalars(select(CustomerRow).where(CustomerRow.customer_id.in_(customer_ids)))
    return {row.customer_id: _decrypted(cipher, row) for row in rows}


def _find(session: Session, settings: Settings, fieldname: str, value: str) -> str | None:
    normalised = HASHED[fieldname](value)
    if not normalised:
        return None
    cipher = FieldCipher.from_settings(settings)
    column = getattr(CustomerRow, f"{fieldname}_hash")
    # Every key's hash: during a rotation a row may still carry the hash under an older key.
    found = session.scalars(
        select(CustomerRow.customer_id).where(column.in_(cipher.lookup_hashes(normalised))).limit(2)
    ).all()
    # Two customers sharing a number (a family phone): naming either one would be a guess.
    return found[0] if len(found) == 1 else None


def find_customer_by_phone(session: Session, settings: Settings, phone: str) -> str | None:
    """The customer_id whose mobile number is `phone` (spaces, dashes and +86 allowed), or None
    when no customer or more than one has it."""
    return _find(session, settings, "phone", phone)


def find_customer_by_national_id(
    session: Session, settings: Settings, national_id: str
) -> str | None:
    """The customer_id with this resident ID number, or None (none, or more than one)."""
    return _find(session, settings, "national_id", national_id)


# ---------------------------------------------------------------------------------------------
# Masking


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


# ---------------------------------------------------------------------------------------------
# Key rotation and checking (`huancui keys rotate|check`), one batch of customers at a time


@dataclass
class KeyBatch:
    """What one batch of customers (by customer_id, after `after`) looked like or became.
    Counts and customer ids only: never a value."""

    last_customer_id: str | None = None
    rows: int = 0
    rows_rewritten: int = 0
    values_encrypted_from_clear: int = 0
    values_reencrypted: int = 0
    hashes_rewritten: int = 0
    rows_under_old_key: int = 0
    rows_in_clear: int = 0
    unreadable_customer_ids: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "rows_rewritten": self.rows_rewritten,
            "values_encrypted_from_clear": self.values_encrypted_from_clear,
            "values_reencrypted": self.values_reencrypted,
            "hashes_rewritten": self.hashes_rewritten,
            "rows_under_old_key": self.rows_under_old_key,
            "rows_in_clear": self.rows_in_clear,
            "rows_unreadable": len(self.unreadable_customer_ids),
        }


def _batch(
    session: Session, after: str | None, limit: int, *, lock: bool = False
) -> list[CustomerRow]:
    query = select(CustomerRow).order_by(CustomerRow.customer_id).limit(limit)
    if lock:
        # An import committing between this read and the rotation's write would otherwise
        # have its new values overwritten by the old ones, re-encrypted (on PostgreSQL; SQLite
        # refuses such a stale write, and `keys rotate` is simply run again).
        query = query.with_for_update()
    if after is not None:
        query = query.where(CustomerRow.customer_id > after)
    return list(session.scalars(query))


def _examine(cipher: FieldCipher, row: CustomerRow, batch: KeyBatch) -> dict[str, Any] | None:
    """The row's columns as the newest key wants them, or None when nothing changes; counts
    what it sees into `batch`. Raises UndecryptableField when no key opens a value."""
    changes: dict[str, Any] = {}
    clear: dict[str, str] = {}
    in_clear = old_key = False
    for f in PII_FIELDS:
        value: str | None = getattr(row, f"{f}_encrypted")
        if value is None:
            continue
        if not looks_encrypted(value):
            in_clear = True
            clear[f] = value
            changes[f"{f}_encrypted"] = cipher.encrypt(value)
            batch.values_encrypted_from_clear += 1
            continue
        if f in HASHED:
            clear[f] = cipher.decrypt(value)
        if not cipher.is_current(value):
            old_key = True
            changes[f"{f}_encrypted"] = cipher.rotate(value)
            batch.values_reencrypted += 1
    for f, normalise in HASHED.items():
        expected = cipher.lookup_hash(normalise(clear.get(f, "")))
        if getattr(row, f"{f}_hash") != expected:
            changes[f"{f}_hash"] = expected
            batch.hashes_rewritten += 1
    batch.rows_in_clear += int(in_clear)
    batch.rows_under_old_key += int(old_key and not in_clear)
    return changes or None


def rotate_batch(
    session: Session, cipher: FieldCipher, *, after: str | None, limit: int
) -> KeyBatch:
    """Re-encrypt the next `limit` customers after `after` with the newest key (a clear value
    left by a database older than encryption is encrypted) and rewrite their lookup hashes.
    Rows already under the newest key are left alone, so running it again is harmless and an
    interrupted rotation simply continues. Rows no key opens are counted, not changed."""
    batch = KeyBatch()
    updates: list[dict[str, Any]] = []
    for row in _batch(session, after, limit, lock=True):
        batch.rows += 1
        batch.last_customer_id = row.customer_id
        try:
            changes = _examine(cipher, row, batch)
        except UndecryptableField:
            batch.unreadable_customer_ids.append(row.customer_id)
            continue
        if changes is not None:
            updates.append({"customer_id": row.customer_id, **changes})
    if updates:
        session.execute(update(CustomerRow), updates)
    batch.rows_rewritten = len(updates)
    return batch


def check_batch(
    session: Session, cipher: FieldCipher, *, after: str | None, limit: int
) -> KeyBatch:
    """Whether the next `limit` customers after `after` open with the configured keys, and how
    many a rotation would still change (counted as rows_rewritten). Changes nothing."""
    batch = KeyBatch()
    for row in _batch(session, after, limit):
        batch.rows += 1
        batch.last_customer_id = row.customer_id
        try:
            if _examine(cipher, row, batch) is not None:
                batch.rows_rewritten += 1
        except UndecryptableField:
            batch.unreadable_customer_ids.append(row.customer_id)
    return batch
