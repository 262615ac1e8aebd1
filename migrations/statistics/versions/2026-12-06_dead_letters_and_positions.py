"""dead letters (consumers never loop on an event) and outbox positions (X-Event-Position)

Revision ID: e4b0c83a2d44
Revises: 6b2d8f3e9a57
Create Date: 2026-12-06 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit.events import backbone_ddl

revision: str = "e4b0c83a2d44"
down_revision: str | None = "6b2d8f3e9a57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for stmt in backbone_ddl("statistics"):
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP TABLE statistics.dead_letter")
    op.execute("ALTER TABLE statistics.outbox DROP COLUMN position")
