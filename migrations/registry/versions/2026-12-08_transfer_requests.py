"""transfer requests: a move into another county's school waits for that county (registry.transfer_request)

Revision ID: c41f7a2e9d05
Revises: b7e1d40c9a11
Create Date: 2026-12-08 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op
from sqlalchemy.dialects import postgresql

from services.kit.rls import AREA, SCHOOL, unwall_ddl, wall_ddl

revision: str = "c41f7a2e9d05"
down_revision: str | None = "b7e1d40c9a11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "registry"
# Both ends see a request: the sending side (where the student is) and the receiving side.
EITHER_AREA = f"(starts_with(from_area_code, {AREA}) OR starts_with(to_area_code, {AREA}))"
WALL = {
    "area": EITHER_AREA,
    "school": f"(from_school_code = {SCHOOL} OR to_school_code = {SCHOOL})",
    "village": "false",
}


def upgrade() -> None:
    op.create_table(
        "transfer_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("from_school_code", sa.String(length=10), nullable=True),
        sa.Column("from_area_code", sa.String(length=12), nullable=False),
        sa.Column("to_school_code", sa.String(length=10), nullable=False),
        sa.Column("to_area_code", sa.String(length=12), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("change_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["student_id"], ["registry.student.id"],
                                name=op.f("fk_transfer_request_student_id_student")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_request")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_transfer_request_student_id"), "transfer_request", ["student_id"], schema=SCHEMA)
    op.create_index(op.f("ix_transfer_request_status"), "transfer_request", ["status"], schema=SCHEMA)
    op.create_index(op.f("ix_transfer_request_updated_at"), "transfer_request", ["updated_at"], schema=SCHEMA)
    # At most one request waiting per student.
    op.create_index("ix_transfer_request_one_pending", "transfer_request", ["student_id"], unique=True,
                    schema=SCHEMA, postgresql_where=sa.text("status = 'pending'"))
    for stmt in wall_ddl(SCHEMA, "transfer_request", WALL):
        op.execute(stmt)


def downgrade() -> None:
    for stmt in unwall_ddl(SCHEMA, "transfer_request"):
        op.execute(stmt)
    op.drop_table("transfer_request", schema=SCHEMA)
