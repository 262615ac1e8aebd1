"""Registry events: past-tense facts written to the outbox with the change."""

from pydantic import BaseModel, Field

from services.kit.catalog import EventSpec
from services.kit.events import Emitter
from services.registry.db import outbox

SOURCE = "registry"


emit = Emitter(outbox, SOURCE)
"""Record a registry event in the outbox, in the current transaction."""


class AreaData(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None


class SchoolData(BaseModel):
    code: str
    name: str
    area_code: str
    ownership: str
    stages: list[str]


class StudentData(BaseModel):
    """A student's current state; never the plain ID number (a keyed hash instead)."""

    id: str
    name: str
    gender: str
    birth_date: str
    id_number_hash: str = Field(description="HMAC-SHA256 of the ID number under the deployment's data key")
    id_number_masked: str
    student_number: str
    ethnicity: str | None
    household_id: str | None
    village_code: str | None
    groups: list[str]
    disability: dict | None
    categories: list[str]
    school_code: str | None
    area_code: str | None
    stage: str | None
    grade: int | None
    class_name: str | None
    boarding: bool
    status: str


class EnrollmentChangeData(BaseModel):
    id: str
    kind: str = Field(
        description="transfer, suspend, defer, home_teaching, out_of_county, graduate, drop_out, "
        "return, deceased"
    )
    effective_date: str
    from_status: str | None
    to_status: str
    from_school_code: str | None
    to_school_code: str | None
    details: dict
    reason: str | None
    actor: str


class StudentEnrollmentChangedData(StudentData):
    """The student after the change, plus the change itself."""

    change: EnrollmentChangeData


class HouseholdStatusData(BaseModel):
    kind: str
    since: str
    until: str | None = None
    monitor_type: str | None = None


class HouseholdData(BaseModel):
    id: str
    platform_id: str | None
    head_name: str
    area_code: str = Field(description="The village (12 digits)")
    statuses: list[HouseholdStatusData]
    current_kinds: list[str] = Field(description="Statuses in force when the event was written")
    became: list[str] = Field(description="Kinds in force now that were not before this change")
    ceased: list[str] = Field(description="Kinds in force before this change that are not now")


CATALOG = [
    EventSpec("edu.registry.area.created", "An area was created", AreaData),
    EventSpec("edu.registry.area.updated", "An area was renamed", AreaData),
    EventSpec("edu.registry.school.created", "A school was created", SchoolData),
    EventSpec("edu.registry.school.updated", "A school was changed", SchoolData),
    EventSpec("edu.registry.student.created", "A student was registered", StudentData),
    EventSpec(
        "edu.registry.student.updated", "A student's fields or derived categories changed", StudentData
    ),
    EventSpec(
        "edu.registry.student.enrollment_changed",
        "A student's enrollment changed (kept as history)",
        StudentEnrollmentChangedData,
    ),
    EventSpec("edu.registry.household.created", "A household was created", HouseholdData),
    EventSpec("edu.registry.household.updated", "A household was changed", HouseholdData),
    EventSpec(
        "edu.registry.household.status_changed",
        "The statuses in force of a household changed (e.g. became dibao: back-pay may follow)",
        HouseholdData,
    ),
]
