import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from services.contracts.calendar import BirthDate, EventDate
from services.kit.schemas import InputModel, OutputModel, Stored
from services.kit.text import PersonName
from services.registry.domain import Category, DisabilityCategory, EnrollmentStatus, Group, Stage
from services.registry.students.idnumber import parse_id_number

Name = Field(min_length=1, max_length=50, examples=["王小明"])


class Disability(InputModel):
    category: DisabilityCategory
    grade: int = Field(ge=1, le=4, description="1 (most severe) to 4")


class EnrollmentIn(InputModel):
    school_code: str = Field(pattern=r"^[0-9]{10}$", examples=["2161000123"])
    stage: Stage = Field(examples=["primary"])
    grade: int = Field(ge=1, le=12, examples=[3])
    class_name: str | None = Field(default=None, max_length=50, examples=["三年级(2)班"])
    boarding: bool = False
    status: EnrollmentStatus = EnrollmentStatus.enrolled


class StudentCreate(InputModel):
    name: PersonName = Name
    id_number: str = Field(min_length=1, max_length=40, examples=["610928201503150012"])
    student_number: str | None = Field(
        default=None, pattern=r"^[GJL][0-9A-Z]{10,30}$", description="学籍号; defaults to G + ID number"
    )
    gender: str | None = Field(
        default=None, pattern="^(male|female)$", description="Optional; must agree with the ID number"
    )
    birth_date: BirthDate | None = Field(default=None, description="Optional; must agree with the ID number")
    ethnicity: str | None = Field(default=None, max_length=20, examples=["汉族"])
    groups: list[Group] = Field(default_factory=list)
    disability: Disability | None = None
    household_id: uuid.UUID | None = Field(default=None, description="The household (户), if known")
    enrollment: EnrollmentIn

    @field_validator("id_number")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        return parse_id_number(v).value

    @model_validator(mode="after")
    def _consistent(self):
        parsed = parse_id_number(self.id_number)
        if self.gender is not None and self.gender != parsed.gender:
            raise ValueError(f"gender {self.gender} disagrees with the ID number ({parsed.gender})")
        if self.birth_date is not None and self.birth_date != parsed.birth_date:
            raise ValueError(f"birth_date disagrees with the ID number ({parsed.birth_date})")
        if self.disability is not None and Group.disabled not in self.groups:
            self.groups.append(Group.disabled)
        self.groups = sorted(set(self.groups))
        return self


class EnrollmentOut(OutputModel):
    school_code: str | None
    stage: Stage | None
    grade: int | None
    class_name: str | None
    boarding: bool
    status: EnrollmentStatus


class StudentPublic(Stored):
    id: uuid.UUID
    name: str
    id_number_masked: str
    id_number: str | None = Field(default=None, description="Only with ?reveal=id_number (audited)")
    gender: Literal["male", "female"] = Field(description="From the ID number")
    birth_date: date
    student_number: str
    ethnicity: str | None
    household_id: uuid.UUID | None
    groups: list[Group]
    disability: dict | None
    categories: list[Category]
    area_code: str | None
    enrollment: EnrollmentOut
    warnings: list[str] = Field(default_factory=list, description="Data-quality flags (not errors)")


class EnrollmentPatch(InputModel):
    stage: Stage | None = None
    grade: int | None = Field(default=None, ge=1, le=12)
    class_name: str | None = Field(default=None, max_length=50)
    boarding: bool | None = None


class StudentUpdate(InputModel):
    name: PersonName | None = Field(default=None, min_length=1, max_length=50)
    ethnicity: str | None = Field(default=None, max_length=20)
    student_number: str | None = Field(default=None, pattern=r"^[GJL][0-9A-Z]{10,30}$")
    household_id: uuid.UUID | None = None
    groups: list[Group] | None = None
    disability: Disability | None = None
    enrollment: EnrollmentPatch | None = Field(
        default=None,
        description="Grade, class, boarding, stage; school and status change by enrollment-changes",
    )
    version: int | None = None


# The words of contracts.vocabulary.ChangeKind (`enroll`: registration, or 升学 after `graduate`).
ChangeKind = Literal[
    "enroll",
    "transfer",
    "suspend",
    "defer",
    "home_teaching",
    "out_of_county",
    "graduate",
    "drop_out",
    "return",
    "deceased",
]


class ChangeDetails(InputModel):
    school_code: str | None = Field(
        default=None, pattern=r"^[0-9]{10}$", description="transfer/return/enroll: the school"
    )
    stage: Stage | None = Field(default=None, description="enroll (required): the next stage")
    grade: int | None = Field(default=None, ge=1, le=12, description="enroll (required): its grade")
    class_name: str | None = Field(default=None, max_length=50)
    boarding: bool | None = None
    province: str | None = Field(default=None, max_length=50, description="out_of_county: where (省)")
    county: str | None = Field(default=None, max_length=50, description="out_of_county: where (县)")
    school_name: str | None = Field(default=None, max_length=200, description="out_of_county: which school")


class EnrollmentChangeCreate(InputModel):
    kind: ChangeKind
    effective_date: EventDate
    reason: str | None = Field(default=None, max_length=500)
    details: ChangeDetails = Field(default_factory=ChangeDetails)


class EnrollmentChangePublic(OutputModel):
    id: uuid.UUID
    student_id: uuid.UUID
    kind: ChangeKind
    effective_date: date
    from_status: EnrollmentStatus | None
    to_status: EnrollmentStatus
    from_school_code: str | None
    to_school_code: str | None
    from_area_code: str | None = Field(default=None, description="The area of the school it leaves")
    to_area_code: str | None = Field(default=None, description="The area of the school it leads to")
    from_stage: Stage | None = Field(default=None, description="The stage before the change")
    stage: Stage | None = Field(description="The stage after the change")
    grade: int | None
    details: dict
    reason: str | None
    actor: str
    created_at: datetime
