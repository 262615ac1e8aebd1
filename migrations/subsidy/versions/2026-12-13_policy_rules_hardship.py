"""policy rules, funding shares, hardship identification

Revision ID: a13a00000001
Revises: e5b19d3a7c40
Create Date: 2026-12-13 09:00:00+00:00

Every existing policy revision gets its dated rules from its `years` and `amount_fen`: one rule per
run of consecutive years, from that run's first spring to its last autumn, at the same amount, so
no amount changes (paid lines keep theirs: nothing on a line is touched). Lines get their item,
one-off flag, funding shares and hardship level columns (null / false on the lines made before).
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.rls import rows, unwall_ddl, wall_ddl

revision: str = "a13a00000001"
down_revision: str | None = "e5b19d3a7c40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "subsidy"
TABLES = [
    """CREATE TABLE subsidy.hardship (
        id UUID NOT NULL,
        student_id UUID NOT NULL,
        student_name VARCHAR(50) NOT NULL,
        household_id UUID,
        area_code VARCHAR(12) NOT NULL,
        school_code VARCHAR(10) NOT NULL,
        village_code VARCHAR(12),
        school_year INTEGER NOT NULL,
        level VARCHAR(20) NOT NULL,
        rank SMALLINT NOT NULL,
        reason VARCHAR(500) NOT NULL,
        status VARCHAR(12) NOT NULL,
        awaiting VARCHAR(10),
        publicity_start DATE,
        publicity_end DATE,
        decided_note VARCHAR(500),
        proposed_by VARCHAR(100) NOT NULL,
        steps JSONB NOT NULL,
        version INTEGER NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        CONSTRAINT pk_hardship PRIMARY KEY (id),
        CONSTRAINT ck_hardship_level CHECK (level IN ('general', 'hard', 'especially_hard')),
        CONSTRAINT ck_hardship_status
            CHECK (status IN ('proposed', 'submitted', 'approved', 'rejected', 'revoked')))""",
    "CREATE INDEX ix_hardship_school_code ON subsidy.hardship (school_code)",
    "CREATE INDEX ix_hardship_school_year ON subsidy.hardship (school_year)",
    "CREATE UNIQUE INDEX uq_hardship_live_student_year ON subsidy.hardship (student_id, school_year) "
    "WHERE status <> 'revoked'",
    "CREATE INDEX ix_hardship_updated_at ON subsidy.hardship (updated_at)",
    "CREATE INDEX ix_hardship_area_code_prefix ON subsidy.hardship (area_code text_pattern_ops)",
    "CREATE INDEX ix_hardship_status ON subsidy.hardship (status)",
    "CREATE INDEX ix_hardship_student_id ON subsidy.hardship (student_id)",
]
WALLS = {"hardship": rows("area_code", "school_code", "village_code")}
LINE_COLUMNS = [
    "ADD COLUMN item VARCHAR(40)",
    "ADD COLUMN one_off BOOLEAN DEFAULT false NOT NULL",
    "ADD COLUMN shares JSONB",
    "ADD COLUMN hardship_level VARCHAR(20)",
]


def _legacy_rules(years: list[int], amount_fen: int) -> list[dict]:
    """The rules of a flat policy, as `policies.rules.legacy_rules` makes them (frozen here)."""
    runs: list[list[int]] = []
    for year in sorted(set(years)):
        if runs and runs[-1][1] == year - 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return [
        {
            "code": "STD" if i == 0 else f"STD-{i + 1}",
            "name": None,
            "from_semester": f"{first}-spring",
            "until_semester": f"{last}-autumn",
            "amount_fen": amount_fen,
            "stages": [],
            "grades": [],
            "boarding": None,
            "new_entrant": None,
            "categories": [],
            "min_hardship_level": None,
            "one_off": False,
            "shares": None,
        }
        for i, (first, last) in enumerate(runs)
    ]


def upgrade() -> None:
    for stmt in TABLES:
        op.execute(stmt)
    for table, wall in WALLS.items():
        for stmt in wall_ddl(SCHEMA, table, wall):
            op.execute(stmt)
    op.execute("ALTER TABLE subsidy.policy ADD COLUMN rules JSONB DEFAULT '[]'::jsonb NOT NULL")
    op.execute("ALTER TABLE subsidy.policy ALTER COLUMN rules DROP DEFAULT")
    op.execute("ALTER TABLE subsidy.policy ADD COLUMN min_hardship_level VARCHAR(20)")
    conn = op.get_bind()
    for policy_id, years, amount_fen in conn.execute(
        sa.text("SELECT id, years, amount_fen FROM subsidy.policy")
    ):
        conn.execute(
            sa.text("UPDATE subsidy.policy SET rules = CAST(:rules AS jsonb) WHERE id = :id"),
            {"rules": json.dumps(_legacy_rules(list(years), amount_fen)), "id": policy_id},
        )
    op.execute(f"ALTER TABLE subsidy.disbursement {', '.join(LINE_COLUMNS)}")


def downgrade() -> None:
    op.execute(
        "ALTER TABLE subsidy.disbursement DROP COLUMN item, DROP COLUMN one_off, DROP COLUMN shares, "
        "DROP COLUMN hardship_level"
    )
    op.execute("ALTER TABLE subsidy.policy DROP COLUMN rules, DROP COLUMN min_hardship_level")
    for table in WALLS:
        for stmt in unwall_ddl(SCHEMA, table):
            op.execute(stmt)
    op.execute("DROP TABLE subsidy.hardship")
