"""Evidence files (佐证材料): what was uploaded, its hash, where it is stored, whose it is."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Float, Index, text
from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field, updated_at_field


class Evidence(DropoutModel, table=True):
    """A photo or scan, kept in the object store; seen where its student (or its uploader) is seen."""

    __tablename__ = "evidence"
    __table_args__ = (
        Index("ix_evidence_area_code_prefix", text("area_code text_pattern_ops")),
        Index("ix_evidence_village_code_prefix", text("village_code text_pattern_ops")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=20)
    content_type: str = Field(max_length=40)
    size_bytes: int
    sha256: str = Field(max_length=64, index=True)
    storage_key: str = Field(max_length=200)
    filename: str | None = Field(default=None, max_length=255)
    note: str | None = Field(default=None, max_length=500)
    gps_lat: float | None = Field(default=None, sa_column=Column(Float))
    gps_lon: float | None = Field(default=None, sa_column=Column(Float))
    device_time: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    student_id: uuid.UUID | None = Field(default=None, index=True)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    area_code: str = Field(max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    uploaded_by: str = Field(max_length=100)
    uploaded_role: str = Field(max_length=20)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
