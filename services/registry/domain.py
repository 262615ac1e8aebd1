"""The registry's own rules of codes; the shared words come from the contracts' vocabulary."""

from datetime import date

from services.contracts import calendar
from services.contracts.vocabulary import (
    COMPULSORY_STAGES,
    STAGE_ALIASES,
    Category,
    DisabilityCategory,
    EnrollmentStatus,
    Group,
    Ownership,
    Stage,
    categories_of,
)
from services.contracts.vocabulary import ENROLLMENT_STATUS_ALIASES as STATUS_LABELS

__all__ = [
    "COMPULSORY",
    "PROVINCES",
    "SCHOOL_TYPES",
    "STAGE_LABELS",
    "STATUS_LABELS",
    "Category",
    "DisabilityCategory",
    "EnrollmentStatus",
    "Group",
    "Ownership",
    "Stage",
    "categories_of",
]


COMPULSORY = COMPULSORY_STAGES
STAGE_LABELS = STAGE_ALIASES

# 学校(机构)标识码 = 2-digit 学校类别码 + 2-digit province + 6-digit sequence (a higher-education
# institution's: 0 + its former 5-digit code, e.g. 北京大学 4111010001). The type codes are the
# Ministry of Education's (《学校(机构)代码管理办法》, 2011); each maps to the stages such a school may
# offer (a 九年一贯制 school is coded 31, a 完全中学 34; a special school teaches any stage).
SCHOOL_TYPES = {
    "11": {Stage.preschool},  # 幼儿园
    "21": {Stage.preschool, Stage.primary},  # 普通小学 (with its 附设幼儿班)
    "22": {Stage.primary},  # 成人小学
    "31": {Stage.primary, Stage.junior},  # 普通初中 (九年一贯制 included)
    "32": {Stage.junior},  # 职业初中
    "33": {Stage.junior},  # 成人初中
    "34": {Stage.junior, Stage.senior},  # 普通高中 (完全中学 included)
    "35": {Stage.senior},  # 成人高中
    "36": {Stage.vocational},  # 中等职业学校
    "37": {Stage.junior, Stage.vocational},  # 工读学校 (专门学校): junior lessons and vocational training
    "41": {Stage.higher},  # 普通高等学校 (universities, colleges, 高职)
    "42": {Stage.higher},  # 成人高等学校
    "51": {Stage.special, Stage.preschool, Stage.primary, Stage.junior, Stage.vocational},  # 特殊教育学校
    "91": {Stage.higher},  # 培养研究生的科研机构
    "92": {Stage.higher},  # 民办的其他高等教育机构
    "93": {Stage.vocational},  # 中等职业培训机构
}

# GB/T 2260 provinces (and Taiwan, Hong Kong, Macao) — the valid first two digits.
PROVINCES = frozenset(
    {
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    }
)


def current_kinds(statuses: list[dict], on: date | None = None) -> set[str]:
    """Return the status kinds in force on a date (today by default)."""
    on = on or calendar.today()
    out = set()
    for s in statuses:
        since = date.fromisoformat(s["since"])
        until = date.fromisoformat(s["until"]) if s.get("until") else None
        if since <= on and (until is None or on < until):
            out.add(s["kind"])
    return out

