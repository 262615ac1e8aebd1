"""Comparing an outside roster with our rolls (联控联保), in one transaction as the service.

Only children of compulsory age count: 6-15 full years on 1 September of the school year the
roster's date falls in (contracts.calendar). Three kinds of finding:

- `no_roll`: a roster child enrolled nowhere we know — no student with its ID number's keyed hash,
  or one whose status is not on a roll (dropped out, transferred out, or a roster stand-in). Each
  opens a case (source `outside_roster`) unless the child already has an active one: on the
  student, or on a stand-in placed in the row's village (else the roster's area), so the village
  cadre, the township and the county follow it up (students/unregistered.py).
- `not_on_roster`: a student of compulsory age on a school roll (enrolled or home-taught) whose
  household lies in the roster's area and whose ID number the roster lacks (a 残联 roster: only
  students with the `disabled` group).
- `disabled_unplaced`: on a 残联 roster, a child of compulsory age with no placement for the
  roster's year (disability/).
"""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.contracts.vocabulary import (
    COMPULSORY_AGES,
    OUTSIDE_ROSTER_SOURCE_NAMES,
    CaseSource,
    OutsideFindingKind,
    OutsideRosterSource,
)
from services.dropout.cases.linking import lock_child
from services.dropout.cases.models import Case
from services.dropout.cases.opening import ACTIVE_WHERE, Opening, open_cases
from services.dropout.cases.roster import keep_stand_in
from services.dropout.disability.models import Placement
from services.dropout.outside_rosters.models import OutsideFinding, OutsideRoster
from services.dropout.outside_rosters.reading import RosterRow
from services.dropout.students.models import Student
from services.dropout.students.unregistered import NOT_REGISTERED, stand_in
from services.kit.rls import within

ON_A_ROLL = ("enrolled", "home_taught", "out_of_county", "suspended", "deferred")
SETTLED = ("graduated", "deceased")  # done with compulsory school, or no longer a child to find
AT_SCHOOL = ("enrolled", "home_taught")
CHUNK = 5000


@dataclass
class Outcome:
    findings: list[dict] = field(default_factory=list)
    cases_opened: int = 0

    def count(self, kind: OutsideFindingKind) -> int:
        return sum(1 for f in self.findings if f["kind"] == kind.value)


def school_age(birth: date | None, as_of: date) -> bool:
    return birth is not None and calendar.age_on(birth, calendar.school_year_start(as_of)) in COMPULSORY_AGES


async def _by_hash(session: AsyncSession, hashes: list[str]) -> dict[str, Student]:
    """The projection's student of each hash: a registered one first, the latest of several."""
    found: dict[str, Student] = {}
    for i in range(0, len(hashes), CHUNK):
        stmt = select(Student).where(Student.id_number_hash.in_(hashes[i : i + CHUNK]))
        for s in (await session.execute(stmt)).scalars():
            held = found.get(s.id_number_hash)
            rank = (s.status != NOT_REGISTERED, s.updated_at)
            if held is None or rank > (held.status != NOT_REGISTERED, held.updated_at):
                found[s.id_number_hash] = s
    return found


def _finding(
    kind: OutsideFindingKind, roster: OutsideRoster, row: RosterRow | None, s: Student | None
) -> dict:
    registered = s is not None and s.status != NOT_REGISTERED
    home = (s.village_code or s.area_code) if s else None
    return {
        "roster_id": roster.id, "kind": kind.value, "row_number": row.row if row else None,
        "student_id": s.id if s else None, "student_registered": registered, "case_id": None,
        "name": (row.name if row else s.name)[:50],
        "id_number_masked": row.id_number_masked if row else s.id_number_masked,
        "birth_date": row.birth_date if row else s.birth_date,
        "area_code": home or _village(roster, row) or roster.area_code,
        "school_code": s.school_code if s else None, "village_code": s.village_code if s else None,
        "details": {"status": s.status if s else None, "disability": row.disability if row else None},
    }  # fmt: skip


def _village(roster: OutsideRoster, row: RosterRow | None) -> str | None:
    """The row's village when it lies in the roster's area (a child is never placed outside it)."""
    if row and row.village_code and row.village_code.startswith(roster.area_code):
        return row.village_code
    return None


