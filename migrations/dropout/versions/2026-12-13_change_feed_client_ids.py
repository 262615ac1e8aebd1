"""change feed of the dropout service: cases, tasks, absences, in commit-safe order (services/kit/changes.py)

Client-generated ids need no schema change: the ids the apps send are the records' primary keys.

Revision ID: a16c00000006
Revises: f15b0c0de002
Create Date: 2026-12-13 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit import changes
from services.kit.rls import rows

revision: str = "a16c00000006"
down_revision: str | None = "f15b0c0de002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "dropout"
# A case carries its student's codes (kept by triggers: when the student moves, the case's codes move,
# and the feed says the case left the old area); an action bumps its case's version.
TRACKED = [
    changes.Tracked("dropout_case", "case"),
    changes.Tracked("task", "task"),
    changes.Tracked("absence", "absence"),
]
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
