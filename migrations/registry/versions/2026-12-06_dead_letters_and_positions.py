"""dead letters (consumers never loop on an event) and outbox positions (X-Event-Position)

Revision ID: b7e1d40c9a11
Revises: 7d3b9e41c2a8
Create Date: 2026-12-06 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit.events import backbone_ddl

revision: str = "b7e1d40c9a11"
down_revision: str | None = "7d3b9e41c2a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for stmt in backbone_ddl("registry"):
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP TABLE registry.dead_letter")
    op.execute("ALTER TABLE registry.outbox DROP COLUMN position")
