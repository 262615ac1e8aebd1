"""dated household statuses (categories as of a census day), ledger history lines, aid elsewhere, loans

Revision ID: e5b19d3a7c40
Revises: c2f8a61e0b22
Create Date: 2026-12-12 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kit.rls import child_of, rows, unwall_ddl, wall_ddl

revision: str = "e5b19d3a7c40"
down_revision: str | None = "c2f8a61e0b22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "subsidy"
TABLES = [
    """CREATE TABLE subsidy.household (
        household_id UUID NOT NULL,
        area_code VARCHAR(12) NOT NULL,
        version INTEGER NOT NULL,
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT pk_household PRIMARY KEY (household_id))""",
    "CREATE INDEX ix_household_area_code_prefix ON subsidy.household (area_code text_pattern_ops)",
    """CREATE TABLE subsidy.household_status (
        household_id UUID NOT NULL,
        kind VARCHAR(20) NOT NULL,
        since DATE NOT NULL,
        until DATE,
        CONSTRAINT pk_household_status PRIMARY KEY (household_id, kind, since),
        CONSTRAINT fk_household_status_household_id_household FOREIGN KEY (household_id)
            REFERENCES subsidy.household (household_id))""",
    """CREATE TABLE subsidy.aid_elsewhere (
        id UUID NOT NULL,
        student_id UUID NOT NULL,
        student_name VARCHAR(50) NOT NULL,
        household_id UUID,
        area_code VARCHAR(12) NOT NULL,
        school_code VARCHAR(10),
        village_code VARCHAR(12),
        stage VARCHAR(20),
        payer_name VARCHAR(100) NOT NULL,
        payer_code VARCHAR(12),
        policy_kind VARCHAR(20) NOT NULL,
        semester VARCHAR(11) NOT NULL,
        amount_fen BIGINT NOT NULL,
        evidence VARCHAR(1000),
        letter_sent_on DATE,
        letter_due_on DATE,
        letter_answered_on DATE,
        letter_note VARCHAR(500),
        recorded_by VARCHAR(100) NOT NULL,
        version INTEGER NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        CONSTRAINT pk_aid_elsewhere PRIMARY KEY (id),
        CONSTRAINT ck_aid_elsewhere_amount_positive CHECK (amount_fen > 0))""",
    "CREATE INDEX ix_aid_elsewhere_student_id ON subsidy.aid_elsewhere (student_id)",
    "CREATE INDEX ix_aid_elsewhere_updated_at ON subsidy.aid_elsewhere (updated_at)",
    "CREATE INDEX ix_aid_elsewhere_student_kind_semester ON subsidy.aid_elsewhere "
    "(student_id, policy_kind, semester)",
    "CREATE INDEX ix_aid_elsewhere_area_code_prefix ON subsidy.aid_elsewhere (area_code text_pattern_ops)",
    """CREATE TABLE subsidy.loan (
        id UUID NOT NULL,
        student_id UUID NOT NULL,
        student_name VARCHAR(50) NOT NULL,
        household_id UUID,
        area_code VARCHAR(12) NOT NULL,
        school_code VARCHAR(10),
        village_code VARCHAR(12),
        stage VARCHAR(20),
        categories VARCHAR(30)[] NOT NULL,
        loan_kind VARCHAR(20) NOT NULL,
        year INTEGER NOT NULL,
        amount_fen BIGINT NOT NULL,
        lender VARCHAR(100) NOT NULL,
        contract_number VARCHAR(60) NOT NULL,
        repayment_status VARCHAR(20) NOT NULL,
        recorded_by VARCHAR(100) NOT NULL,
        version INTEGER NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        CONSTRAINT pk_loan PRIMARY KEY (id),
        CONSTRAINT ck_loan_amount_positive CHECK (amount_fen > 0),
        CONSTRAINT uq_loan_lender_contract UNIQUE (lender, contract_number))""",
    "CREATE INDEX ix_loan_student_id ON subsidy.loan (student_id)",
    "CREATE INDEX ix_loan_updated_at ON subsidy.loan (updated_at)",
    "CREATE INDEX ix_loan_area_code_prefix ON subsidy.loan (area_code text_pattern_ops)",
]
WALLS = {
    "household": rows("area_code", None, "area_code"),
    "household_status": child_of("subsidy.household", "household_id", key="household_id"),
    "aid_elsewhere": rows("area_code", "school_code", "village_code"),
    "loan": rows("area_code", "school_code", "village_code"),
}
OLD_BATCH_RULE = (
    "CASE WHEN status = 'proposed' THEN batch_id IS NULL "
    "ELSE batch_id IS NOT NULL OR status = 'cancelled' END"
)
# History imported from the county's ledger (台账) was paid outside any batch of this system.
NEW_BATCH_RULE = (
    "CASE WHEN status = 'proposed' THEN batch_id IS NULL "
    "ELSE batch_id IS NOT NULL OR status = 'cancelled' OR kind = 'history' END"
)


def upgrade() -> None:
    for stmt in TABLES:
        op.execute(stmt)
    for table, wall in WALLS.items():
        for stmt in wall_ddl(SCHEMA, table, wall):
            op.execute(stmt)
    # Ledgers name students by ID number: the registry's keyed hash finds them (never the number).
    op.execute("ALTER TABLE subsidy.student ADD COLUMN id_number_hash VARCHAR(64)")
    op.execute("CREATE INDEX ix_student_id_number_hash ON subsidy.student (id_number_hash)")
    op.execute("ALTER TABLE subsidy.disbursement ADD COLUMN reason VARCHAR(500)")
    _batch_rule(NEW_BATCH_RULE)


def downgrade() -> None:
    op.execute("DELETE FROM subsidy.disbursement WHERE kind = 'history' AND batch_id IS NULL")
    _batch_rule(OLD_BATCH_RULE)
    op.execute("ALTER TABLE subsidy.disbursement DROP COLUMN reason")
    op.execute("DROP INDEX subsidy.ix_student_id_number_hash")
    op.execute("ALTER TABLE subsidy.student DROP COLUMN id_number_hash")
    for table in WALLS:
        for stmt in unwall_ddl(SCHEMA, table):
            op.execute(stmt)
    for table in ("loan", "aid_elsewhere", "household_status", "household"):
        op.execute(f"DROP TABLE subsidy.{table}")


def _batch_rule(rule: str) -> None:
    op.execute("ALTER TABLE subsidy.disbursement DROP CONSTRAINT ck_disbursement_batch_unless_proposed")
    op.execute(
        f"ALTER TABLE subsidy.disbursement ADD CONSTRAINT ck_disbursement_batch_unless_proposed CHECK ({rule})"
    )
