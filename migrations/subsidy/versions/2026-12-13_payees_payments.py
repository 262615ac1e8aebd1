"""payees (encrypted accounts), failed lines and re-payments (补付), bank reconciliation

Revision ID: a13b00000002
Revises: a13a00000001
Create Date: 2026-12-13 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit.rls import rows, unwall_ddl, wall_ddl

revision: str = "a13b00000002"
down_revision: str | None = "a13a00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "subsidy"
TABLES = [
    # One payee per student: the guardian's bank or 一卡通 account, encrypted (AES-GCM) with a keyed hash.
    """CREATE TABLE subsidy.payee (
        id UUID NOT NULL,
        student_id UUID NOT NULL,
        student_name VARCHAR(50) NOT NULL,
        area_code VARCHAR(12) NOT NULL,
        school_code VARCHAR(10),
        village_code VARCHAR(12),
        guardian_name VARCHAR(50) NOT NULL,
        relation VARCHAR(20) NOT NULL,
        account_kind VARCHAR(20) NOT NULL,
        account_encrypted BYTEA NOT NULL,
        account_hash VARCHAR(64) NOT NULL,
        account_masked VARCHAR(32) NOT NULL,
        bank_name VARCHAR(100) NOT NULL,
        recorded_by VARCHAR(100) NOT NULL,
        version INTEGER NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        CONSTRAINT pk_payee PRIMARY KEY (id),
        CONSTRAINT uq_payee_student_id UNIQUE (student_id),
        CONSTRAINT ck_payee_account_kind CHECK (account_kind IN ('bank_card', 'one_card')))""",
    "CREATE INDEX ix_payee_updated_at ON subsidy.payee (updated_at)",
    "CREATE INDEX ix_payee_account_hash ON subsidy.payee (account_hash)",
    "CREATE INDEX ix_payee_area_code_prefix ON subsidy.payee (area_code text_pattern_ops)",
    """CREATE TABLE subsidy.reconciliation (
        id UUID NOT NULL,
        batch_id UUID NOT NULL,
        area_code VARCHAR(12) NOT NULL,
        school_code VARCHAR(10) NOT NULL,
        source VARCHAR(200) NOT NULL,
        rows INTEGER NOT NULL,
        matched INTEGER NOT NULL,
        mismatch_count INTEGER NOT NULL,
        mismatches JSONB NOT NULL,
        uploaded_by VARCHAR(100) NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        CONSTRAINT pk_reconciliation PRIMARY KEY (id),
        CONSTRAINT fk_reconciliation_batch_id_batch FOREIGN KEY (batch_id) REFERENCES subsidy.batch (id))""",
    "CREATE INDEX ix_reconciliation_batch_id ON subsidy.reconciliation (batch_id)",
    "CREATE INDEX ix_reconciliation_area_code_prefix ON subsidy.reconciliation (area_code text_pattern_ops)",
]
WALLS = {
    "payee": rows("area_code", "school_code", "village_code"),
    "reconciliation": rows("area_code", "school_code"),
}
LINE_COLUMNS = [
    "failure_reason VARCHAR(500)",
    "failed_at TIMESTAMP WITH TIME ZONE",
    "repays_id UUID REFERENCES subsidy.disbursement (id)",
    "payee_id UUID",
    "payee_version INTEGER",
    "payee_name VARCHAR(50)",
    "payee_masked VARCHAR(32)",
    "payee_account_encrypted BYTEA",
    "payee_account_hash VARCHAR(64)",
    "payee_bank_name VARCHAR(100)",
]
OLD = {
    "ck_disbursement_status": "status IN ('proposed', 'draft', 'submitted', 'approved', 'paid', 'rejected', "
    "'cancelled')",
    "ck_disbursement_paid_on_iff_paid": "(status = 'paid') = (paid_on IS NOT NULL)",
}
NEW = {
    "ck_disbursement_status": "status IN ('proposed', 'draft', 'submitted', 'approved', 'paid', 'rejected', "
    "'cancelled', 'failed')",
    # A failed line was paid (the bank was instructed on paid_on) and came back.
    "ck_disbursement_paid_on_iff_paid": "(status IN ('paid', 'failed')) = (paid_on IS NOT NULL)",
    "ck_disbursement_failed_has_reason": "(status = 'failed') = (failure_reason IS NOT NULL)",
}
# Re-payment lines (补付) stand beside the failed line they pay again: outside the one-live-line index,
# and at most one live re-payment per failed line.
OLD_LIVE = "status <> 'cancelled'"
NEW_LIVE = "status <> 'cancelled' AND repays_id IS NULL"


def _live_index(where: str) -> None:
    op.execute("DROP INDEX subsidy.uq_disbursement_live_student_policy_semester")
    op.execute(
        "CREATE UNIQUE INDEX uq_disbursement_live_student_policy_semester ON subsidy.disbursement "
        f"(student_id, policy_code, semester) WHERE {where}"
    )


def _batch_kinds(kinds: str) -> None:
    op.execute("ALTER TABLE subsidy.batch DROP CONSTRAINT ck_batch_kind")
    op.execute(f"ALTER TABLE subsidy.batch ADD CONSTRAINT ck_batch_kind CHECK (kind IN ({kinds}))")


def upgrade() -> None:
    for stmt in TABLES:
        op.execute(stmt)
    for table, wall in WALLS.items():
        for stmt in wall_ddl(SCHEMA, table, wall):
            op.execute(stmt)
    for column in LINE_COLUMNS:
        op.execute(f"ALTER TABLE subsidy.disbursement ADD COLUMN {column}")
    for name in OLD:
        op.execute(f"ALTER TABLE subsidy.disbursement DROP CONSTRAINT {name}")
    for name, rule in NEW.items():
        op.execute(f"ALTER TABLE subsidy.disbursement ADD CONSTRAINT {name} CHECK ({rule})")
    _live_index(NEW_LIVE)
    op.execute(
        "CREATE UNIQUE INDEX uq_disbursement_live_repays_id ON subsidy.disbursement (repays_id) "
        "WHERE status <> 'cancelled' AND repays_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_disbursement_failed ON subsidy.disbursement (school_code, policy_code, semester) "
        "WHERE status = 'failed'"
    )
    _batch_kinds("'regular', 'back_pay', 'repay'")


def downgrade() -> None:
    op.execute(
        "DELETE FROM subsidy.exclusion WHERE batch_id IN (SELECT id FROM subsidy.batch WHERE kind = 'repay')"
    )
    op.execute("DELETE FROM subsidy.disbursement WHERE repays_id IS NOT NULL")
    op.execute(
        "DELETE FROM subsidy.batch_step WHERE batch_id IN (SELECT id FROM subsidy.batch WHERE kind = 'repay')"
    )
    op.execute(
        "DELETE FROM subsidy.objection WHERE batch_id IN (SELECT id FROM subsidy.batch WHERE kind = 'repay')"
    )
    op.execute("DROP TABLE subsidy.reconciliation")
    op.execute("DELETE FROM subsidy.batch WHERE kind = 'repay'")
    _batch_kinds("'regular', 'back_pay'")
    op.execute("UPDATE subsidy.disbursement SET status = 'paid' WHERE status = 'failed'")
    op.execute("DROP INDEX subsidy.ix_disbursement_failed")
    op.execute("DROP INDEX subsidy.uq_disbursement_live_repays_id")
    _live_index(OLD_LIVE)
    for name in NEW:
        op.execute(f"ALTER TABLE subsidy.disbursement DROP CONSTRAINT {name}")
    for name, rule in OLD.items():
        op.execute(f"ALTER TABLE subsidy.disbursement ADD CONSTRAINT {name} CHECK ({rule})")
    for column in LINE_COLUMNS:
        op.execute(f"ALTER TABLE subsidy.disbursement DROP COLUMN {column.split()[0]}")
    for stmt in unwall_ddl(SCHEMA, "payee"):
        op.execute(stmt)
    op.execute("DROP TABLE subsidy.payee")
