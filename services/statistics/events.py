"""Events the statistics service publishes."""

from pydantic import BaseModel, Field

from services.kit.catalog import EventSpec


class ChildNotInSchoolData(BaseModel):
    """A compulsory-age child of a platform roster household whom the registry has in no school."""

    household_platform_id: str
    name: str
    id_number_masked: str
    id_number_hash: str = Field(description="HMAC-SHA256 of the ID number (the registry's lookup hash)")
    birth_date: str
    gender: str
    area_code: str = Field(
        description="The household's village when the registry knows it, else the roster's area"
    )
    student_id: str | None = Field(description="The registry student when known (e.g. dropped out)")
    registry_status: str | None = Field(description="The registry status of that student, if any")
    verification_id: str = Field(description="The roster (verification) that found it")
    roster_version: int
    semester: str
    finding_id: int


CATALOG: list[EventSpec] = [
    EventSpec(
        "edu.statistics.child.not_in_school",
        "A roster child aged 6-15 is enrolled nowhere in the registry (the dropout service opens a case)",
        ChildNotInSchoolData,
    ),
]
