"""support: pairings, helper records, responsible persons, responsibility letters, legal steps

Pairings (结对帮扶) and their records, visit months, a child's responsible persons on the two lines
(双线控辍) with the units' defaults and the signed letters (责任书), legal steps on a case (限期复学
通知书 ...), and a task's named assignee (a helper of ours). Rows about a child carry its codes, kept
by triggers like a case's; each scoped table gets its wall (services/kit/rls.py).

Revision ID: f15a0c0de001
Revises: 7e2b9c4d1a08
Create Date: 2026-12-06 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from services.kit.rls import child_of, lineage, rows, unwall_ddl, wall_ddl

revision: str = "f15a0c0de001"
down_revision: str | None = "7e2b9c4d1a08"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "dropout"
# Rows about one child follow it (its school, its village), like a case: codes copied by a trigger.
FOLLOWERS = ("pairing", "responsible_person", "responsibility_letter")
STUDENT_WALL = rows("area_code", "school_code", "village_code")
WALLS = {
    **dict.fromkeys(FOLLOWERS, STUDENT_WALL),
    "support_record": child_of("dropout.pairing", "pairing_id"),
    "legal_step": child_of("dropout.dropout_case", "case_id"),
    # A visit month of a county is seen by its townships and villages too (and vice versa).
    "support_campaign": lineage("area_code"),
}
# dropout.responsible_default (who holds an office in a school, village or township) is reference
# data, like the calendar: not walled; written only inside the writer's area (responsible/service.py).
MOVE_CODES = """
CREATE OR REPLACE FUNCTION dropout.move_student_codes_support() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dropout.pairing SET area_code = NEW.area_code, school_code = NEW.school_code,
        village_code = NEW.village_code WHERE student_id = NEW.id;
    UPDATE dropout.responsible_person SET area_code = NEW.area_code, school_code = NEW.school_code,
        village_code = NEW.village_code WHERE student_id = NEW.id;
    UPDATE dropout.responsibility_letter SET area_code = NEW.area_code, school_code = NEW.school_code,
        village_code = NEW.village_code WHERE student_id = NEW.id;
    RETURN NULL;
