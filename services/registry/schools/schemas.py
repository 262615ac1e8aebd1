from pydantic import Field, field_validator, model_validator

from services.kit.schemas import InputModel, Stored
from services.registry.domain import PROVINCES, SCHOOL_TYPES, Ownership, Stage


class SchoolCreate(InputModel):
    code: str = Field(
        pattern=r"^[0-9]{10}$",
        examples=["2161000123"],
        description="学校标识码: 2-digit type, 2-digit province, 6-digit sequence",
    )
    name: str = Field(min_length=1, max_length=200, examples=["城关镇中心小学"])
    area_code: str = Field(pattern=r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$", examples=["610928100"])
    ownership: Ownership = Ownership.public
    stages: list[Stage] = Field(min_length=1, examples=[["primary"]])

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if v[:2] not in SCHOOL_TYPES:
            raise ValueError(f"unknown school type {v[:2]} (expected one of {sorted(SCHOOL_TYPES)})")
        if v[2:4] not in PROVINCES:
            raise ValueError(f"unknown province {v[2:4]}")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.code[2:4] != self.area_code[:2]:
            raise ValueError("the school code's province does not match area_code")
        self.stages = sorted(set(self.stages))
        return self


class SchoolUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    ownership: Ownership | None = None
    stages: list[Stage] | None = Field(default=None, min_length=1)
    version: int | None = None


class SchoolPublic(Stored):
    code: str
    name: str
    area_code: str
    ownership: Ownership
    stages: list[Stage]
