"""list search and sort indexes: students and households by name (sort=name, keyset paging)

Revision ID: a14l00000005
Revises: a16c00000004
Create Date: 2026-12-13 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a14l00000005"
down_revision: str | None = "a16c00000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# (index, table, columns): `sort=name` pages by (name, id); households by their head's name.
INDEXES = [
    ("ix_student_name_id", "student", ["name", "id"]),
    ("ix_household_head_name_id", "household", ["head_name", "id"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, schema="registry", if_not_exists=True)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table, schema="registry", if_exists=True)
