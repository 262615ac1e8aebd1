"""figures for the whole path: compulsory flag and grade on the projections, loans, aid received elsewhere

Revision ID: 3c9e1a7d5b20
Revises: e4b0c83a2d44
Create Date: 2026-12-12 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from services.kit.rls import rows, unwall_ddl, wall_ddl

revision: str = "3c9e1a7d5b20"
down_revision: str | None = "e4b0c83a2d44"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "statistics"
NEW = ("loan_fact", "aid_elsewhere_fact")
# Existing rows: the contracts rule (vocabulary.compulsory_stage) in SQL, once. Old spans carry no grade,
# so a special-stage span takes its student's current grade; a projection rebuild makes them exact.
RULE = "stage IN ('primary', 'junior') OR (stage = 'special' AND grade BETWEEN 1 AND 9)"


def _codes() -> list[sa.Column]:
    return [
        sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("school_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("village_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    ]


def upgrade() -> None:
    op.add_column("student_fact", sa.Column("compulsory", sa.Boolean(), nullable=False,
                                            server_default=sa.false()), schema=SCHEMA)
    op.add_column("enrollment_span", sa.Column("grade", sa.Integer(), nullable=True), schema=SCHEMA)
    op.add_column("enrollment_span", sa.Column("compulsory", sa.Boolean(), nullable=False,
                                               server_default=sa.false()), schema=SCHEMA)
    op.execute(f"UPDATE statistics.student_fact SET compulsory = true WHERE {RULE}")  # noqa: S608
    op.execute(
        "UPDATE statistics.enrollment_span e SET compulsory = true FROM statistics.student_fact s "
        "WHERE s.student_id = e.student_id AND (e.stage IN ('primary', 'junior') "
        "OR (e.stage = 'special' AND s.stage = 'special' AND s.grade BETWEEN 1 AND 9))"
    )
    op.create_table(
        "loan_fact",
        sa.Column("loan_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("lender", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("loan_kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("repayment_status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        *_codes(),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_loan_fact")),
        schema=SCHEMA,
    )
    op.create_table(
        "aid_elsewhere_fact",
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("semester", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("policy_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("payer", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        *_codes(),
        sa.Column("cancelled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_aid_elsewhere_fact")),
        schema=SCHEMA,
    )
    for table, columns in {
        "loan_fact": ("student_id", "year", "area_code"),
        "aid_elsewhere_fact": ("student_id", "semester", "area_code"),
    }.items():
        for column in columns:
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False, schema=SCHEMA)
    for table in NEW:
        for stmt in wall_ddl(SCHEMA, table, rows("area_code", "school_code", "village_code")):
            op.execute(stmt)


def downgrade() -> None:
    for table in NEW:
        for stmt in unwall_ddl(SCHEMA, table):
            op.execute(stmt)
        op.drop_table(table, schema=SCHEMA)
    op.drop_column("enrollment_span", "compulsory", schema=SCHEMA)
    op.drop_column("enrollment_span", "grade", schema=SCHEMA)
    op.drop_column("student_fact", "compulsory", schema=SCHEMA)
