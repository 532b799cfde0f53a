"""portal: one-time sign-in codes and CSAT ratings

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "one_time_codes",
        sa.Column("code_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code_id", name=op.f("pk_one_time_codes")),
    )
    op.create_index("ix_one_time_codes_customer", "one_time_codes", ["customer_id", "created_at"])
    op.create_table(
        "csat_ratings",
        sa.Column("rating_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_csat_ratings_score_1_to_5")),
        sa.PrimaryKeyConstraint("rating_id", name=op.f("pk_csat_ratings")),
    )
    op.create_index("ix_csat_ratings_created", "csat_ratings", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_csat_ratings_created", table_name="csat_ratings")
    op.drop_table("csat_ratings")
    op.drop_index("ix_one_time_codes_customer", table_name="one_time_codes")
    op.drop_table("one_time_codes")
