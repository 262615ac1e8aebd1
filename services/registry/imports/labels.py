"""Chinese labels accepted for coded values in imported files (codes are accepted too).

The words and their aliases are the contracts' vocabulary; this module only reads cells.
"""

import re

from services.contracts.vocabulary import (
    DISABILITY_ALIASES,
    GENDER_ALIASES,
    GROUP_ALIASES,
    HOUSEHOLD_STATUS_ALIASES,
    OWNERSHIP_ALIASES,
)
from services.registry.domain import STAGE_LABELS, STATUS_LABELS

BOOLEAN_LABELS = {
    "是": True,
    "否": False,
    "y": True,
    "n": False,
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "寄宿": True,
    "住校": True,
    "走读": False,
    "√": True,
    "×": False,
}
GENDER_LABELS = GENDER_ALIASES
GROUP_LABELS = GROUP_ALIASES
DISABILITY_LABELS = DISABILITY_ALIASES
HOUSEHOLD_KIND_LABELS = HOUSEHOLD_STATUS_ALIASES
OWNERSHIP_LABELS = OWNERSHIP_ALIASES
NUMERALS = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "十一": 11,
    "十二": 12,
}
# 初一..初三 and 高一..高三 are grades 1-3 of their stage (grades count within a stage).
GRADE_PREFIXES = ("初", "高")
LIST_SEPARATORS = re.compile(r"[,，、;；|/\s]+")


def code_for(value: str, labels: dict[str, str]) -> str:
    """Return the code for a label (or the value itself, left for the schema to judge)."""
    return labels.get(value, labels.get(value.lower(), value))


def stage_code(value: str) -> str:
    return code_for(value, STAGE_LABELS)


def status_code(value: str) -> str:
    return code_for(value, STATUS_LABELS)


def boolean(value: str) -> bool | str:
    return BOOLEAN_LABELS.get(value.strip().lower(), value)


def grade_number(value: str) -> int | str:
    """Read 3, 3.0, 三, 三年级, 初二 or 高一 as a grade number."""
    text = value.strip().removesuffix("年级").removesuffix("级")
    if text[:1] in GRADE_PREFIXES and text[1:] in NUMERALS:
        return NUMERALS[text[1:]]
    if text in NUMERALS:
        return NUMERALS[text]
    if text.endswith(".0"):
        text = text[:-2]
    return int(text) if text.isdigit() else value


def split_list(value: str) -> list[str]:
    """Split a cell holding several values (separated by , 、 ; | or spaces)."""
    return [part for part in LIST_SEPARATORS.split(value.strip()) if part]
