"""login_failure: failed logins per username and client IP, and per username (back-off)

Revision ID: 3b8e6d1f0c42
Revises: 5c1f0b7e2a91
Create Date: 2026-12-07 09:00:00+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b8e6d1f0c42"
down_revision: str | None = "5c1f0b7e2a91"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failure")),
        schema="gateway",
    )


def downgrade() -> None:
    op.drop_table("login_failure", schema="gateway")
