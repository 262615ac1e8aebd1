import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, Index, SmallInteger, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.subsidy.db import SubsidyModel, created_at_field, updated_at_field


class Hardship(SubsidyModel, table=True):
    """A child's hardship identification (家庭经济困难学生认定) for one school year, and its approval."""

    __tablename__ = "hardship"
    __table_args__ = (
        CheckConstraint("level IN ('general', 'hard', 'especially_hard')", name="level"),
        CheckConstraint(
            "status IN ('proposed', 'submitted', 'approved', 'rejected', 'revoked')", name="status"
        ),
        # One live identification per child and school year (a revoked one may be proposed again).
        Index(
            "uq_hardship_live_student_year",
            "student_id",
            "school_year",
            unique=True,
            postgresql_where=text("status <> 'revoked'"),
        ),
        Index("ix_hardship_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    student_name: str = Field(max_length=50)
    household_id: uuid.UUID | None = None
    area_code: str = Field(max_length=12)
    school_code: str = Field(max_length=10, index=True)
    village_code: str | None = Field(default=None, max_length=12)
    school_year: int = Field(index=True, description="By its autumn year: 2024 = 2024-2025")
    level: str = Field(max_length=20)
    # HARDSHIP_RANK of the level (1 general .. 3 especially hard): rules compare with it.
    rank: int = Field(sa_column=Column(SmallInteger, nullable=False))
    reason: str = Field(max_length=500)
    status: str = Field(default="proposed", max_length=12, index=True)
    awaiting: str | None = Field(default=None, max_length=10)
    publicity_start: date | None = None
    publicity_end: date | None = Field(default=None, description="First day the county may approve")
    decided_note: str | None = Field(default=None, max_length=500)
    proposed_by: str = Field(max_length=100)
    # Every step: who (username, role), what, at which level, when, why.
    steps: list[dict] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
