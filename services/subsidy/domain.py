"""Subsidy vocabularies: policy kinds, statuses, semesters and deadlines, exclusion reasons."""

import re
from datetime import date, timedelta
from enum import StrEnum

from services.kit.errors import Invalid
from services.kit.settings import Settings, get_settings

# The shared vocabularies (stages, aid categories) are the registry's: one language everywhere.
from services.registry.domain import Category, Stage

__all__ = ["Category", "Stage"]


class PolicyKind(StrEnum):
    """The five kinds 奖贷助补免."""

    scholarship = "scholarship"
    loan = "loan"
    grant = "grant"
    living_allowance = "living_allowance"
    waiver = "waiver"


KIND_LABELS = {
    "scholarship": "奖学金",
    "loan": "助学贷款",
    "grant": "助学金",
    "living_allowance": "生活补助",
    "waiver": "免学杂费",
}


class BatchKind(StrEnum):
    regular = "regular"
    back_pay = "back_pay"


class BatchStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    paid = "paid"
    rejected = "rejected"
    cancelled = "cancelled"


class Level(StrEnum):
    """Who approves next while a batch is submitted."""

    township = "township"
    county = "county"


# A line's status follows its batch; `proposed` is a back-pay line not yet in a batch.
LINE_STATUSES = ("proposed", *(s.value for s in BatchStatus))
# Students who count as at school for a subsidy (送教上门 children are on the school's roll).
AT_SCHOOL = ("enrolled", "home_taught")

REASONS = {
    "status": "学籍状态不在读",
    "stage": "学段不符合该政策",
    "category": "不属于该政策资助对象类别",
    "boarding": "不符合寄宿条件",
    "already_paid": "本学期已在其他批次发放",
    "already_in_batch": "本学期已列入其他批次",
    "objection": "公示异议成立，已移出名单",
    "not_eligible": "已不符合资助条件",
}

DEFAULT_DEADLINES = {"spring": "06-15", "autumn": "11-30"}
SEMESTER_RE = re.compile(r"^(20[0-9]{2})-(spring|autumn)$")
SEMESTER_PATTERN = r"^20[0-9]{2}-(spring|autumn)$"


def parse_semester(semester: str, loc: str = "semester") -> tuple[int, str]:
    """Return (year, term) of `YYYY-spring` / `YYYY-autumn`, or raise Invalid naming the field."""
    m = SEMESTER_RE.match(semester)
    if not m or not 2000 <= int(m.group(1)) <= 2100:
        raise Invalid([loc], "semester must be YYYY-spring or YYYY-autumn")
    return int(m.group(1)), m.group(2)


def semester_of(day: date) -> str:
    """Return the semester a date falls in: spring February–July, autumn August–January."""
    if 2 <= day.month <= 7:
        return f"{day.year}-spring"
    return f"{day.year if day.month >= 8 else day.year - 1}-autumn"


def current_semester(today: date | None = None) -> str:
    """Return today's semester."""
    return semester_of(today or date.today())


def semester_start(semester: str) -> date:
    """Return the first day of a semester (1 February or 1 August)."""
    year, term = parse_semester(semester)
    return date(year, 2, 1) if term == "spring" else date(year, 8, 1)


def semester_label(semester: str) -> str:
    """Return the Chinese name of a semester, e.g. 2026年秋季学期."""
    year, term = parse_semester(semester)
    return f"{year}年{'春季' if term == 'spring' else '秋季'}学期"


def deadline_of(semester: str, settings: Settings | None = None) -> date:
    """Return the payment deadline of a semester (NOL_SUBSIDY_DEADLINES, default 15 June / 30 November)."""
    year, term = parse_semester(semester)
    raw = (settings or get_settings()).subsidy_deadlines.get(term) or DEFAULT_DEADLINES[term]
    month, day = (int(part) for part in raw.split("-"))
    deadline = date(year, month, day)
    # An autumn deadline in January belongs to the next calendar year.
    return deadline if term == "spring" or deadline.month >= 8 else deadline.replace(year=year + 1)


def days_left(semester: str, on: date) -> int:
    return (deadline_of(semester) - on).days


def mask_name(name: str | None) -> str:
    """Mask a name for public notice: 王小明 → 王*明, 李娜 → 李*."""
    if not name:
        return ""
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def yuan(fen: int) -> str:
    """Render fen as yuan with two decimals, without floats."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


NEAR_DEADLINE = timedelta(days=14)
