"""row-level security: the second wall on every scoped table of the registry (see services/kit/rls.py)

Revision ID: 7d3b9e41c2a8
Revises: ae666d58a9e7
Create Date: 2026-11-25 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit.rls import AREA, SCHOOL, child_of, lineage, rows, unwall_ddl, wall_ddl

revision: str = "7d3b9e41c2a8"
down_revision: str | None = "ae666d58a9e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "registry"
# A school user sees the households of its county (it links them when registering a child) and
# those of its own students wherever they live (a migrant child's household).
OWN_STUDENTS = f"s.household_id = household.id AND s.school_code = {SCHOOL}"
HOUSEHOLD_OF_SCHOOL = f"(starts_with(area_code, left({AREA}, 6)) OR EXISTS (SELECT 1 FROM registry.student s WHERE {OWN_STUDENTS}))"  # noqa: S608, E501
WALLS = {
    # The student: by its school's area, its school (school users), its household's village.
    "student": rows("area_code", "school_code", "village_code"),
    "enrollment_change": child_of("registry.student", "student_id"),
    "household": {**rows("area_code", None, "area_code"), "school": HOUSEHOLD_OF_SCHOOL},
    # Village users see the schools of their township (where their children study).
    "school": {**rows("area_code", "code"), "village": f"starts_with(area_code, left({AREA}, 9))"},
    # Areas: the caller's subtree and its ancestors (names of the places above it).
    "area": lineage("code"),
    "import_job": rows("area_code", "school_code"),
}


def upgrade() -> None:
    for table, wall in WALLS.items():
        for stmt in wall_ddl(SCHEMA, table, wall):
            op.execute(stmt)


def downgrade() -> None:
    for table in WALLS:
        for stmt in unwall_ddl(SCHEMA, table):
            op.execute(stmt)
