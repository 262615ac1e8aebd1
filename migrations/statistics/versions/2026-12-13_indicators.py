"""indicators, breakdowns by home village: payment lines' shares and hardship level, notices, policies

Revision ID: a14s00000007
Revises: 3c9e1a7d5b20
Create Date: 2026-12-13 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from services.kit.rls import rows, unwall_ddl, wall_ddl

revision: str = "a14s00000007"
down_revision: str | None = "3c9e1a7d5b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "statistics"


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    # A line's funding shares (fen per share), hardship level, and the failed line it pays again.
    op.add_column("payment_fact", sa.Column("shares", postgresql.JSONB(), nullable=True), schema=SCHEMA)
    op.add_column("payment_fact", sa.Column("hardship_level", _text(20), nullable=True), schema=SCHEMA)
    op.add_column("payment_fact", sa.Column("repays_id", sa.Uuid(), nullable=True), schema=SCHEMA)
    op.add_column("payment_fact", sa.Column("failure_reason", _text(200), nullable=True), schema=SCHEMA)
    op.create_index(
        "ix_enrollment_span_school_code", "enrollment_span", ["school_code"], unique=False, schema=SCHEMA
    )
    # 告知书 acknowledged by parents (告知率 = acknowledged ÷ issued).
    op.create_table(
        "notice_fact",
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("semester", _text(12), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("area_code", _text(12), nullable=True),
        sa.Column("school_code", _text(10), nullable=True),
        sa.Column("village_code", _text(12), nullable=True),
        sa.PrimaryKeyConstraint("student_id", "semester", name=op.f("pk_notice_fact")),
        schema=SCHEMA,
    )
    for stmt in wall_ddl(SCHEMA, "notice_fact", rows("area_code", "school_code", "village_code")):
        op.execute(stmt)
    # Hardship identifications (家庭经济困难学生认定): a level approved by the county is an eligibility input.
    op.create_table(
        "hardship_fact",
        sa.Column("hardship_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("level", _text(20), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("area_code", _text(12), nullable=True),
        sa.Column("school_code", _text(10), nullable=True),
        sa.Column("village_code", _text(12), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hardship_id", name=op.f("pk_hardship_fact")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_hardship_fact_student_id",
        "hardship_fact",
        ["student_id", "school_year"],
        unique=False,
        schema=SCHEMA,
    )
    for stmt in wall_ddl(SCHEMA, "hardship_fact", rows("area_code", "school_code", "village_code")):
        op.execute(stmt)
    # Policies (reference data, not walled, like subsidy.policy): who is eligible in which semester.
    op.create_table(
        "policy_fact",
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("code", _text(40), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("kind", _text(20), nullable=False),
        sa.Column("stages", postgresql.ARRAY(sa.String(length=30)), nullable=False, server_default="{}"),
        sa.Column("categories", postgresql.ARRAY(sa.String(length=30)), nullable=False, server_default="{}"),
        sa.Column("boarding_only", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("non_boarders_only", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("terms", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("area_code", _text(12), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("pk_policy_fact")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("policy_fact", schema=SCHEMA)
    for stmt in unwall_ddl(SCHEMA, "hardship_fact"):
        op.execute(stmt)
    op.drop_table("hardship_fact", schema=SCHEMA)
    for stmt in unwall_ddl(SCHEMA, "notice_fact"):
        op.execute(stmt)
    op.drop_table("notice_fact", schema=SCHEMA)
    op.drop_index("ix_enrollment_span_school_code", table_name="enrollment_span", schema=SCHEMA)
    for column in ("failure_reason", "repays_id", "hardship_level", "shares"):
        op.drop_column("payment_fact", column, schema=SCHEMA)
