"""`POST /api/v1/households/lookup`: up to 1,000 households in one call, by platform id or ID number.

The province's platform reconciles its roster with ours; one request per household made 100,000
households a matter of hours. A lookup by ID number finds the household of the student with that
number (matched through the keyed hash: the plain number is never stored or echoed back, the answer
names it masked). Answers are in the order asked, with the household or `null`, inside the caller's
scope (SQL filter and the row-level wall); the gateway audits the call (action `lookup`).
"""

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import Field, model_validator
from sqlalchemy import select

from services.kit.auth import CurrentPrincipal
from services.kit.crypto import id_cipher, mask_id_number
from services.kit.db import SessionDep
from services.kit.responses import problems
from services.kit.schemas import InputModel, OutputModel
from services.kit.settings import get_settings
from services.registry.households import service
from services.registry.households.models import Household
from services.registry.households.schemas import HouseholdPublic
from services.registry.students.idnumber import parse_id_number
from services.registry.students.models import Student

LOOKUP_LIMIT = 1000
router = APIRouter(prefix="/api/v1/households", tags=["households"])
IdNumber = Annotated[str, Field(min_length=18, max_length=18, pattern=r"^[0-9]{17}[0-9Xx]$")]


class KeyedLookup(InputModel):
    """Up to 1,000 keys in all; each answered in the order given."""

    id_numbers: list[IdNumber] = Field(
        default_factory=list, max_length=LOOKUP_LIMIT, examples=[["610928201503150012"]]
    )

    def _count(self) -> int:
        return len(self.id_numbers)

    @model_validator(mode="after")
    def _bounds(self):
        if not 1 <= self._count() <= LOOKUP_LIMIT:
            raise ValueError(f"give between 1 and {LOOKUP_LIMIT} keys in all")
        for i, number in enumerate(self.id_numbers):
            try:
                parse_id_number(number)
            except ValueError as exc:
                raise ValueError(f"id_numbers[{i}]: {exc}") from None
        return self


def hashes_of(numbers: list[str]) -> list[str]:
    cipher = id_cipher(get_settings())
    return [cipher.lookup_hash(n.upper()) for n in numbers]


class HouseholdLookup(KeyedLookup):
    platform_ids: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=LOOKUP_LIMIT, examples=[["6109281002010001"]]
    )

    def _count(self) -> int:
        return len(self.id_numbers) + len(self.platform_ids)


class HouseholdMatch(OutputModel):
    by: Literal["platform_id", "id_number"]
    key: str = Field(description="The key asked (an ID number masked: first 6, last 4)")
    household: HouseholdPublic | None = Field(description="null: none inside the caller's scope")


class HouseholdLookupResult(OutputModel):
    items: list[HouseholdMatch]
    found: int = Field(examples=[998])
    missing: int = Field(examples=[2])


@router.post(
    "/lookup",
    response_model=HouseholdLookupResult,
    summary="Look up to 1,000 households at once",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {"platform_ids": ["6109281002010001"], "id_numbers": ["610928201503150012"]}
                }
            }
        }
    },
    responses=problems(403),
)
async def lookup_households(
    data: HouseholdLookup, session: SessionDep, principal: CurrentPrincipal
) -> HouseholdLookupResult:
    """Answer each platform id and ID number (of a student of the household) with the household or null.

    Platform clients may call it (their area only). Unknown keys and keys outside the caller's scope
    look the same: `null`."""
    by_platform: dict[str, Household] = {}
    if data.platform_ids:
        stmt = select(Household).where(
            Household.platform_id.in_(set(data.platform_ids)), service.visible_to(principal)
        )
        by_platform = {h.platform_id: h for h in (await session.execute(stmt)).scalars()}
    by_hash: dict[str, Household] = {}
    hashes = hashes_of(data.id_numbers)
    if hashes:
        stmt = (
            select(Student.id_number_hash, Household)
            .join(Household, Household.id == Student.household_id)
            .where(Student.id_number_hash.in_(set(hashes)), service.visible_to(principal))
        )
        by_hash = {h: household for h, household in (await session.execute(stmt)).all()}
    items = [
        HouseholdMatch(by="platform_id", key=p, household=_public(by_platform.get(p)))
        for p in data.platform_ids
    ] + [
        HouseholdMatch(by="id_number", key=mask_id_number(n.upper()), household=_public(by_hash.get(h)))
        for n, h in zip(data.id_numbers, hashes, strict=True)
    ]
    found = sum(1 for i in items if i.household is not None)
    return HouseholdLookupResult(items=items, found=found, missing=len(items) - found)


def _public(household: Household | None) -> HouseholdPublic | None:
    return None if household is None else HouseholdPublic.model_validate(service.to_public(household))
