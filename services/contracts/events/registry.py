"""Events the registry publishes."""

from typing import Literal

from pydantic import Field

from services.contracts.events.envelope import Facts


class AreaData(Facts):
    code: str
    name: str
    level: str
    parent_code: str | None = None


class SchoolData(Facts):
    code: str
    name: str
    area_code: str
    ownership: str | None = None
    stages: list[str] = Field(default_factory=list)


class StudentData(Facts):
    """A student's current state; never the plain ID number (a keyed hash instead)."""

    id: str
    name: str
    gender: str | None = None
    birth_date: str | None = None
    id_number_hash: str | None = Field(
        default=None, description="HMAC-SHA256 of the ID number under the deployment's data key"
    )
    id_number_masked: str = ""
    student_number: str | None = None
    ethnicity: str | None = None
    household_id: str | None = None
    village_code: str | None = None
    groups: list[str] = Field(default_factory=list)
    disability: dict | None = None
    categories: list[str] = Field(default_factory=list)
    school_code: str | None = None
    area_code: str | None = None
    stage: str | None = None
    grade: int | None = None
    class_name: str | None = None
    boarding: bool = False
    status: str
    compulsory: bool | None = Field(
        default=None,
        description="vocabulary.compulsory_stage(stage, grade) when written (special grades 1-9 count); "
        "absent on older events: consumers apply the rule to stage and grade themselves",
    )


class EnrollmentChangeData(Facts):
    id: str
    kind: str = Field(
        description="enroll (升学: a graduate's next stage, at a school of any county), transfer, suspend, "
        "defer, home_teaching, out_of_county, graduate, drop_out, return, deceased"
    )
    effective_date: str
    from_status: str | None = None
    to_status: str
    from_school_code: str | None = None
    to_school_code: str | None = None
    from_area_code: str | None = Field(default=None, description="The area of the school left")
    to_area_code: str | None = Field(default=None, description="The area of the school led to")
    from_stage: str | None = Field(default=None, description="The stage before (the student's is after)")
    details: dict = Field(default_factory=dict)
    reason: str | None = None
    actor: str | None = None


class StudentEnrollmentChangedData(StudentData):
    """The student after the change, plus the change itself."""

    change: EnrollmentChangeData


class TransferData(Facts):
    """A move into another county's school: requested by the sending side, decided by the receiving one."""

    id: str
    student_id: str
    kind: str = Field(description="transfer, or return into another county's school")
    effective_date: str
    status: str = Field(description="pending, accepted, rejected, cancelled")
    from_school_code: str | None = None
    from_area_code: str
    to_school_code: str
    to_area_code: str
    requested_by: str
    decided_by: str | None = None
    decision_note: str | None = None
    change_id: str | None = Field(default=None, description="The enrollment change made on accepting")


class HouseholdStatusData(Facts):
    kind: str
    since: str
    until: str | None = None
    monitor_type: str | None = None


class HouseholdData(Facts):
    id: str
    platform_id: str | None = None
    head_name: str
    area_code: str = Field(description="The village (12 digits)")
    statuses: list[HouseholdStatusData] = Field(default_factory=list)
    current_kinds: list[str] = Field(
        default_factory=list, description="Statuses in force when the event was written"
    )
    became: list[str] = Field(default_factory=list, description="Kinds in force now that were not before")
    ceased: list[str] = Field(default_factory=list, description="Kinds in force before that are not now")


class BulkStudent(StudentData):
    """One student of a bulk chunk: its state, plus what its own event would have said."""

    event: Literal["created", "updated"] = Field(description="What the one-student event would be")
    version: int = Field(description="The student's version after the change")


class BulkStudentsData(Facts):
    """Students one import chunk created or updated, in one event (consumers apply the chunk at once)."""

    job_id: str = Field(description="The import job")
    chunk: int = Field(description="The chunk's number in the job (from 1)")
    part: int = Field(default=1, description="The part of the chunk (a chunk may travel in several events)")
    students: list[BulkStudent]


EVENTS = [
    ("edu.registry.area.created", "An area was created", AreaData),
    ("edu.registry.area.updated", "An area was renamed", AreaData),
    ("edu.registry.school.created", "A school was created", SchoolData),
    ("edu.registry.school.updated", "A school was changed", SchoolData),
    ("edu.registry.student.created", "A student was registered", StudentData),
    ("edu.registry.student.updated", "A student's fields or derived categories changed", StudentData),
    (
        "edu.registry.student.enrollment_changed",
        "A student's enrollment changed (kept as history)",
        StudentEnrollmentChangedData,
    ),
    (
        "edu.registry.transfer.requested",
        "A move into a school of another county waits for that county to accept it",
        TransferData,
    ),
    (
        "edu.registry.transfer.accepted",
        "The receiving county accepted a transfer (the student's enrollment_changed follows)",
        TransferData,
    ),
    ("edu.registry.transfer.rejected", "The receiving county refused a transfer", TransferData),
    ("edu.registry.transfer.cancelled", "The sending side withdrew a transfer request", TransferData),
    (
        "edu.registry.bulk.students",
        "Students an import chunk created or updated (one event per chunk part, on a subject of its own "
        "so bulk work never queues in front of everyday events); equivalent to one "
        "edu.registry.student.created|updated per student",
        BulkStudentsData,
    ),
    ("edu.registry.household.created", "A household was created", HouseholdData),
    ("edu.registry.household.updated", "A household was changed", HouseholdData),
    (
        "edu.registry.household.status_changed",
        "The statuses in force of a household changed (e.g. became dibao: back-pay may follow)",
        HouseholdData,
    ),
]
