"""Verification (比对) tables: each roster a version, its rows, and the findings it produced."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from services.statistics.db import StatisticsModel, metadata


def _now() -> datetime:
    return datetime.now(UTC)


def _at(nullable: bool = False, default: bool = True) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, server_default=func.now() if default else None)


class Verification(StatisticsModel, table=True):
    """One platform roster for an area and semester (a numbered version) and the job comparing it."""

    __tablename__ = "verification"
    __table_args__ = (
        UniqueConstraint("area_code", "semester", "roster_version"),
        Index(
            "ix_verification_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}
        ),
        Index(
            "ix_verification_active", "updated_at", postgresql_where=text("status IN ('queued', 'running')")
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    area_code: str = Field(max_length=12)
    semester: str = Field(max_length=12)
    roster_version: int
    status: str = Field(default="queued", max_length=10)
    source: str = Field(max_length=10, description="json, csv or xlsx")
    filename: str | None = Field(default=None, max_length=255)
    total: int = 0
    rows_compared: int = 0
    error_count: int = 0
    errors: list[dict] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    summary: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}"))
    detail: str | None = Field(default=None, max_length=500)
    submitted_by: str = Field(max_length=100)
    submitted_role: str = Field(max_length=20)
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    created_at: datetime = Field(default_factory=_now, sa_column=_at())
    updated_at: datetime = Field(default_factory=_now, sa_column=_at())
    started_at: datetime | None = Field(default=None, sa_column=_at(True, False))
    finished_at: datetime | None = Field(default=None, sa_column=_at(True, False))


# A roster's valid rows as compared (the ID number only as its keyed hash, and masked). Append-only,
# written once per verification in bulk and read by verification: no primary key to maintain for a
# million rows, a BRIN index instead (a roster's rows lie together).
roster_row = Table(
    "roster_row",
    metadata,
    Column("verification_id", Uuid, nullable=False),
    Column(
        "row_number", Integer, nullable=False, comment="Spreadsheet row (header = 1), or 1-based JSON index"
    ),
    Column("household_platform_id", String(40), nullable=False),
    Column("name", String(50), nullable=False),
    Column("declared_gender", String(6)),
    Column("id_number_hash", String(64), nullable=False),
    Column("id_number_masked", String(18), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("gender", String(6), nullable=False, comment="From the ID number"),
    Column("statuses", ARRAY(String(20)), nullable=False),
    Index("ix_roster_row_verification_id", "verification_id", postgresql_using="brin"),
)


class Finding(StatisticsModel, table=True):
    """One discrepancy a verification found; resolved by a county user with a note."""

    __tablename__ = "verification_finding"
    __table_args__ = (
        Index("ix_verification_finding_kind", "verification_id", "kind", "id"),
        Index("ix_verification_finding_list", "verification_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    verification_id: uuid.UUID
    kind: str = Field(max_length=30)
    student_id: uuid.UUID | None = None
    row_number: int | None = None
    household_platform_id: str | None = Field(default=None, max_length=40)
    area_code: str = Field(max_length=12, description="Where it is: the household's village or the student's")
    details: dict = Field(sa_column=Column(JSONB, nullable=False))
    resolution_note: str | None = Field(default=None, max_length=2000)
    resolved_by: str | None = Field(default=None, max_length=100)
    resolved_at: datetime | None = Field(default=None, sa_column=_at(True, False))
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    created_at: datetime = Field(default_factory=_now, sa_column=_at())
    updated_at: datetime = Field(default_factory=_now, sa_column=_at())
