"""Events the statistics service publishes."""

from pydantic import Field

from services.contracts.events.envelope import Facts


class ChildNotInSchoolData(Facts):
    """A compulsory-age child of a platform roster household whom the registry has in no school."""

    household_platform_id: str | None = None
    name: str
    id_number_masked: str = ""
    id_number_hash: str = Field(description="HMAC-SHA256 of the ID number (the registry's lookup hash)")
    birth_date: str | None = None
    gender: str | None = None
    area_code: str = Field(
        description="The household's village when the registry knows it, else the roster's area"
    )
    student_id: str | None = Field(default=None, description="The registry student when known")
    registry_status: str | None = Field(default=None, description="The registry status of that student")
    verification_id: str = Field(description="The roster (verification) that found it")
    roster_version: int = 1
    semester: str
    finding_id: int


EVENTS = [
    (
        "edu.statistics.child.not_in_school",
        "A roster child aged 6-15 is enrolled nowhere in the registry (the dropout service opens a case)",
        ChildNotInSchoolData,
    ),
]
