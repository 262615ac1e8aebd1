from typing import Literal

from pydantic import Field

from services.kit.schemas import InputModel, Stored

AreaCode = str


class AreaCreate(InputModel):
    code: str = Field(
        pattern=r"^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$",
        examples=["610928"],
        description="2 (province), 4 (city), 6 (county), 9 (township) or 12 (village) digits",
    )
    name: str = Field(min_length=1, max_length=100, examples=["旬阳市"])


class AreaUpdate(InputModel):
    name: str = Field(min_length=1, max_length=100)
    version: int | None = None


class AreaPublic(Stored):
    code: str
    name: str
    level: Literal["province", "city", "county", "township", "village"]
    parent_code: str | None
