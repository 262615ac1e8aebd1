import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from services.contracts.calendar import EventDate
from services.contracts.vocabulary import ResponsibleLine, ResponsibleRole
from services.kit.schemas import InputModel

Phone = Annotated[str, Field(pattern=r"^\+?[0-9][0-9-]{4,19}$")]
Username = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")]


class PersonIn(InputModel):
    role: ResponsibleRole = Field(
        description="head_teacher, principal (教育线); village_head, township_head (政府线)"
    )
    name: str = Field(min_length=1, max_length=50)
    phone: Phone | None = None
    username: Username | None = Field(default=None, description="The person's login, when a user of ours")


class ResponsiblePut(InputModel):
    persons: list[PersonIn] = Field(min_length=1, max_length=4)


class DefaultPut(PersonIn):
    unit_code: str = Field(
        pattern=r"^([0-9]{9}|[0-9]{10}|[0-9]{12})$",
        description="The unit whose children get this person unless set per child: the school code (10 "
        "digits) for head_teacher and principal, the village (12) for village_head, the township (9) for "
        "township_head",
    )


class DefaultPublic(BaseModel):
    unit_code: str
    role: str
    name: str
    phone: str | None
    username: str | None
    set_by: str
    version: int
    updated_at: datetime


class LetterCreate(InputModel):
    role: ResponsibleRole
    signer_name: str = Field(min_length=1, max_length=50, description="Who signed (the responsible person)")
    signed_on: EventDate
    evidence_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The scanned letter (an evidence file id)"
    )


class LetterPublic(BaseModel):
    id: uuid.UUID
    role: str
    signer_name: str
    signed_on: date
    evidence_id: str | None
    recorded_by: str
    created_at: datetime


class ResponsiblePublic(BaseModel):
    role: str
    role_name: str = Field(description="班主任, 校长, 村(居)委会主任, 乡镇长")
    line: ResponsibleLine = Field(description="education (教育线) or government (政府线)")
    name: str | None = Field(description="null when nobody is named for the role yet")
    phone: str | None = None
    username: str | None = None
    source: str | None = Field(
        description="student (set for this child), unit (the school's, village's or township's), or null"
    )
    unit_code: str | None = None
    letters: list[LetterPublic] = Field(
        default_factory=list, description="Signed responsibility letters (责任书)"
    )


class StudentResponsible(BaseModel):
    student_id: uuid.UUID
    student_name: str
    persons: list[ResponsiblePublic]
    complete: bool = Field(description="Every role has a person and a signed letter")
