from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.dropout.calendar import service
from services.dropout.calendar.schemas import CalendarPut, CalendarYear
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.errors import NotFound
from services.kit.responses import problems

router = APIRouter(prefix="/api/v1/dropout/calendar", tags=["school calendar"])
Year = Annotated[int, Path(ge=2000, le=2100)]


async def _year(session, *, area: str, year: int) -> CalendarYear:
    days = await service.effective_year(session, area=area, year=year)
    calendar = await service.calendar_for(session, area)
    count = len(calendar.school_days(date(year - 1, 12, 31), date(year, 12, 31)))
    return CalendarYear(area_code=area, year=year, days=days, school_days=count)


@router.put(
    "/{year}",
    response_model=CalendarYear,
    summary="Set an area's holidays and make-up days",
    responses=problems(403, 404),
)
async def put_calendar(
    year: Year, data: CalendarPut, session: SessionDep, principal: CurrentPrincipal
) -> CalendarYear:
    """Replace the area's entries for the year (county and admin). School days are weekdays, minus
    holidays, plus make-up days; national holidays come from NOL_HOLIDAYS; a narrower area's entry
    overrides a wider one's."""
    area = await service.put_year(session, principal, year=year, data=data)
    return await _year(session, area=area, year=year)


@router.get(
    "/{year}", response_model=CalendarYear, summary="The school calendar of an area", responses=problems(404)
)
async def get_calendar(
    year: Year,
    session: SessionDep,
    principal: CurrentPrincipal,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
) -> CalendarYear:
    """Holidays and make-up days in force for an area (default: the caller's)."""
    area = area_code or principal.area_code
    if not (area.startswith(principal.area_code) or principal.area_code.startswith(area)):
        raise NotFound(f"No area {area} in your scope")
    return await _year(session, area=area, year=year)
