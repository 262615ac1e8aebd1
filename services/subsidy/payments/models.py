import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field

from services.subsidy.db import SubsidyModel, created_at_field


class Reconciliation(SubsidyModel, table=True):
    """One check of the bank's confirmation file against a batch, with every mismatch found."""

    __tablename__ = "reconciliation"
    __table_args__ = (
        Index(
            "ix_reconciliation_area_code_prefix",
            "area_code",
            postgresql_ops={"area_code": "text_pattern_ops"},
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    batch_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("subsidy.batch.id"), nullable=False, index=True)
    )
    area_code: str = Field(max_length=12)
    school_code: str = Field(max_length=10)
    source: str = Field(max_length=200)
    rows: int
    matched: int
    mismatch_count: int
    mismatches: list[dict] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    uploaded_by: str = Field(max_length=100)
    created_at: datetime = created_at_field()
