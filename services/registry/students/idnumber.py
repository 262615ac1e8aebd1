"""Resident ID numbers (GB 11643): check digit, real birth date, existing province."""

from dataclasses import dataclass
from datetime import date

from stdnum.cn import ric

from services.contracts import calendar
from services.registry.domain import PROVINCES


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth_date: date
    gender: str


def parse_id_number(raw: str, *, today: date | None = None) -> IdNumber:
    """Validate an 18-character ID number; raise ValueError saying what is wrong."""
    # ric.compact only maps non-ASCII look-alikes; plain ASCII needs just upper/strip (and bulk imports
    # validate hundreds of thousands of these).
    value = raw.upper().strip() if raw.isascii() else ric.compact(raw)
    if len(value) != 18:
        raise ValueError(f"must be 18 characters, got {len(value)}")
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise ValueError("must be 17 digits followed by a digit or X")
    if value[:2] not in PROVINCES:
        raise ValueError(f"unknown province code {value[:2]}")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError(f"birth date {value[6:14]} is not a real date") from None
    if calendar.birth_date_problem(birth, on=today) is not None:
        raise ValueError(f"birth date {birth.isoformat()} is impossible")
    if ric.calc_check_digit(value) != value[17]:
        raise ValueError("check digit is wrong")
    return IdNumber(value=value, birth_date=birth, gender="male" if int(value[16]) % 2 else "female")
