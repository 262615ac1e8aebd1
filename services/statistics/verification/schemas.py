import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.contracts.areas import AREA_CODE_PATTERN
from services.kit.schemas import InputModel, OutputModel

SEMESTER = r"^20[0-9]{2}-(spring|autumn)$"
StatusKind = Literal["registered_poor", "lifted", "monitored", "dibao", "tekun"]
FindingKind = Literal[
    "missing_in_registry",
    "unknown_to_platform",
    "identity_mismatch",
    "unpaid_eligible",
    "paid_ineligible",
    "paid_not_enrolled",
    "duplicate_payment",
    "out_of_county_incomplete",
    "not_in_school",
]
JobStatus = Literal["queued", "running", "done", "failed"]
MAX_JSON_ROWS = 200_000


class RosterRowIn(InputModel):
    household_platform_id: str = Field(min_length=1, max_length=40, examples=["6109280012345"])
    name: str = Field(min_length=1, max_length=50, examples=["王小明"])
    id_number: str = Field(min_length=1, max_length=40, description="Checked in the job (row errors)")
    statuses: list[StatusKind] = Field(default_factory=list, max_length=5, examples=[["registered_poor"]])
    gender: Literal["male", "female"] | None = Field(default=None, description="Optional; compared if given")


class RosterIn(InputModel):
    semester: str = Field(pattern=SEMESTER, examples=["2026-autumn"])
    area_code: str | None = Field(
        default=None, pattern=AREA_CODE_PATTERN, description="The roster's area; default the caller's"
    )
    rows: list[RosterRowIn] = Field(min_length=1, max_length=MAX_JSON_ROWS)


class RowError(BaseModel):
    row: int = Field(description="Spreadsheet row (header = 1), or the 1-based position in `rows`")
    field: str
    msg: str


class VerificationPublic(OutputModel):
    id: uuid.UUID
    status: JobStatus
    semester: str
    area_code: str
    roster_version: int = Field(description="1, 2, ... per area and semester")
    source: str = Field(description="json, csv or xlsx")
    filename: str | None
    total: int = Field(description="Data rows read")
    rows_compared: int = Field(description="Valid rows compared (rows with errors are left out)")
    error_count: int
    errors: list[RowError] = Field(description="The first 1000 row errors")
    summary: dict[str, int] = Field(description="Findings by kind (every kind, 0 included) once done")
    detail: str | None = Field(description="Why a job failed")
    submitted_by: str
    version: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Resolution(BaseModel):
    note: str
    actor: str
    at: datetime


class FindingPublic(BaseModel):
    id: int
    verification_id: uuid.UUID
    roster_version: int
    kind: FindingKind
    student_id: uuid.UUID | None = Field(description="Null when the registry has no such child")
    row: int | None = Field(description="The roster row it concerns, if any")
    household_platform_id: str | None
    area_code: str
    details: dict = Field(description="What differs; ID numbers masked")
    resolution: Resolution | None
    version: int
    created_at: datetime
    updated_at: datetime


class ResolveIn(InputModel):
    note: str = Field(min_length=1, max_length=2000, examples=["已核实：学生在外省就读，已补录"])


class PaidLine(BaseModel):
    policy_code: str
    policy_kind: str
    amount_fen: int
    paid_on: date | None


class ChildEducation(BaseModel):
    student_id: uuid.UUID
    name: str
    id_number_masked: str | None
    gender: str | None
    birth_date: date | None
    stage: str | None
    grade: int | None
    status: str
    school_code: str | None
    categories: list[str]
    paid: list[PaidLine]
    paid_fen: int


class HouseholdEducation(BaseModel):
    platform_id: str
    head_name: str
    area_code: str
    statuses: list[dict]
    semester: str
    children: list[ChildEducation]
