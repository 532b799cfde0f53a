"""cases: case claims (one collector per case) and contact outcomes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_claims",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("collector", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_case_claims")),
    )
    op.create_index("ix_case_claims_collector", "case_claims", ["collector"])
    op.create_table(
        "contact_outcomes",
        sa.Column("outcome_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("arrangement_id", sa.Integer(), nullable=True),
        sa.Column("hardship_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_items.work_item_id"],
            name=op.f("fk_contact_outcomes_work_item_id_work_items"),
        ),
        sa.PrimaryKeyConstraint("outcome_id", name=op.f("pk_contact_outcomes")),
    )
    op.create_index(
        "ix_contact_outcomes_account", "contact_outcomes", ["account_id", "occurred_at"]
    )
    op.create_index("ix_contact_outcomes_actor", "contact_outcomes", ["actor", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_contact_outcomes_actor", table_name="contact_outcomes")
    op.drop_index("ix_contact_outcomes_account", table_name="contact_outcomes")
    op.drop_table("contact_outcomes")
    op.drop_index("ix_case_claims_collector", table_name="case_claims")
    op.drop_table("case_claims")
