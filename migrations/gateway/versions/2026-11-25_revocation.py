"""revocation: logged-out sessions and withdrawn subjects, while their access tokens may live

Revision ID: 5c1f0b7e2a91
Revises: eb2e7a2fee56
Create Date: 2026-11-25 01:10:00+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1f0b7e2a91"
down_revision: str | None = "eb2e7a2fee56"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revocation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sid", sa.Uuid(), nullable=True),
        sa.Column("sub", sa.String(length=64), nullable=True),
        sa.Column("issued_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(sid IS NOT NULL) <> (sub IS NOT NULL AND issued_before IS NOT NULL)",
            name=op.f("ck_revocation_session_or_subject"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocation")),
        sa.UniqueConstraint("sid", name=op.f("uq_revocation_sid")),
        schema="gateway",
    )
    op.create_index(op.f("ix_revocation_created_at"), "revocation", ["created_at"], schema="gateway")


def downgrade() -> None:
    op.drop_index(op.f("ix_revocation_created_at"), table_name="revocation", schema="gateway")
    op.drop_table("revocation", schema="gateway")
