"""Write areas, schools and households row by row through their services (one savepoint a row).

These files are small next to student rosters, so each row goes through the
very functions the single-record endpoints call: same scope checks, same
events, same re-derivation of students' categories when a household changes.
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal
from services.kit.errors import AppError, Invalid
from services.registry.areas import service as areas
from services.registry.areas.models import Area
from services.registry.areas.schemas import AreaUpdate
from services.registry.households import service as households
from services.registry.households.models import Household
from services.registry.households.schemas import HouseholdUpdate
from services.registry.imports.columns import SPECS, Layout
from services.registry.imports.prepare import Row, field_of
from services.registry.imports.students import Outcome
from services.registry.schools import service as schools
from services.registry.schools.models import School
from services.registry.schools.schemas import SchoolUpdate


class RecordWriter:
    """Create or update one record per row; a failing row rolls back alone."""

    def __init__(self, principal: Principal, layout: Layout):
        self.principal, self.layout = principal, layout
        self.key = SPECS[layout.kind].key
        self.seen: dict[str, int] = {}
        self.store = {"areas": self._area, "schools": self._school, "households": self._household}[
            layout.kind
        ]

    def _key_of(self, row: Row) -> str:
        return getattr(row.data, "platform_id" if self.layout.kind == "households" else "code")

    def dedupe(self, rows: list[Row]) -> tuple[list[Row], list[dict[str, Any]]]:
        """Refuse a second row for a record seen earlier in the file."""
        kept, errors = [], []
        for row in rows:
            first = self.seen.setdefault(self._key_of(row), row.number)
            if first != row.number:
                errors.append(self._error(row, self.key, f"The same {self.key} is on row {first}"))
            else:
                kept.append(row)
        return kept, errors

    def _error(self, row: Row, field_name: str, msg: str) -> dict[str, Any]:
        return {"row": row.number, "field": self.layout.column_name(field_name), "msg": msg}

    async def write(self, session: AsyncSession, rows: list[Row]) -> Outcome:
        """Store each row in its own savepoint; return counts and row errors."""
        out = Outcome()
        for row in rows:
            try:
                async with session.begin_nested():
                    created = await self.store(session, row)
            except AppError as exc:
                loc = exc.errors[0]["loc"] if exc.errors else []
                name = field_of(tuple(str(p) for p in loc), exc.detail, self.layout) or self.key
                out.errors.append(self._error(row, name, exc.detail))
                continue
            except DBAPIError as exc:
                reason = (str(exc.orig).splitlines() or ["database error"])[0]
                out.errors.append(self._error(row, self.key, f"Could not be stored: {reason}"))
                continue
            if created:
                out.created += 1
            else:
                out.updated += 1
        return out

    async def _area(self, session: AsyncSession, row: Row) -> bool:
        data = row.data
        area = (
            await session.execute(select(Area).where(Area.code == data.code).with_for_update())
        ).scalar_one_or_none()
        if area is None:
            await areas.create_areas(session, self.principal, data=[data])
            return True
        update = AreaUpdate(name=data.name, version=area.version)
        await areas.rename_area(session, self.principal, area=area, data=update, if_match=None)
        return False

    async def _school(self, session: AsyncSession, row: Row) -> bool:
        data = row.data
        found = (
            await session.execute(
                select(School, schools.visible_to(self.principal).label("visible"))
                .where(School.code == data.code)
                .with_for_update(of=School)
            )
        ).first()
        if found is None:
            await schools.create_school(session, self.principal, data=data)
            return True
        school, visible = found
        if not visible:
            raise Invalid(["code"], f"School {data.code} exists outside your area", code="out_of_scope")
        if school.area_code != data.area_code:
            raise Invalid(["area_code"], f"School {data.code} is in area {school.area_code}; it cannot move")
        changes = data.model_dump(include={"name", "stages"} | ({"ownership"} & row.given))
        update = SchoolUpdate(**changes, version=school.version)
        await schools.update_school(session, self.principal, school=school, data=update, if_match=None)
        return False

    async def _household(self, session: AsyncSession, row: Row) -> bool:
        data = row.data
        found = (
            await session.execute(
                select(Household, households.visible_to(self.principal).label("visible"))
                .where(Household.platform_id == data.platform_id)
                .with_for_update(of=Household)
            )
        ).first()
        if found is None:
            await households.create_household(session, self.principal, data=data)
            return True
        household, visible = found
        if not visible:
            raise Invalid(
                ["platform_id"],
                "A household with this platform id exists outside your area",
                code="out_of_scope",
            )
        changes = data.model_dump(include={"head_name", "area_code"} | ({"statuses"} & row.given))
        update = HouseholdUpdate(**changes, version=household.version)
        await households.update_household(
            session, self.principal, household=household, data=update, if_match=None
        )
        return False
