"""Request and response bodies of the user endpoints (the hash never leaves the gateway)."""

import uuid

from pydantic import Field, ValidationInfo, field_validator

from api_gateway.passwords import password_problem
from api_gateway.users.policy import area_problem, school_problem
from services.kit.auth import Role
from services.kit.schemas import InputModel, Stored
from services.kit.text import USERNAME_PATTERN

# ASCII only: `\w` let Cyrillic look-alikes (`аdmin` with U+0430) pass for someone else's name.
USERNAME = USERNAME_PATTERN


def _strong(password: str | None) -> str | None:
    if password is not None and (problem := password_problem(password)):
        raise ValueError(problem)
    return password


class UserCreate(InputModel):
    username: str = Field(pattern=USERNAME, examples=["zhang.wei"],
                          description="3-64 lowercase ASCII letters, digits or `._-`; unique")
    password: str = Field(examples=["Chengguan2026"],
                          description="At least 8 characters mixing two kinds (letters, digits ...)")
    role: Role = Field(examples=["township"])
    area_code: str = Field(examples=["610928100"], description=(
        "admin/platform 2, 4 or 6 digits; county 6; township 9; village 12; school 6 or 9"))
    school_code: str | None = Field(default=None, validate_default=True, examples=[None],
                                    description="10-digit school code; school users only")

    @field_validator("password")
    @classmethod
    def _password(cls, v: str) -> str:
        return _strong(v)

    @field_validator("area_code")
    @classmethod
    def _area(cls, v: str, info: ValidationInfo) -> str:
        role = info.data.get("role")
        if role is not None and (problem := area_problem(role, v)):
            raise ValueError(problem)
        return v

    @field_validator("school_code")
    @classmethod
    def _school(cls, v: str | None, info: ValidationInfo) -> str | None:
        role = info.data.get("role")
        if role is not None and (problem := school_problem(role, v)):
            raise ValueError(problem)
        return v


class UserUpdate(InputModel):
    password: str | None = Field(default=None, examples=["Chengguan2027"])
    area_code: str | None = Field(default=None, examples=["610928101"])
    school_code: str | None = Field(default=None, examples=[None])
    disabled: bool | None = Field(default=None, examples=[False])
    version: int | None = Field(default=None, examples=[1],
                                description="The version being updated (or send If-Match)")

    @field_validator("password")
    @classmethod
    def _password(cls, v: str | None) -> str | None:
        return _strong(v)


class UserPublic(Stored):
    id: uuid.UUID
    username: str = Field(examples=["zhang.wei"])
    role: Role
    area_code: str = Field(examples=["610928100"])
    school_code: str | None = Field(default=None, examples=[None])
    disabled: bool = False
