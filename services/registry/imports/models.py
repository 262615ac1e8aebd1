import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.registry.db import RegistryModel, created_at_field, updated_at_field


class ImportJob(RegistryModel, table=True):
    """One bulk import of a file: progress, counts and the first row errors."""

    __tablename__ = "import_job"
    __table_args__ = (
        Index(
            "ix_import_job_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}
        ),
        Index("ix_import_job_active", "updated_at", postgresql_where=text("status IN ('queued', 'running')")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=20)
    filename: str = Field(max_length=255)
    status: str = Field(default="queued", max_length=10)
    total: int = 0
    processed: int = 0
    created: int = 0
    updated: int = 0
    error_count: int = 0
    errors: list[dict] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    detail: str | None = Field(default=None, max_length=500)
    actor: str = Field(max_length=100, index=True)
    actor_role: str = Field(max_length=20)
    area_code: str = Field(max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    started_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