async def _child(session: AsyncSession, roster: OutsideRoster, row: RosterRow, s: Student | None) -> Student:
    """The student a no-roll child's case belongs to: its registry record, else its stand-in."""
    if s is not None and s.status != NOT_REGISTERED:
        return s
    await lock_child(session, row.id_number_hash)  # against the registration of the same child (linking)
    child = stand_in(
        id_number_hash=row.id_number_hash, name=row.name, id_number_masked=row.id_number_masked,
        birth_date=row.birth_date, area_code=_village(roster, row) or roster.area_code,
        household_platform_id=None,
    )  # fmt: skip
    return await keep_stand_in(session, child)


async def _no_roll(session: AsyncSession, roster: OutsideRoster, pairs, out: Outcome) -> None:
    """Findings and cases for the children on no roll."""
    today = calendar.today()
    label = OUTSIDE_ROSTER_SOURCE_NAMES[OutsideRosterSource(roster.source)]
    openings, rows = [], []
    for row, s in pairs:
        child = await _child(session, roster, row, s)
        rows.append((row, child))
        note = f"{label}比对发现适龄未入学（{roster.as_of}，第{roster.roster_version}版，第{row.row}行）"
        actor = f"outside-roster:{roster.source}"
        openings.append(Opening(student=child, source=CaseSource.outside_roster, opened_on=today,
                                actor=actor, note=note))  # fmt: skip
    opened = await open_cases(session, openings)
    out.cases_opened = len(opened)
    ids = [child.id for _, child in rows]
    active = {sid: cid for sid, cid in (await session.execute(
        select(Case.student_id, Case.id).where(Case.student_id.in_(ids), ACTIVE_WHERE))).all()}  # fmt: skip
    for row, child in rows:
        finding = _finding(OutsideFindingKind.no_roll, roster, row, child)
        finding["case_id"] = active.get(child.id)
        out.findings.append(finding)


async def _not_on_roster(
    session: AsyncSession, roster: OutsideRoster, hashes: set[str], out: Outcome
) -> None:
    place = func.coalesce(Student.village_code, Student.area_code)
    stmt = select(Student).where(within(place, roster.area_code), Student.status.in_(AT_SCHOOL))
    if roster.source == OutsideRosterSource.disabled_federation:
        stmt = stmt.where(Student.groups.any("disabled"))
    for s in (await session.execute(stmt)).scalars():
        if school_age(s.birth_date, roster.as_of) and s.id_number_hash not in hashes:
            out.findings.append(_finding(OutsideFindingKind.not_on_roster, roster, None, s))


async def _unplaced(session: AsyncSession, roster: OutsideRoster, pairs, out: Outcome) -> None:
    ids = [s.id for _, s in pairs if s is not None]
    placed = set()
    for i in range(0, len(ids), CHUNK):
        stmt = select(Placement.student_id).where(
            Placement.student_id.in_(ids[i : i + CHUNK]), Placement.year == roster.as_of.year
        )
        placed |= set((await session.execute(stmt)).scalars())
    for row, s in pairs:
        if s is None or s.id not in placed:
            out.findings.append(_finding(OutsideFindingKind.disabled_unplaced, roster, row, s))


async def compare(session: AsyncSession, roster: OutsideRoster, rows: list[RosterRow]) -> Outcome:
    """Compare the valid rows with the rolls; open the cases; keep the findings. Return the outcome."""
    out = Outcome()
    aged = [r for r in rows if school_age(r.birth_date, roster.as_of)]
    known = await _by_hash(session, [r.id_number_hash for r in aged])
    pairs = [(r, known.get(r.id_number_hash)) for r in aged]
    missing = [(r, s) for r, s in pairs if s is None or s.status not in (*ON_A_ROLL, *SETTLED)]
    await _no_roll(session, roster, missing, out)
    await _not_on_roster(session, roster, {r.id_number_hash for r in rows}, out)
    if roster.source == OutsideRosterSource.disabled_federation:
        await _unplaced(session, roster, pairs, out)
    if out.findings:
        await session.execute(OutsideFinding.__table__.insert(), out.findings)
    roster.compared = len(aged)
    return out
