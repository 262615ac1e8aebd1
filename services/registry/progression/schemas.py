import uuid
from datetime import date

from pydantic import ConfigDict, Field

from services.contracts.vocabulary import ProgressionStatus
from services.kit.schemas import OutputModel

EXAMPLE = {
    "student_id": "5f0c2a8e-3d1b-4c51-9a7e-2b8f6d0c4e11",
    "name": "王小明",
    "from_stage": "junior",
    "from_grade": 9,
    "from_school_code": "3161000456",
    "graduated_on": "2026-07-01",
    "status": "not_continued",
    "to_stage": None,
    "to_school_code": None,
    "enrolled_on": None,
    "household_id": "0b7d4c52-7a0e-4f8b-8c1d-6e2f9a3b5d70",
    "village_code": "610928100201",
    "categories": ["registered_poor"],
}


class ProgressionPublic(OutputModel):
    """One graduate of the year and what became of it (升学 or not: the 两后生 come from the latter)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EXAMPLE]})

    student_id: uuid.UUID
    name: str
    from_stage: str | None = Field(description="The stage graduated from")
    from_grade: int | None
    from_school_code: str | None = Field(description="The school graduated from")
    graduated_on: date
    status: ProgressionStatus = Field(
        description="`continued`: enrolled at a next stage since (any county); `not_continued`: not (yet)"
    )
    to_stage: str | None = Field(description="The stage enrolled at (continued only)")
    to_school_code: str | None = Field(description="The school enrolled at (continued only)")
    enrolled_on: date | None
    household_id: uuid.UUID | None
    village_code: str | None = Field(description="The household's village (now)")
    categories: list[str] = Field(description="The student's aid categories now")
