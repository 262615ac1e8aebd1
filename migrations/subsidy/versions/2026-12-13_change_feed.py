"""change feed of the subsidy service: disbursements (payment lines), in commit-safe order

See services/kit/changes.py.

Revision ID: a16c00000003
Revises: a13b00000002
Create Date: 2026-12-13 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit import changes
from services.kit.rls import rows

revision: str = "a16c00000003"
down_revision: str | None = "a13b00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "subsidy"
TRACKED = [changes.Tracked("disbursement", "disbursement")]
WALL = rows("area_code", "school_code", "village_code")


def upgrade() -> None:
    for stmt in changes.table_ddl(SCHEMA, WALL):
        op.execute(stmt)
    for t in TRACKED:
        op.execute(changes.backfill_ddl(SCHEMA, t))
        for stmt in changes.capture_ddl(SCHEMA, t):
            op.execute(stmt)


def downgrade() -> None:
    for t in TRACKED:
        for stmt in changes.drop_capture_ddl(SCHEMA, t):
            op.execute(stmt)
    for stmt in changes.drop_table_ddl(SCHEMA):
        op.execute(stmt)
