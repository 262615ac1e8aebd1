from typing import Annotated

from fastapi import APIRouter, Query

from services.contracts.vocabulary import ProgressionStatus
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page
from services.kit.responses import problems
from services.registry.progression import service
from services.registry.progression.schemas import ProgressionPublic

router = APIRouter(prefix="/api/v1/progression", tags=["progression"])


@router.get(
    "",
    response_model=Page[ProgressionPublic],
    summary="Graduates of a year and whether they went on (升学, 两后生)",
    description="Each graduate of `year` (a `graduate` enrollment change dated in that calendar year) of "
    "the caller's schools or villages — a county's, a township's, a village's (its households' children), "
    "a school's own — ordered by graduation date: `continued` with the stage and school of its next "
    "enrollment (an `enroll` after the graduation, in any county) or `not_continued`. The sending county "
    "keeps listing a graduate who went on to another county's school. `poor_only=true` is the 两后生 list: "
    "junior or senior graduates of poor households (registered_poor, monitored, dibao, tekun) who did not "
    "continue (it implies `status=not_continued`).",
    responses=problems(403),
)
async def list_progression(
    session: SessionDep,
    principal: CurrentPrincipal,
    year: Annotated[int, Query(ge=2000, le=2100, description="The calendar year of graduation")],
    area_code: Annotated[
        str | None, Query(pattern=r"^[0-9]{2,12}$", description="Only graduates of schools or villages here")
    ] = None,
    status: Annotated[ProgressionStatus | None, Query(description="continued or not_continued")] = None,
    poor_only: Annotated[bool, Query(description="Only the 两后生 (poor households, junior/senior)")] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """List the caller's graduates of a year, continued or not."""
    return await service.list_progression(
        session, principal, year=year, area_code=area_code, status=status, poor_only=poor_only,
        limit=limit, cursor=cursor,
    )
