"""dead letters (consumers never loop on an event), outbox positions (X-Event-Position), batch as_of

Revision ID: c2f8a61e0b22
Revises: 9a4e2c7f1b36
Create Date: 2026-12-06 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit.events import backbone_ddl

revision: str = "c2f8a61e0b22"
down_revision: str | None = "9a4e2c7f1b36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for stmt in backbone_ddl("subsidy"):
        op.execute(stmt)
    # What a batch was generated from (kit.barrier): producer → outbox position.
    op.execute("ALTER TABLE subsidy.batch ADD COLUMN as_of jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE subsidy.batch DROP COLUMN as_of")
    op.execute("DROP TABLE subsidy.dead_letter")
    op.execute("ALTER TABLE subsidy.outbox DROP COLUMN position")
