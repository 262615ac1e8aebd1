"""dead letters (consumers never loop on an event) and outbox positions (X-Event-Position)

Revision ID: d3a9b72f1c33
Revises: 3c8f5a0d6e12
Create Date: 2026-12-06 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit.events import backbone_ddl

revision: str = "d3a9b72f1c33"
down_revision: str | None = "3c8f5a0d6e12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for stmt in backbone_ddl("dropout"):
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP TABLE dropout.dead_letter")
    op.execute("ALTER TABLE dropout.outbox DROP COLUMN position")
