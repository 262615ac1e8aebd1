from typing import Literal

from pydantic import Field

from services.contracts.areas import AREA_CODE_PATTERN
from services.kit.schemas import InputModel, Stored

AreaCode = str


class AreaCreate(InputModel):
    code: str = Field(
        pattern=AREA_CODE_PATTERN,
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
