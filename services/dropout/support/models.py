import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field, updated_at_field


class Pairing(DropoutModel, table=True):
    """A child's helper (结对帮扶): a user of ours or a named person, from `since` until `until`.

    Carries its student's codes (kept by triggers, like a case) so its wall needs no look-up.
    """

    __table_args__ = (
        Index("ix_pairing_area_code_prefix", text("area_code text_pattern_ops")),
        Index("ix_pairing_village_code_prefix", text("village_code text_pattern_ops")),
        Index("ix_pairing_helper_username", "helper_username"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    helper_username: str | None = Field(default=None, max_length=100)
    helper_name: str = Field(max_length=50)
    helper_phone: str | None = Field(default=None, max_length=20)
    helper_title: str | None = Field(default=None, max_length=50)
    since: date
    until: date | None = None
    plan: str | None = Field(default=None, max_length=2000)
    created_by: str = Field(max_length=100)
    area_code: str | None = Field(default=None, max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class SupportRecord(DropoutModel, table=True):
    """One entry of a helper's record (纪实手册): a contact, home visit, tutoring or material help."""

    __tablename__ = "support_record"
    __table_args__ = (Index("ix_support_record_student_occurred", "student_id", "occurred_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pairing_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("dropout.pairing.id"), nullable=False, index=True)
    )
    student_id: uuid.UUID
    kind: str = Field(max_length=20)
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    note: str | None = Field(default=None, max_length=2000)
    # Evidence file ids (佐证材料); the evidence service checks them once it exists.
    evidence: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(64)), nullable=False))
    actor: str = Field(max_length=100)
    actor_role: str = Field(max_length=20)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Campaign(DropoutModel, table=True):
    """A visit month (集中走访月) for an area: its coverage is computed when read."""

    __tablename__ = "support_campaign"
    __table_args__ = (Index("ix_support_campaign_area_code_prefix", text("area_code text_pattern_ops")),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    area_code: str = Field(max_length=12)
    month: str = Field(max_length=7)
    name: str | None = Field(default=None, max_length=100)
    created_by: str = Field(max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
