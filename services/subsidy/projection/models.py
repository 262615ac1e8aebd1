import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime, Index, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from services.subsidy.db import SubsidyModel


class StudentFact(SubsidyModel, table=True):
    """The subsidy service's own copy of a student, kept from registry events (eligibility)."""

    __tablename__ = "student"
    __table_args__ = (
        Index("ix_student_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}),
        Index(
            "ix_student_village_code_prefix",
            "village_code",
            postgresql_ops={"village_code": "text_pattern_ops"},
        ),
    )

    student_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=50)
    id_number_masked: str = Field(default="", max_length=18)
    # The registry's keyed hash of the ID number: ledgers (台账) name students by ID number.
    id_number_hash: str | None = Field(default=None, max_length=64, index=True)
    school_code: str | None = Field(default=None, max_length=10, index=True)
    area_code: str | None = Field(default=None, max_length=12)
    village_code: str | None = Field(default=None, max_length=12)
    household_id: uuid.UUID | None = Field(default=None, index=True)
    stage: str | None = Field(default=None, max_length=20)
    grade: int | None = None
    boarding: bool = False
    status: str = Field(max_length=20)
    categories: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(30)), nullable=False))
    version: int
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SchoolFact(SubsidyModel, table=True):
    """The subsidy service's copy of a school (from registry events)."""

    __tablename__ = "school"

    code: str = Field(primary_key=True, max_length=10)
    name: str = Field(max_length=200)
    area_code: str = Field(max_length=12, index=True)
    stages: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(20)), nullable=False))
    version: int
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class HouseholdFact(SubsidyModel, table=True):
    """A household as the subsidy service last heard of it (its dated statuses are below)."""

    __tablename__ = "household"
    __table_args__ = (
        Index("ix_household_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}),
    )

    household_id: uuid.UUID = Field(primary_key=True)
    area_code: str = Field(max_length=12)
    version: int
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class HouseholdStatusFact(SubsidyModel, table=True):
    """One dated status of a household (建档立卡 since 2016-06-01 …): categories as of a census day."""

    __tablename__ = "household_status"

    household_id: uuid.UUID = Field(foreign_key="subsidy.household.household_id", primary_key=True)
    kind: str = Field(primary_key=True, max_length=20)
    since: date = Field(primary_key=True)
    until: date | None = None
