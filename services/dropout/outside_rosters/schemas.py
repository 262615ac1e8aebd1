import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.contracts.vocabulary import OutsideFindingKind, OutsideRosterSource
from services.kit.schemas import Stored

ROSTER_EXAMPLE = {
    "id": "8d0f3c1e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    "area_code": "610928100",
    "source": "public_security",
    "as_of": "2026-09-01",
    "roster_version": 2,
    "status": "done",
    "filename": "公安户籍适龄儿童名单.xlsx",
    "total": 412,
    "compared": 398,
    "error_count": 1,
    "errors": [{"row": 17, "field": "id_number", "msg": "not a valid resident ID number"}],
    "summary": {"no_roll": 3, "not_on_roster": 5, "disabled_unplaced": 0, "cases_opened": 3},
    "detail": None,
    "submitted_by": "county_610928",
    "superseded_at": None,
    "finished_at": "2026-09-02T02:00:04Z",
    "version": 3,
    "created_at": "2026-09-02T02:00:00Z",
    "updated_at": "2026-09-02T02:00:04Z",
}


class RowError(BaseModel):
    row: int
    field: str
    msg: str


class OutsideRosterPublic(Stored):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [ROSTER_EXAMPLE]})

    id: uuid.UUID
    area_code: str
    source: OutsideRosterSource = Field(
        description="public_security (公安户籍) or disabled_federation (残联)"
    )
    as_of: date = Field(description="The date the roster describes")
    roster_version: int = Field(description="1, 2, ... per area and source; a newer done version supersedes")
    status: Literal["queued", "running", "done", "failed"]
    filename: str | None
    total: int = Field(description="Rows read")
    compared: int = Field(description="Valid rows of compulsory age, compared with the rolls")
    error_count: int
    errors: list[RowError] = Field(description="Rows left out, with why (ID numbers masked); the first 1000")
    summary: dict[str, int] = Field(
        description="Findings by kind (no_roll, not_on_roster, disabled_unplaced) and cases_opened; "
        "for a caller inside a bigger area, its own findings"
    )
    detail: str | None = Field(description="Why the job failed")
    submitted_by: str
    superseded_at: datetime | None = Field(description="When a newer version (same area, source) was done")
    finished_at: datetime | None


FINDING_EXAMPLE = {
    "id": 41,
    "roster_id": "8d0f3c1e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    "roster_version": 2,
    "kind": "no_roll",
    "row": 23,
    "student_id": "5c1d7a20-0e4b-5f8a-9b1c-2d3e4f5a6b7c",
    "student_registered": False,
    "case_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    "name": "周小河",
    "id_number_masked": "610928********1234",
    "birth_date": "2016-03-15",
    "area_code": "610928100201",
    "school_code": None,
    "village_code": "610928100201",
    "details": {"status": "not_registered", "disability": None},
    "created_at": "2026-09-02T02:00:04Z",
}


class OutsideFindingPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [FINDING_EXAMPLE]})

    id: int
    roster_id: uuid.UUID
    roster_version: int
    kind: OutsideFindingKind = Field(description="no_roll (a case opens), not_on_roster or disabled_unplaced")
    row: int | None = Field(description="The roster's row (none for not_on_roster)")
    student_id: uuid.UUID | None = Field(description="Our student (or the stand-in of a child we lack)")
    student_registered: bool
    case_id: uuid.UUID | None = Field(description="no_roll: the child's active case")
    name: str
    id_number_masked: str | None
    birth_date: date | None
    area_code: str
    school_code: str | None
    village_code: str | None
    details: dict
    created_at: datetime
