from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from services.contracts.areas import AREA_CODE_PATTERN
from services.kit.schemas import InputModel


class CalendarEntry(InputModel):
    date: date
    until: date | None = Field(default=None, description="Last day of a range (inclusive), e.g. a vacation")
    kind: Literal["holiday", "school_day"] = Field(
        description="`holiday`: no school that day; `school_day`: a make-up day (调休) on a weekend"
    )
    name: str | None = Field(default=None, max_length=50, examples=["国庆节"])

    @model_validator(mode="after")
    def _range(self):
        if self.until is not None and self.until < self.date:
            raise ValueError("until must not be before date")
        return self


class CalendarPut(InputModel):
    area_code: str | None = Field(
        default=None, pattern=AREA_CODE_PATTERN, description="Default: the caller's area (usually the county)"
    )
    days: list[CalendarEntry] = Field(max_length=400)


class CalendarDayOut(BaseModel):
    date: date
    kind: str
    name: str | None
    area_code: str | None = Field(
        description="The area that set it; null for a national holiday (NOL_HOLIDAYS)"
    )


class CalendarYear(BaseModel):
    area_code: str
    year: int
    days: list[CalendarDayOut]
    school_days: int = Field(description="School days in the year under this calendar")
