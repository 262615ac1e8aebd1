from datetime import date, datetime

from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field


class CalendarDay(DropoutModel, table=True):
    """A holiday (no school on a weekday) or a make-up school day (调休, school on a weekend) of an area."""

    __tablename__ = "calendar_day"

    area_code: str = Field(primary_key=True, max_length=12)
    day: date = Field(primary_key=True)
    kind: str = Field(max_length=12)
    name: str | None = Field(default=None, max_length=50)
    created_by: str = Field(max_length=100)
    created_at: datetime = created_at_field()
