"""verification: platform rosters (each a version), their rows, findings

Revision ID: be70f89328aa
Revises: 56c37861f575
Create Date: 2026-11-24 22:47:06.563529+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may refer to sqlmodel types
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'be70f89328aa'
down_revision: str | None = '56c37861f575'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('roster_row',
    sa.Column('verification_id', sa.Uuid(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False, comment='Spreadsheet row (header = 1), or 1-based JSON index'),
    sa.Column('household_platform_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('declared_gender', sa.String(length=6), nullable=True),
    sa.Column('id_number_hash', sa.String(length=64), nullable=False),
    sa.Column('id_number_masked', sa.String(length=18), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('gender', sa.String(length=6), nullable=False, comment='From the ID number'),
    sa.Column('statuses', postgresql.ARRAY(sa.String(length=20)), nullable=False),
    schema='statistics'
    )
    op.create_index('ix_roster_row_verification_id', 'roster_row', ['verification_id'], unique=False, schema='statistics', postgresql_using='brin')
    op.create_table('verification',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('area_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('semester', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('roster_version', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('rows_compared', sa.Integer(), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('errors', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('summary', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('submitted_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('submitted_role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification')),
    sa.UniqueConstraint('area_code', 'semester', 'roster_version', name=op.f('uq_verification_area_code_semester_roster_version')),
    schema='statistics'
    )
    op.create_index('ix_verification_active', 'verification', ['updated_at'], unique=False, schema='statistics', postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.create_index('ix_verification_area_code_prefix', 'verification', ['area_code'], unique=False, schema='statistics', postgresql_ops={'area_code': 'text_pattern_ops'})
    op.create_table('verification_finding',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('verification_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=True),
    sa.Column('row_number', sa.Integer(), nullable=True),
    sa.Column('household_platform_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('area_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('resolution_note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_finding')),
    schema='statistics'
    )
    op.create_index('ix_verification_finding_kind', 'verification_finding', ['verification_id', 'kind', 'id'], unique=False, schema='statistics')
    op.create_index('ix_verification_finding_list', 'verification_finding', ['verification_id', 'id'], unique=False, schema='statistics')


def downgrade() -> None:
    op.drop_index('ix_verification_finding_list', table_name='verification_finding', schema='statistics')
    op.drop_index('ix_verification_finding_kind', table_name='verification_finding', schema='statistics')
    op.drop_table('verification_finding', schema='statistics')
    op.drop_index('ix_verification_area_code_prefix', table_name='verification', schema='statistics', postgresql_ops={'area_code': 'text_pattern_ops'})
    op.drop_index('ix_verification_active', table_name='verification', schema='statistics', postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.drop_table('verification', schema='statistics')
    op.drop_index('ix_roster_row_verification_id', table_name='roster_row', schema='statistics', postgresql_using='brin')
    op.drop_table('roster_row', schema='statistics')
