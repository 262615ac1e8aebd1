"""change feed: the registry's students and households, in commit-safe order (services/kit/changes.py)

Revision ID: a16c00000004
Revises: e5b2c7d91f38
Create Date: 2026-12-13 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit import changes
from services.kit.rls import AREA, SCHOOL, rows

revision: str = "a16c00000004"
down_revision: str | None = "e5b2c7d91f38"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "registry"
TRACKED = [
    changes.Tracked("student", "student"),
    # A household lies in its village (its area code); it has no school.
    changes.Tracked("household", "household", school="NULL", village="area_code"),
]
# As the tables' own walls: a school user sees its students and the households of its county.
WALL = {
    **rows("area_code", "school_code", "village_code"),
    "school": f"(school_code = {SCHOOL} OR (resource = 'household' AND starts_with(area_code, left({AREA}, 6))))",
}


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
