"""Outside rosters (联控联保): each roster a numbered version per area and source, and its findings."""

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Identity, Index, UniqueConstraint, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field, updated_at_field


class OutsideRoster(DropoutModel, table=True):
    """A public-security or 残联 roster of an area on a date, and the job comparing it with our rolls."""

    __tablename__ = "outside_roster"
    __table_args__ = (
        UniqueConstraint("area_code", "source", "roster_version"),
        Index("ix_outside_roster_area_code_prefix", text("area_code text_pattern_ops")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    area_code: str = Field(max_length=12)
    source: str = Field(max_length=30)
    as_of: date
    roster_version: int
    status: str = Field(default="queued", max_length=10)
    filename: str | None = Field(default=None, max_length=255)
    total: int = 0
    compared: int = 0
    error_count: int = 0
    errors: list[dict] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    summary: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}"))
    detail: str | None = Field(default=None, max_length=500)
    submitted_by: str = Field(max_length=100)
    superseded_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class OutsideFinding(DropoutModel, table=True):
    """One child the comparison found: on no roll, unknown to the roster, or disabled and unplaced."""

    __tablename__ = "outside_finding"
    __table_args__ = (
        Index("ix_outside_finding_roster_kind", "roster_id", "kind"),
        Index("ix_outside_finding_area_code_prefix", text("area_code text_pattern_ops")),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=False), primary_key=True)
    )
    roster_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("dropout.outside_roster.id"), nullable=False, index=True)
    )
    kind: str = Field(max_length=30)
    row_number: int | None = None
    student_id: uuid.UUID | None = Field(default=None, index=True)
    student_registered: bool = True
    case_id: uuid.UUID | None = None
    name: str = Field(max_length=50)
    id_number_masked: str | None = Field(default=None, max_length=18)
    birth_date: date | None = None
    area_code: str = Field(max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    details: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}"))
    created_at: datetime = created_at_field()
