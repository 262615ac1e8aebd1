from datetime import datetime

from sqlalchemy import Column, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from services.registry.db import RegistryModel, created_at_field, updated_at_field


class School(RegistryModel, table=True):
    """A school, by its 10-digit 学校标识码."""

    code: str = Field(primary_key=True, max_length=10)
    name: str = Field(max_length=200)
    area_code: str = Field(max_length=12, index=True)
    ownership: str = Field(default="public", max_length=20)
    stages: list[str] = Field(sa_column=Column(ARRAY(String(20)), nullable=False))
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
