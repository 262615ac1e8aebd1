"""refresh grace: the pair a refresh token was rotated into, sealed under that token; idempotency
keys kept 7 days (a setting: nothing in the schema) swept by their created_at index

Revision ID: a16g00000008
Revises: 3b8e6d1f0c42
Create Date: 2026-12-13 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a16g00000008"
down_revision: str | None = "3b8e6d1f0c42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("refresh_token", sa.Column("successor_sealed", sa.LargeBinary(), nullable=True),
                  schema="gateway")


def downgrade() -> None:
    op.drop_column("refresh_token", "successor_sealed", schema="gateway")
