"""Read a ledger (台账) of past payments: columns by header, one checked row at a time, errors by column.

Columns (header names, English or Chinese): `id_number` (身份证号), `semester` (学期: 2019-spring or
2019年春季学期), `policy_code` (政策代码), the amount as `amount_yuan` (金额(元), two decimals at most)
or `amount_fen` (金额(分), an integer), `paid_on` (发放日期, YYYY-MM-DD) and `school_code` (学校标识码).
Errors name the column by the file's own header and never repeat an ID number (masked at most).
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from services.contracts.calendar import BadSemester, Semester, event_date_problem, today
from services.kit.crypto import mask_id_number

ALIASES = {
    "id_number": ("id_number", "身份证号", "身份证号码", "证件号码", "公民身份号码"),
    "semester": ("semester", "学期"),
    "policy_code": ("policy_code", "政策代码", "资助项目代码", "项目代码"),
    "amount_yuan": ("amount_yuan", "金额(元)", "金额（元）", "金额", "发放金额(元)", "发放金额（元）"),
    "amount_fen": ("amount_fen", "金额(分)", "金额（分）"),
    "paid_on": ("paid_on", "发放日期", "发放时间"),
    "school_code": ("school_code", "学校标识码", "学校代码"),
}
REQUIRED = ("id_number", "semester", "policy_code", "paid_on", "school_code")
ID_NUMBER = re.compile(r"^[0-9]{17}[0-9X]$")
LABEL = re.compile(r"^(20[0-9]{2})年(春季|秋季)学期?$")
MAX_FEN = 10**9


class RowError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LedgerRow:
    number: int
    id_number: str
    semester: str
    policy_code: str
    amount_fen: int
    paid_on: date
    school_code: str


def columns_of(header: list[str]) -> dict[str, int]:
    """Map each field to its column index, or raise RowError naming what is missing."""
    found = {}
    for index, name in enumerate(header):
        for field, names in ALIASES.items():
            if name.strip().lower() in names and field not in found:
                found[field] = index
    missing = [ALIASES[f][0] for f in REQUIRED if f not in found]
    if "amount_yuan" not in found and "amount_fen" not in found:
        missing.append("amount_yuan or amount_fen")
    if missing:
        raise RowError("file", f"missing column(s): {', '.join(missing)}")
    return found


def read_row(number: int, cells: list[str], columns: dict[str, int], header: list[str]) -> LedgerRow:
    """Check one row; raise RowError naming the column (by the file's header) of the first problem."""

    def cell(field: str) -> str:
        i = columns.get(field)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    def fail(field: str, message: str):
        raise RowError(header[columns[field]] if field in columns else field, message)

    id_number = cell("id_number").upper()
    if not ID_NUMBER.match(id_number):
        fail("id_number", "not an 18-character ID number")
    semester = _semester(cell("semester")) or fail("semester", "must be YYYY-spring/autumn or 2019年春季学期")
    if Semester.parse(semester) > Semester.of(today()):
        fail("semester", "must not be in the future")
    policy_code = cell("policy_code")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,39}", policy_code):
        fail("policy_code", "not a policy code")
    field = "amount_fen" if "amount_fen" in columns and cell("amount_fen") else "amount_yuan"
    amount = _fen(cell(field), yuan=field == "amount_yuan")
    if amount is None:
        fail(field, "must be a positive amount (元 with at most two decimals, or whole 分)")
    paid_on = _date(cell("paid_on"))
    if paid_on is None or event_date_problem(paid_on) or paid_on > today():
        fail("paid_on", "must be a date (YYYY-MM-DD) between 2000-01-01 and today")
    school_code = cell("school_code")
    if not re.fullmatch(r"[0-9]{10}", school_code):
        fail("school_code", "must be a 10-digit school code (学校标识码)")
    return LedgerRow(number, id_number, semester, policy_code, amount, paid_on, school_code)


def masked(id_number: str) -> str:
    return mask_id_number(id_number) if ID_NUMBER.match(id_number.upper()) else "(unreadable)"


def _semester(text: str) -> str | None:
    try:
        return str(Semester.parse(text))
    except BadSemester:
        m = LABEL.match(text)
        return f"{m.group(1)}-{'spring' if m.group(2) == '春季' else 'autumn'}" if m else None


def _fen(text: str, *, yuan: bool) -> int | None:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    fen = value * 100 if yuan else value
    if not value.is_finite() or fen != fen.to_integral_value() or not 0 < fen <= MAX_FEN:
        return None
    return int(fen)


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10].replace("/", "-"))
    except ValueError:
        return None
