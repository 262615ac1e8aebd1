import uuid
from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from services.contracts.calendar import EventDate
from services.kit.schemas import InputModel, OutputModel, Stored
from services.kit.text import PersonName

StatusKind = Literal["registered_poor", "lifted", "monitored", "dibao", "tekun"]
MonitorType = Literal["unstable_ex_poor", "borderline", "sudden_hardship"]


class HouseholdStatus(InputModel):
    kind: StatusKind
    since: EventDate = Field(description="From this date (for registered_poor/lifted: 1 January of the year)")
    until: EventDate | None = Field(default=None, description="Up to (excluding) this date; null = still")
    monitor_type: MonitorType | None = Field(default=None, description="For `monitored` only")
    identified_on: EventDate | None = None
    risk_cleared_on: EventDate | None = None

    @model_validator(mode="after")
    def _dates(self):
        if self.until is not None and self.until <= self.since:
            raise ValueError("until must be after since")
        if self.monitor_type and self.kind != "monitored":
            raise ValueError("monitor_type is only for monitored households")
        return self


class HouseholdCreate(InputModel):
    platform_id: str | None = Field(default=None, min_length=1, max_length=40, examples=["6109280012345"])
    head_name: PersonName = Field(min_length=1, max_length=50, examples=["王建国"])
    area_code: str = Field(
        pattern=r"^[0-9]{12}$", description="The village (12 digits)", examples=["610928100201"]
    )
    statuses: list[HouseholdStatus] = Field(default_factory=list, max_length=50)


class HouseholdUpdate(InputModel):
    head_name: PersonName | None = Field(default=None, min_length=1, max_length=50)
    area_code: str | None = Field(default=None, pattern=r"^[0-9]{12}$")
    platform_id: str | None = Field(default=None, min_length=1, max_length=40)
    statuses: list[HouseholdStatus] | None = Field(default=None, max_length=50)
    version: int | None = None


class HouseholdStatusOut(OutputModel):
    kind: StatusKind
    since: date
    until: date | None = None
    monitor_type: MonitorType | None = None
    identified_on: date | None = None
    risk_cleared_on: date | None = None


class HouseholdPublic(Stored):
    id: uuid.UUID
    platform_id: str | None
    head_name: str
    area_code: str
    statuses: list[HouseholdStatusOut]
    current_kinds: list[StatusKind] = Field(description="Statuses in force today")
