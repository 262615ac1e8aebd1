"""row-level security: the second wall on every scoped table of the dropout service (services/kit/rls.py)

Revision ID: 3c8f5a0d6e12
Revises: 4f12ce93c0e9
Create Date: 2026-11-25 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit.rls import child_of, rows, unwall_ddl, wall_ddl

revision: str = "3c8f5a0d6e12"
down_revision: str | None = "4f12ce93c0e9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "dropout"
# A case, a placement and a home-teaching session follow their student (its school, its village).
# Their lists join the student anyway, but a wall that looked the student up for every row
# (EXISTS) would cost a probe per row and sway the planner; so each carries its student's codes,
# kept by triggers: copied when the row is written, moved when the student moves (projection).
FOLLOWERS = ("dropout_case", "placement", "home_teaching_session")
CODES = ("area_code", "school_code", "village_code")
WALLS = {
    "student": rows("area_code", "school_code", "village_code"),
    "absence": rows("area_code", "school_code", "village_code"),
    "task": rows("area_code", "school_code", "village_code"),
    **dict.fromkeys(FOLLOWERS, rows("area_code", "school_code", "village_code")),
    "case_action": child_of("dropout.dropout_case", "case_id"),
    # Semester-start checks are the schools' and their areas'; village users have none.
    "verification": {**rows("area_code", "school_code"), "village": "false"},
    "verification_item": child_of("dropout.verification", "verification_id"),
}
# dropout.calendar_day (school days of an area, public) is reference data, not walled.

COPY_CODES = """
CREATE OR REPLACE FUNCTION dropout.copy_student_codes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT s.area_code, s.school_code, s.village_code INTO NEW.area_code, NEW.school_code, NEW.village_code
    FROM dropout.student s WHERE s.id = NEW.student_id;
    RETURN NEW;
END $$
"""
MOVE_CODES = """
CREATE OR REPLACE FUNCTION dropout.move_student_codes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dropout.dropout_case SET area_code = NEW.area_code, school_code = NEW.school_code,
        village_code = NEW.village_code WHERE student_id = NEW.id;
    UPDATE dropout.placement SET area_code = NEW.area_code, school_code = NEW.school_code,
        village_code = NEW.village_code WHERE student_id = NEW.id;
    UPDATE dropout.home_teaching_session SET area_code = NEW.area_code, school_code = NEW.school_code,
        village_code = NEW.village_code WHERE student_id = NEW.id;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute(COPY_CODES)
    op.execute(MOVE_CODES)
    for table in FOLLOWERS:
        op.execute(
            f"ALTER TABLE dropout.{table} ADD COLUMN area_code varchar(12), "
            "ADD COLUMN school_code varchar(10), ADD COLUMN village_code varchar(12)"
        )
        op.execute(
            f"UPDATE dropout.{table} t SET area_code = s.area_code, school_code = s.school_code, "  # noqa: S608
            "village_code = s.village_code FROM dropout.student s WHERE s.id = t.student_id"
        )
        op.execute(
            f"CREATE TRIGGER copy_student_codes BEFORE INSERT OR UPDATE OF student_id ON dropout.{table} "
            "FOR EACH ROW EXECUTE FUNCTION dropout.copy_student_codes()"
        )
    op.execute(
        "CREATE TRIGGER move_student_codes AFTER UPDATE OF area_code, school_code, village_code "
        "ON dropout.student FOR EACH ROW WHEN (OLD.area_code IS DISTINCT FROM NEW.area_code "
        "OR OLD.school_code IS DISTINCT FROM NEW.school_code OR OLD.village_code IS DISTINCT FROM "
        "NEW.village_code) EXECUTE FUNCTION dropout.move_student_codes()"
    )
    for table, wall in WALLS.items():
        for stmt in wall_ddl(SCHEMA, table, wall):
            op.execute(stmt)


def downgrade() -> None:
    for table in WALLS:
        for stmt in unwall_ddl(SCHEMA, table):
            op.execute(stmt)
    op.execute("DROP TRIGGER IF EXISTS move_student_codes ON dropout.student")
    for table in FOLLOWERS:
        op.execute(f"DROP TRIGGER IF EXISTS copy_student_codes ON dropout.{table}")
        op.execute(f"ALTER TABLE dropout.{table} DROP COLUMN {', DROP COLUMN '.join(CODES)}")
    op.execute("DROP FUNCTION IF EXISTS dropout.move_student_codes()")
    op.execute("DROP FUNCTION IF EXISTS dropout.copy_student_codes()")
