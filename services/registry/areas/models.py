from datetime import datetime

from sqlmodel import Field

from services.registry.db import RegistryModel, created_at_field, updated_at_field

LEVELS = {2: "province", 4: "city", 6: "county", 9: "township", 12: "village"}
PARENT_LENGTH = {4: 2, 6: 4, 9: 6, 12: 9}


class Area(RegistryModel, table=True):
    """An administrative division; a code's prefixes are its ancestors."""

    code: str = Field(primary_key=True, max_length=12)
    name: str = Field(max_length=100)
    level: str = Field(max_length=10)
    parent_code: str | None = Field(default=None, max_length=12, index=True)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
