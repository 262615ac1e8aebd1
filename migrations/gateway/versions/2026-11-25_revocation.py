"""revocation: ended sessions, while their access tokens may live; platform clients' token session

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
        sa.Column("sid", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocation")),
        sa.UniqueConstraint("sid", name=op.f("uq_revocation_sid")),
        schema="gateway",
    )
    op.create_index(op.f("ix_revocation_created_at"), "revocation", ["created_at"], schema="gateway")
    # A platform client's access tokens carry this as their session id (`sid`).
    op.add_column(
        "api_client",
        sa.Column("token_session", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        schema="gateway",
    )


def downgrade() -> None:
    op.drop_column("api_client", "token_session", schema="gateway")
    op.drop_index(op.f("ix_revocation_created_at"), table_name="revocation", schema="gateway")
    op.drop_table("revocation", schema="gateway")
