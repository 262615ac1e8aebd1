"""covering indexes on the rollups' members and households (issue 17: a county's figure under 100 ms)

Revision ID: a17r00000002
Revises: a17r00000001
Create Date: 2026-12-15 09:00:00+00:00

A county's members (payment_member) and households (payment_household) lie scattered over the
table (a student's row moves to the table's end whenever a payment of theirs changes), so reading
them through the area or village index fetches one heap page per row. The area and village indexes
now carry every column the figures and the wall read (area, village and school codes, household), so
the subsidy figure's households count whole areas and breakdowns by an index-only scan: its cost
follows the county's rows, in index order, not the pages they are spread over. Semester, stage
and category figures read `sems`, `stage` and `categories` too, so theirs still visit the table.

Deploying: the indexes are rebuilt in the migration's transaction, which holds both tables
exclusively meanwhile (figures and the statistics consumer wait; tens of seconds at 10 M payment
lines). Run it in a maintenance window, or build the new indexes CONCURRENTLY under other names
beforehand and swap them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a17r00000002"
down_revision: str | None = "a17r00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "statistics"
# (index, table, key, the included columns), each replacing the index of the same name.
COVERING = (
    (
        "ix_payment_member_area",
        "payment_member",
        "year, area_code text_pattern_ops",
        "village_code, school_code, household_id",
    ),
    (
        "ix_payment_member_village",
        "payment_member",
        "year, village_code text_pattern_ops",
        "area_code, school_code, household_id",
    ),
    ("ix_payment_household_area", "payment_household", "year, area_code text_pattern_ops", "village_code"),
    ("ix_payment_household_village", "payment_household", "year, village_code text_pattern_ops", "area_code"),
)


def upgrade() -> None:
    for name, table, key, included in COVERING:
        op.execute(f"DROP INDEX IF EXISTS {S}.{name}")
        op.execute(f"CREATE INDEX {name} ON {S}.{table} ({key}) INCLUDE ({included})")


def downgrade() -> None:
    for name, table, key, _ in COVERING:
        op.execute(f"DROP INDEX IF EXISTS {S}.{name}")
        op.execute(f"CREATE INDEX {name} ON {S}.{table} ({key})")
