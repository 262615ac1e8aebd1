import uuid

from pydantic import Field, StrictInt, field_validator, model_validator

from services.contracts.areas import AREA_CODE_PATTERN
from services.contracts.vocabulary import HardshipLevel
from services.kit.schemas import InputModel, Stored
from services.subsidy.domain import Category, PolicyKind, Stage
from services.subsidy.policies.rules import RuleIn, RulePublic, validate_rules

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
    if model.rules is not None:
        if model.amount_fen is not None or model.years is not None:
            raise ValueError("give either rules, or amount_fen and years (a flat policy), not both")
    return model


RULES_DESCRIPTION = (
    "Dated amount rules (标准), tried in order in each semester: the first a child meets sets the "
    "line's amount and item (a one-off rule already given for the child's stage is passed over). "
    "Without rules, `amount_fen` and `years` make one rule over those years' semesters."
)


def _unique_codes(rules: list[RuleIn] | None) -> list[RuleIn] | None:
    if rules is not None:
        validate_rules(rules)
    return rules


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
    amount_fen: StrictInt | None = Field(
        default=None, gt=0, le=10**9, description="A flat policy: per semester, in fen (integer)"
    )
    years: Years | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A flat policy: calendar years of the semesters",
    )
    rules: list[RuleIn] | None = Field(
        default=None, min_length=1, max_length=100, description=RULES_DESCRIPTION
    )
    min_hardship_level: HardshipLevel | None = Field(
        default=None,
        description="A child whose approved hardship level (家庭经济困难认定) is at least this qualifies "
        "beside `categories`; with no categories, the level is required",
    )
    area_code: str | None = Field(
        default=None, pattern=AREA_CODE_PATTERN, description="Where it applies; default the creator's area"
    )

    _rules_unique = field_validator("rules")(_unique_codes)

    @model_validator(mode="after")
    def _valid(self):
        if self.rules is None and (self.amount_fen is None or self.years is None):
            raise ValueError("give rules, or amount_fen and years")
        return _check(self)


class PolicyUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    stages: list[Stage] | None = Field(default=None, min_length=1)
    categories: list[Category] | None = None
    boarding_only: bool | None = None
    non_boarders_only: bool | None = None
    amount_fen: StrictInt | None = Field(default=None, gt=0, le=10**9)
    years: Years | None = Field(default=None, min_length=1, max_length=100)
    rules: list[RuleIn] | None = Field(
        default=None, min_length=1, max_length=100, description=RULES_DESCRIPTION
    )
    min_hardship_level: HardshipLevel | None = None
    version: int | None = None

    _rules_unique = field_validator("rules")(_unique_codes)

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
    amount_fen: int = Field(description="The amount of the first rule in force this semester (old clients)")
    years: list[int] = Field(description="Calendar years some rule is in force (open-ended: to next year)")
    rules: list[RulePublic]
    min_hardship_level: HardshipLevel | None = None
    area_code: str
    created_by: str