END $$
"""


def upgrade() -> None:

    op.create_table(
        "pairing",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("helper_username", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("helper_name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("helper_phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("helper_title", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("plan", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("school_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("village_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairing")),
        schema="dropout",
    )
    op.create_index(
        "ix_pairing_area_code_prefix",
        "pairing",
        [sa.literal_column("area_code text_pattern_ops")],
        unique=False,
        schema="dropout",
    )
    op.create_index(
        "ix_pairing_helper_username", "pairing", ["helper_username"], unique=False, schema="dropout"
    )
    op.create_index(op.f("ix_pairing_student_id"), "pairing", ["student_id"], unique=False, schema="dropout")
    op.create_index(op.f("ix_pairing_updated_at"), "pairing", ["updated_at"], unique=False, schema="dropout")
    op.create_index(
        "ix_pairing_village_code_prefix",
        "pairing",
        [sa.literal_column("village_code text_pattern_ops")],
        unique=False,
        schema="dropout",
    )
    op.create_table(
        "responsibility_letter",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("signer_name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("evidence_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("school_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("village_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responsibility_letter")),
        schema="dropout",
    )
    op.create_index(
        "ix_responsibility_letter_student",
        "responsibility_letter",
        ["student_id", "role"],
        unique=False,
        schema="dropout",
    )
    op.create_index(
        op.f("ix_responsibility_letter_updated_at"),
        "responsibility_letter",
        ["updated_at"],
        unique=False,
        schema="dropout",
    )
    op.create_table(
        "responsible_default",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("set_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responsible_default")),
        sa.UniqueConstraint("unit_code", "role", name=op.f("uq_responsible_default_unit_code_role")),
        schema="dropout",
    )
    op.create_index(
        op.f("ix_responsible_default_updated_at"),
        "responsible_default",
        ["updated_at"],
        unique=False,
        schema="dropout",
    )
    op.create_table(
        "responsible_person",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("set_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("school_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("village_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responsible_person")),
        sa.UniqueConstraint("student_id", "role", name=op.f("uq_responsible_person_student_id_role")),
        schema="dropout",
    )
    op.create_index(
        op.f("ix_responsible_person_updated_at"),
        "responsible_person",
        ["updated_at"],
        unique=False,
        schema="dropout",
    )
    op.create_table(
        "support_campaign",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_campaign")),
        schema="dropout",
    )
    op.create_index(
        "ix_support_campaign_area_code_prefix",
        "support_campaign",
        [sa.literal_column("area_code text_pattern_ops")],
        unique=False,
        schema="dropout",
    )
    op.create_index(
        op.f("ix_support_campaign_updated_at"),
        "support_campaign",
        ["updated_at"],
        unique=False,
        schema="dropout",
    )
    op.create_table(
        "legal_step",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("step_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("guardian_name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("authority", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("evidence_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("actor_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["dropout.dropout_case.id"], name=op.f("fk_legal_step_case_id_dropout_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_step")),
        schema="dropout",
    )
    op.create_index(op.f("ix_legal_step_case_id"), "legal_step", ["case_id"], unique=False, schema="dropout")
    op.create_index(
        op.f("ix_legal_step_updated_at"), "legal_step", ["updated_at"], unique=False, schema="dropout"
    )
    op.create_table(
        "support_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pairing_id", sa.UUID(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("evidence", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("actor_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["dropout.pairing.id"], name=op.f("fk_support_record_pairing_id_pairing")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_record")),
        schema="dropout",
    )
    op.create_index(
        op.f("ix_support_record_pairing_id"), "support_record", ["pairing_id"], unique=False, schema="dropout"
    )
    op.create_index(
        "ix_support_record_student_occurred",
        "support_record",
        ["student_id", "occurred_at"],
        unique=False,
        schema="dropout",
    )
    op.create_index(
        op.f("ix_support_record_updated_at"), "support_record", ["updated_at"], unique=False, schema="dropout"
    )
    op.add_column(
        "task",
        sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        schema="dropout",
    )
    op.create_index("ix_task_assignee_status", "task", ["assignee", "status"], unique=False, schema="dropout")
    for table in FOLLOWERS:
        op.execute(
            f"CREATE TRIGGER copy_student_codes BEFORE INSERT OR UPDATE OF student_id ON dropout.{table} "
            "FOR EACH ROW EXECUTE FUNCTION dropout.copy_student_codes()"
        )
    op.execute(MOVE_CODES)
    op.execute(
        "CREATE TRIGGER move_student_codes_support AFTER UPDATE OF area_code, school_code, village_code "
        "ON dropout.student FOR EACH ROW WHEN (OLD.area_code IS DISTINCT FROM NEW.area_code "
        "OR OLD.school_code IS DISTINCT FROM NEW.school_code OR OLD.village_code IS DISTINCT FROM "
        "NEW.village_code) EXECUTE FUNCTION dropout.move_student_codes_support()"
    )
    for table, wall in WALLS.items():
        for stmt in wall_ddl(SCHEMA, table, wall):
            op.execute(stmt)


def downgrade() -> None:
    for table in WALLS:
        for stmt in unwall_ddl(SCHEMA, table):
            op.execute(stmt)
    op.execute("DROP TRIGGER IF EXISTS move_student_codes_support ON dropout.student")
    op.execute("DROP FUNCTION IF EXISTS dropout.move_student_codes_support()")

    op.drop_index("ix_task_assignee_status", table_name="task", schema="dropout")
    op.drop_column("task", "assignee", schema="dropout")
    op.drop_index(op.f("ix_support_record_updated_at"), table_name="support_record", schema="dropout")
    op.drop_index("ix_support_record_student_occurred", table_name="support_record", schema="dropout")
    op.drop_index(op.f("ix_support_record_pairing_id"), table_name="support_record", schema="dropout")
    op.drop_table("support_record", schema="dropout")
    op.drop_index(op.f("ix_legal_step_updated_at"), table_name="legal_step", schema="dropout")
    op.drop_index(op.f("ix_legal_step_case_id"), table_name="legal_step", schema="dropout")
    op.drop_table("legal_step", schema="dropout")
    op.drop_index(op.f("ix_support_campaign_updated_at"), table_name="support_campaign", schema="dropout")
    op.drop_index("ix_support_campaign_area_code_prefix", table_name="support_campaign", schema="dropout")
    op.drop_table("support_campaign", schema="dropout")
    op.drop_index(op.f("ix_responsible_person_updated_at"), table_name="responsible_person", schema="dropout")
    op.drop_table("responsible_person", schema="dropout")
    op.drop_index(
        op.f("ix_responsible_default_updated_at"), table_name="responsible_default", schema="dropout"
    )
    op.drop_table("responsible_default", schema="dropout")
    op.drop_index(
        op.f("ix_responsibility_letter_updated_at"), table_name="responsibility_letter", schema="dropout"
    )
    op.drop_index("ix_responsibility_letter_student", table_name="responsibility_letter", schema="dropout")
    op.drop_table("responsibility_letter", schema="dropout")
    op.drop_index("ix_pairing_village_code_prefix", table_name="pairing", schema="dropout")
    op.drop_index(op.f("ix_pairing_updated_at"), table_name="pairing", schema="dropout")
    op.drop_index(op.f("ix_pairing_student_id"), table_name="pairing", schema="dropout")
    op.drop_index("ix_pairing_helper_username", table_name="pairing", schema="dropout")
    op.drop_index("ix_pairing_area_code_prefix", table_name="pairing", schema="dropout")
    op.drop_table("pairing", schema="dropout")
