"""roster children: the student projection keeps the ID number's hash and mask and the roster's household

A platform roster child the registry does not know gets a stand-in `student` row (status
`not_registered`) so its case has a village, a name and a masked ID number; when the registry
registers a student with the same `id_number_hash`, the case moves onto that student.

Revision ID: 7e2b9c4d1a08
Revises: d3a9b72f1c33
Create Date: 2026-12-08 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7e2b9c4d1a08"
down_revision: str | None = "d3a9b72f1c33"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE dropout.student ADD COLUMN id_number_hash varchar(64), "
        "ADD COLUMN id_number_masked varchar(18), ADD COLUMN household_platform_id varchar(40)"
    )
    op.execute("CREATE INDEX ix_student_id_number_hash ON dropout.student (id_number_hash)")


def downgrade() -> None:
    op.execute("DROP INDEX dropout.ix_student_id_number_hash")
    op.execute(
        "ALTER TABLE dropout.student DROP COLUMN id_number_hash, DROP COLUMN id_number_masked, "
        "DROP COLUMN household_platform_id"
    )
