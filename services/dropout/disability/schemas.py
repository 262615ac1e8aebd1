import uuid
from datetime import date, datetime

from pydantic import Field

from services.contracts.calendar import EventDate
from services.dropout.domain import Placement as PlacementKind
from services.kit.schemas import InputModel, OutputModel, Stored
from services.kit.text import PersonName


class PlacementCreate(InputModel):
    student_id: uuid.UUID
    placement: PlacementKind = Field(
        description="special_school, regular_class (随班就读), home_teaching (送教上门), deferred or exempt"
    )
    year: int = Field(ge=2000, le=2100, description="Calendar year")
    reason: str | None = Field(default=None, max_length=500, description="Required for deferred and exempt")


class PlacementUpdate(InputModel):
    placement: PlacementKind | None = None
    reason: str | None = Field(default=None, max_length=500)
    version: int | None = None


class PlacementPublic(Stored):
    id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    school_code: str | None
    year: int
    placement: str
    reason: str | None
    recorded_by: str


class SessionCreate(InputModel):
    student_id: uuid.UUID
    date: EventDate
    teacher: PersonName = Field(min_length=1, max_length=50)
    duration_minutes: int = Field(ge=1, le=600)
    content: str = Field(min_length=1, max_length=2000)


class SessionPublic(OutputModel):
    id: uuid.UUID
    student_id: uuid.UUID
    placement_id: uuid.UUID
    date: date
    teacher: str
    duration_minutes: int
    content: str
    recorded_by: str
    created_at: datetime
    updated_at: datetime
