import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, computed_field

from services.kit.schemas import OutputModel, Stored

JobStatus = Literal["queued", "running", "done", "failed"]


class RowError(OutputModel):
    row: int = Field(description="Row number as the spreadsheet shows it (the header is row 1)")
    field: str = Field(description="The column as the file names it ('' for the whole row)")
    msg: str


class ImportJobPublic(Stored):
    id: uuid.UUID
    kind: Literal["areas", "schools", "households", "students"]
    filename: str
    status: JobStatus
    total: int = Field(description="Data rows in the file (blank rows not counted)")
    processed: int = Field(description="Rows handled so far")
    created: int
    updated: int
    error_count: int = Field(description="All row errors (the list keeps the first 1000)")
    errors: list[RowError]
    detail: str | None = Field(description="Why the job failed, when it did")
    actor: str
    area_code: str
    started_at: datetime | None
    finished_at: datetime | None

    @computed_field(description="Rows not stored because of errors")
    @property
    def failed(self) -> int:
        return max(0, self.processed - self.created - self.updated)
