"""Reading an outside roster: columns by name or Chinese label; each ID number checked, hashed, masked.

Runs in a thread (CSV or XLSX through the kit's bounded readers). The plain ID number never leaves
this module: a row keeps the deployment's keyed hash (the registry's, so it matches the student
projection's `id_number_hash`) and the mask (first 6, last 4).
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from stdnum.cn import ric

from services.contracts.calendar import birth_date_problem
from services.contracts.vocabulary import DISABILITY_ALIASES, GENDER_ALIASES, DisabilityCategory
from services.kit.crypto import FieldCipher, mask_id_number, mask_ids
from services.kit.spreadsheet import Source, read_table

MAX_ROWS = 200_000
MAX_ERRORS = 1000
HEADERS = {
    "name": ("name", "姓名"),
    "id_number": ("id_number", "身份证号", "身份证号码", "公民身份号码", "证件号码"),
    "gender": ("gender", "性别"),
    "village_code": ("village_code", "村代码", "行政区划代码", "户籍地代码", "区划代码"),
    "disability_category": ("disability_category", "残疾类别"),
    "disability_grade": ("disability_grade", "残疾等级"),
}
REQUIRED = ("name", "id_number")
GRADES = {"1": 1, "2": 2, "3": 3, "4": 4, "一级": 1, "二级": 2, "三级": 3, "四级": 4, "一": 1, "二": 2,
          "三": 3, "四": 4}  # fmt: skip
VILLAGE = re.compile(r"^[0-9]{12}$")
PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
    "71 81 82".split()
)


class BadHeader(ValueError):
    """The header lacks a required column."""


@dataclass(frozen=True)
class RosterRow:
    row: int
    name: str
    id_number_hash: str
    id_number_masked: str
    birth_date: date
    gender: str | None = None
    village_code: str | None = None
    disability: dict | None = None


@dataclass
class Read:
    rows: list[RosterRow] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    total: int = 0
    error_count: int = 0

    def error(self, row: int, field_name: str, msg: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"row": row, "field": field_name, "msg": mask_ids(msg)})


def layout(header: list[str]) -> dict[str, int]:
    """Map the header to the fields; BadHeader naming the missing columns."""
    found: dict[str, int] = {}
    for index, raw in enumerate(header):
        label = raw.strip().lower()
        for name, labels in HEADERS.items():
            if label in labels and name not in found:
                found[name] = index
    missing = [f"{f} ({HEADERS[f][1]})" for f in REQUIRED if f not in found]
    if missing:
        raise BadHeader(f"The header lacks the column(s) {', '.join(missing)}")
    return found


def check_header(source: Source, filename: str) -> None:
    """Refuse a file that is not a readable roster (UnreadableFile, BadHeader) before it is queued."""
    with read_table(source, filename) as table:
        layout(table.header)


def _id_problem(value: str, today: date) -> str | None:
    """What is wrong with an ID number (GB 11643): shape, province, birth date, check digit; or None.

    The rest of the birthplace code is not looked up: abolished codes stay valid on old ID cards.
    """
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        return "must be 18 characters: 17 digits and a digit or X"
    if value[:2] not in PROVINCES:
        return f"unknown province code {value[:2]}"
    try:
        birth = ric.get_birth_date(value)
    except Exception:  # stdnum's InvalidComponent: no such date
        return f"birth date {value[6:14]} is impossible"
    if problem := birth_date_problem(birth, on=today):
        return f"birth date {problem}"
    if ric.calc_check_digit(value) != value[17]:
        return "check digit is wrong"
    return None


def _disability(category: str, grade: str) -> dict | str | None:
    if not category.strip() and not grade.strip():
        return None
    cat = DISABILITY_ALIASES.get(category.strip()) or (
        category.strip().lower() if category.strip().lower() in set(DisabilityCategory) else None
    )
    if category.strip() and cat is None:
        return "disability_category"
    level = GRADES.get(grade.strip()) if grade.strip() else None
    if grade.strip() and level is None:
        return "disability_grade"
    return {"category": str(cat) if cat else None, "grade": level}


def _row(cipher: FieldCipher, number: int, cells: list[str], where: dict[str, int], today: date, out: Read):
    def cell(name: str) -> str:
        index = where.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    name, raw = cell("name"), cell("id_number")
    value = unicodedata.normalize("NFKC", raw).upper().strip()
    if not name or len(name) > 50:
        return out.error(number, "name", "required, at most 50 characters")
    if problem := _id_problem(value, today):
        return out.error(number, "id_number", problem)
    gender = GENDER_ALIASES.get(cell("gender").lower()) if cell("gender") else None
    if cell("gender") and gender is None:
        return out.error(number, "gender", "must be male or female (男/女)")
    village = cell("village_code") or None
    if village and not VILLAGE.match(village):
        return out.error(number, "village_code", "must be a 12-digit village code")
    disability = _disability(cell("disability_category"), cell("disability_grade"))
    if isinstance(disability, str):
        return out.error(number, disability, "unknown value (视力/听力/言语/肢体/智力/精神/多重; 一级-四级)")
    out.rows.append(
        RosterRow(
            row=number, name=name, id_number_hash=cipher.lookup_hash(value),
            id_number_masked=mask_id_number(value), birth_date=ric.get_birth_date(value),
            gender=gender, village_code=village, disability=disability,
        )
    )  # fmt: skip


def read_roster(source: Source, filename: str, *, cipher: FieldCipher, today: date) -> Read:
    """Read every row; invalid and repeated ones become errors (masked), never rows."""
    out, seen = Read(), set()
    with read_table(source, filename) as table:
        where = layout(table.header)
        for number, cells in table.rows:
            out.total += 1
            if out.total > MAX_ROWS:
                raise BadHeader(f"The roster has more than {MAX_ROWS} rows; split it by area")
            before = len(out.rows)
            _row(cipher, number, cells, where, today, out)
            if len(out.rows) > before:
                key = out.rows[-1].id_number_hash
                if key in seen:
                    out.rows.pop()
                    out.error(number, "id_number", "the same ID number is on an earlier row")
                seen.add(key)
    return out
