"""customers: personal fields encrypted at rest, with lookup hashes for national ID and phone

The migration cannot know the key, so it only changes the columns: name, national_id, phone,
email and birth_date become name_encrypted … birth_date_encrypted (text), and national_id_hash
and phone_hash are added (NULL). Values already stored stay as they were, in clear, until
`huancui keys rotate` encrypts every value that is not yet a Fernet token and fills in the
hashes (docs/security.md); `huancui keys check` fails until it has. A fresh database is
written encrypted from the first import.

Downgrade restores the clear-text column names and types; it is meant for a database that has
not been encrypted yet (on PostgreSQL, ciphertext does not fit the old lengths and the downgrade
stops with nothing changed).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 02:30:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# (clear-text column, its old type, nullable); each becomes <column>_encrypted, text.
_FIELDS: list[tuple[str, sa.types.TypeEngine[Any], bool]] = [
    ("name", sa.String(length=64), False),
    ("national_id", sa.String(length=18), False),
    ("phone", sa.String(length=11), False),
    ("email", sa.String(length=254), True),
    ("birth_date", sa.Date(), True),
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _switch_sqlite(*, old: list[tuple[str, str]], new: list[tuple[str, str, str]]) -> None:
    """Replace SQLite columns `old` (name, name they are copied to) by `new` (name, declared
    type, constraint). Columns are added, copied and dropped in place: rebuilding the table
    would drop it while accounts reference it, which SQLite's foreign keys refuse."""
    for name, declared, constraint in new:
        op.execute(f"ALTER TABLE customers ADD COLUMN {name} {declared}{constraint}")
    copies = ", ".join(f"{target} = {source}" for source, target in old)
    op.execute(f"UPDATE customers SET {copies}")
    for source, _target in old:
        op.execute(f"ALTER TABLE customers DROP COLUMN {source}")


def upgrade() -> None:
    if _sqlite():
        # SQLite cannot add a NOT NULL column without a default; the application always
        # writes the value, so the default '' never shows.
        _switch_sqlite(
            old=[(column, f"{column}_encrypted") for column, _, _ in _FIELDS],
            new=[
                (f"{column}_encrypted", "TEXT", "" if nullable else " NOT NULL DEFAULT ''")
                for column, _, nullable in _FIELDS
            ],
        )
    else:
        for column, old_type, nullable in _FIELDS:
            op.alter_column(
                "customers",
                column,
                new_column_name=f"{column}_encrypted",
                existing_type=old_type,
                type_=sa.Text(),
                existing_nullable=nullable,
                postgresql_using=f"{column}::text",
            )
    op.add_column("customers", sa.Column("national_id_hash", sa.String(length=64), nullable=True))
    op.add_column("customers", sa.Column("phone_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_customers_national_id_hash", "customers", ["national_id_hash"])
    op.create_index("ix_customers_phone_hash", "customers", ["phone_hash"])


def downgrade() -> None:
    op.drop_index("ix_customers_phone_hash", table_name="customers")
    op.drop_index("ix_customers_national_id_hash", table_name="customers")
    op.drop_column("customers", "phone_hash")
    op.drop_column("customers", "national_id_hash")
    if _sqlite():
        declared = {"name": "VARCHAR(64)", "national_id": "VARCHAR(18)", "phone": "VARCHAR(11)",
                    "email": "VARCHAR(254)", "birth_date": "DATE"}  # fmt: skip
        _switch_sqlite(
            old=[(f"{column}_encrypted", column) for column, _, _ in _FIELDS],
            new=[
                (column, declared[column], "" if nullable else " NOT NULL DEFAULT ''")
                for column, _, nullable in _FIELDS
            ],
        )
        return
    for column, old_type, nullable in _FIELDS:
        using = f"{column}_encrypted::date" if column == "birth_date" else None
        op.alter_column(
            "customers",
            f"{column}_encrypted",
            new_column_name=column,
            existing_type=sa.Text(),
            type_=old_type,
            existing_nullable=nullable,
            postgresql_using=using,
        )
