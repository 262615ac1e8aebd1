import uuid
from datetime import datetime

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.registry.db import RegistryModel, created_at_field, updated_at_field


class Household(RegistryModel, table=True):
    """A household (户) with dated statuses; the poverty platform is their source."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    platform_id: str | None = Field(default=None, max_length=40, unique=True)
    head_name: str = Field(max_length=50)
    area_code: str = Field(max_length=12, index=True)
    statuses: list[dict] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
