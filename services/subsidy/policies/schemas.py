import uuid

from pydantic import Field, StrictInt, model_validator

from services.contracts.areas import AREA_CODE_PATTERN
from services.kit.schemas import InputModel, Stored
from services.subsidy.domain import Category, PolicyKind, Stage

Years = list[StrictInt]


def _check(model):
    if model.boarding_only and model.non_boarders_only:
        raise ValueError("boarding_only and non_boarders_only exclude each other")
    for year in model.years or []:
        if not 2000 <= year <= 2100:
            raise ValueError(f"year {year} is out of range (2000-2100)")
    for key in ("stages", "categories", "years"):
        if getattr(model, key) is not None:
            setattr(model, key, sorted(set(getattr(model, key))))
    return model


class PolicyCreate(InputModel):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,39}$", examples=["CN-LIVING-BOARD-PRIMARY"])
    name: str = Field(min_length=1, max_length=100, examples=["义务教育家庭经济困难寄宿生生活补助（小学）"])
    kind: PolicyKind
    stages: list[Stage] = Field(min_length=1)
    categories: list[Category] = Field(
        default_factory=list, description="Eligible aid categories; empty means every student of the stages"
    )
    boarding_only: bool = False
    non_boarders_only: bool = Field(default=False, description="Only students who do not board")
    amount_fen: StrictInt = Field(gt=0, le=10**9, description="Per semester, in fen (integer)")
    years: Years = Field(min_length=1, max_length=100, description="Calendar years of the semesters")
    area_code: str | None = Field(
        default=None, pattern=AREA_CODE_PATTERN, description="Where it applies; default the creator's area"
    )

    @model_validator(mode="after")
    def _valid(self):
        return _check(self)


class PolicyUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    stages: list[Stage] | None = Field(default=None, min_length=1)
    categories: list[Category] | None = None
    boarding_only: bool | None = None
    non_boarders_only: bool | None = None
    amount_fen: StrictInt | None = Field(default=None, gt=0, le=10**9)
    years: Years | None = Field(default=None, min_length=1, max_length=100)
    version: int | None = None

    @model_validator(mode="after")
    def _valid(self):
        return _check(self)


class PolicyPublic(Stored):
    id: uuid.UUID
    code: str
    revision: int = Field(description="Revisions are made when a policy in use changes")
    current: bool = Field(description="Whether this is the newest revision")
    name: str
    kind: PolicyKind
    stages: list[Stage]
    categories: list[Category]
    boarding_only: bool
    non_boarders_only: bool
    amount_fen: int
    years: list[int]
    area_code: str
    created_by: str
