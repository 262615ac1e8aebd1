"""row-level security: the second wall on every scoped table of the statistics service (services/kit/rls.py)

Revision ID: 6b2d8f3e9a57
Revises: be70f89328aa
Create Date: 2026-11-25 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit.rls import AREA, child_of, lineage, rows, unwall_ddl, wall_ddl

revision: str = "6b2d8f3e9a57"
down_revision: str | None = "be70f89328aa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "statistics"
FACTS = ("student_fact", "enrollment_span", "payment_fact", "case_fact", "placement_fact", "arrival_fact")
WALLS = {
    **{table: rows("area_code", "school_code", "village_code") for table in FACTS},
    "check_fact": rows("area_code", "school_code"),
    # Households live in villages; a school user's wall for them is its county.
    "household_fact": {**rows("area_code", None), "school": f"starts_with(area_code, left({AREA}, 6))"},
    "held_event": rows("area_code", None),
    # Verification jobs: inside the caller's area or above it; their findings and rows follow.
    "verification": lineage("area_code"),
    "verification_finding": {"area": rows("area_code")["area"]},
    "roster_row": child_of("statistics.verification", "verification_id"),
}
# year_lock and locked_figure (which figures are final, and their totals) are not walled.


def upgrade() -> None:
    for table, wall in WALLS.items():
        for stmt in wall_ddl(SCHEMA, table, wall):
            op.execute(stmt)


def downgrade() -> None:
    for table in WALLS:
        for stmt in unwall_ddl(SCHEMA, table):
            op.execute(stmt)
