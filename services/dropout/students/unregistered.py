"""A roster child the registry does not know: its stand-in `student` row, defined once.

The platform's roster (比对, statistics) can name a school-age child of a poor household whom no
school has registered. So that the child's case has a name, a masked ID number, a village and the
household's platform id — and is seen by that village's cadre, the township and the county — the
child gets a stand-in row in the projection, with status `not_registered`, keyed by a stable id
derived from the ID number's keyed hash. It never holds the ID number itself. When the registry
registers a student with the same hash, the case moves onto that student (cases/linking.py).
"""

import uuid
from datetime import date

from services.contracts import calendar
from services.dropout.students.models import Student

NOT_REGISTERED = "not_registered"
VILLAGE_LENGTH = 12
# Stand-ins get an id derived from their ID number's keyed hash: the same child, the same row.
UNREGISTERED = uuid.UUID("5b0c1a52-6c1e-4b8e-9d51-0d3a7f7c2e11")


def stand_in_id(id_number_hash: str) -> uuid.UUID:
    """Return the stable id of the stand-in of a child with this ID number hash."""
    return uuid.uuid5(UNREGISTERED, id_number_hash)


def stand_in(
    *,
    id_number_hash: str,
    name: str,
    id_number_masked: str | None,
    birth_date: date | None,
    area_code: str,
    household_platform_id: str | None,
) -> Student:
    """Return the full `student` row of a roster child the registry does not know (not yet added)."""
    return Student(
        id=stand_in_id(id_number_hash),
        name=name[:50],
        area_code=area_code,
        # The household's village when the registry knows the household, else the roster's area.
        village_code=area_code if len(area_code) == VILLAGE_LENGTH else None,
        status=NOT_REGISTERED,
        birth_date=birth_date,
        groups=[],
        categories=[],
        id_number_hash=id_number_hash,
        id_number_masked=(id_number_masked or None),
        household_platform_id=(household_platform_id or None),
        version=0,
        updated_at=calendar.now(),
    )


def row_of(student: Student) -> dict:
    """Every column of a student as insert values (no column left to a NOT NULL surprise)."""
    return {c.name: getattr(student, c.name) for c in Student.__table__.columns}
