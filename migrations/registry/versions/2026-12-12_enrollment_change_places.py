"""enrollment changes carry their own places (registry.enrollment_change): both counties keep their part

A graduate enrolled (升学) at a school of another county leaves the sending county's wall with its
student row, but the sending county keeps the history of its graduate: each change now carries the
area of the school it leaves and of the school it leads to, the student's village and the stage it
leaves, and the wall admits a change where the student is visible (as before) or where the change
itself touched the caller's area, school or village. Existing rows are filled from their schools
and students; an index serves the progression list (graduates of a year).

Revision ID: e5b2c7d91f38
Revises: c4a8e2f61d07
Create Date: 2026-12-12 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.rls import AREA, SCHOOL, child_of, unwall_ddl, wall_ddl

revision: str = "e5b2c7d91f38"
down_revision: str | None = "c4a8e2f61d07"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "registry"
TABLE = "enrollment_change"
PARENT = child_of("registry.student", "student_id")
OWN_AREA = (
    f"starts_with(from_area_code, {AREA}) OR starts_with(to_area_code, {AREA}) "
    f"OR starts_with(village_code, {AREA})"
)
WALL = {
    "area": f"({PARENT} OR {OWN_AREA})",
    "school": f"({PARENT} OR from_school_code = {SCHOOL} OR to_school_code = {SCHOOL})",
    "village": f"({PARENT} OR starts_with(village_code, {AREA}))",
}
COLUMNS = ("from_area_code", "to_area_code", "village_code")
FILL = [
    "UPDATE registry.enrollment_change c SET to_area_code = s.area_code "
    "FROM registry.school s WHERE s.code = c.to_school_code",
    "UPDATE registry.enrollment_change c SET from_area_code = s.area_code "
    "FROM registry.school s WHERE s.code = c.from_school_code",
    "UPDATE registry.enrollment_change c SET village_code = st.village_code "
    "FROM registry.student st WHERE st.id = c.student_id",
    "UPDATE registry.enrollment_change c SET from_stage = p.before FROM (SELECT id, lag(stage) OVER "
    "(PARTITION BY student_id ORDER BY created_at, id) AS before FROM registry.enrollment_change) p "
    "WHERE p.id = c.id AND c.from_status IS NOT NULL",
]


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column(TABLE, sa.Column(column, sa.String(length=12), nullable=True), schema=SCHEMA)
    op.add_column(TABLE, sa.Column("from_stage", sa.String(length=20), nullable=True), schema=SCHEMA)
    for stmt in FILL:
        op.execute(stmt)
    op.create_index("ix_enrollment_change_kind_effective_date", TABLE, ["kind", "effective_date"],
                    schema=SCHEMA)
    for stmt in wall_ddl(SCHEMA, TABLE, WALL):
        op.execute(stmt)


def downgrade() -> None:
    for stmt in unwall_ddl(SCHEMA, TABLE):
        op.execute(stmt)
    for stmt in wall_ddl(SCHEMA, TABLE, PARENT):
        op.execute(stmt)
    op.drop_index("ix_enrollment_change_kind_effective_date", TABLE, schema=SCHEMA)
    for column in (*COLUMNS, "from_stage"):
        op.drop_column(TABLE, column, schema=SCHEMA)
