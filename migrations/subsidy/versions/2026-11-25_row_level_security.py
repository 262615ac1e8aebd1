"""row-level security: the second wall on every scoped table of the subsidy service (services/kit/rls.py)

Revision ID: 9a4e2c7f1b36
Revises: 0782dd0c6413
Create Date: 2026-11-25 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit.rls import child_of, rows, unwall_ddl, wall_ddl

revision: str = "9a4e2c7f1b36"
down_revision: str | None = "0782dd0c6413"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "subsidy"
WALLS = {
    "student": rows("area_code", "school_code", "village_code"),
    "disbursement": rows("area_code", "school_code", "village_code"),
    # A village user sees the batches (public notices) that list its children.
    "batch": {
        **rows("area_code", "school_code"),
        "village": "EXISTS (SELECT 1 FROM subsidy.disbursement d WHERE d.batch_id = batch.id)",
    },
    "batch_step": child_of("subsidy.batch", "batch_id"),
    "exclusion": child_of("subsidy.batch", "batch_id"),
    "objection": child_of("subsidy.batch", "batch_id"),
    "notice_ack": child_of("subsidy.student", "student_id", key="student_id"),
}
# Reference data is not walled: subsidy.school (names and areas of schools) and subsidy.policy
# (published rules; a parent's notice names the policies of a school in another county).


def upgrade() -> None:
    for table, wall in WALLS.items():
        for stmt in wall_ddl(SCHEMA, table, wall):
            op.execute(stmt)


def downgrade() -> None:
    for table in WALLS:
        for stmt in unwall_ddl(SCHEMA, table):
            op.execute(stmt)
