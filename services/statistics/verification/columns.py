"""Roster columns and values: field names or their Chinese labels; statuses as codes or labels.

Imported by the worker processes that prepare rows: stdlib only.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

STATUS_KINDS = ("registered_poor", "lifted", "monitored", "dibao", "tekun")
# Aid categories that come from the household (the platform's side of a child's eligibility).
HOUSEHOLD_CATEGORIES = ("registered_poor", "monitored", "dibao", "tekun")

HEADERS = {
    "household_platform_id": ("household_platform_id", "户编号", "家庭编号", "户码"),
    "name": ("name", "姓名"),
    "id_number": ("id_number", "身份证号", "身份证号码", "证件号码"),
    "statuses": ("statuses", "户状态", "状态", "户类型"),
    "gender": ("gender", "性别"),
}
REQUIRED = ("household_platform_id", "name", "id_number")
# Order of the cells handed to `prepare` (JSON rows are put in this order too).
FIELDS = ("household_platform_id", "name", "id_number", "statuses", "gender")

STATUS_LABELS = {
    **{k: k for k in STATUS_KINDS},
    "建档立卡": "registered_poor",
    "建档立卡户": "registered_poor",
    "建档立卡贫困户": "registered_poor",
    "原建档立卡": "registered_poor",
    "脱贫": "lifted",
    "脱贫户": "lifted",
    "已脱贫": "lifted",
    "监测对象": "monitored",
    "防返贫监测对象": "monitored",
    "监测户": "monitored",
    "低保": "dibao",
    "低保户": "dibao",
    "农村低保": "dibao",
    "特困": "tekun",
    "特困供养": "tekun",
    "特困人员": "tekun",
}
GENDER_LABELS = {"male": "male", "female": "female", "男": "male", "女": "female", "m": "male", "f": "female"}
SEPARATORS = re.compile(r"[;；,，、|\s]+")
STATUS_FORMAT = (
    "kinds separated by ; (registered_poor|lifted|monitored|dibao|tekun or 建档立卡/脱贫/监测对象/低保/特困)"
)


@dataclass(frozen=True)
class Layout:
    """Where each field sits in a row's cells (None: the file has no such column)."""

    positions: tuple[int | None, ...]  # in FIELDS order

    @classmethod
    def of(cls, header: list[str]) -> "Layout":
        """Map a header row to the fields; ValueError naming the missing columns."""
        found: dict[str, int] = {}
        for index, raw in enumerate(header):
            label = raw.strip().lower()
            for field, names in HEADERS.items():
                if label in names and field not in found:
                    found[field] = index
        missing = [f for f in REQUIRED if f not in found]
        if missing:
            names = ", ".join(f"{f} ({HEADERS[f][1]})" for f in missing)
            raise ValueError(f"The header lacks the column(s) {names}")
        return cls(tuple(found.get(f) for f in FIELDS))


JSON_LAYOUT = Layout(tuple(range(len(FIELDS))))


@lru_cache(maxsize=4096)
def parse_statuses(cell: str) -> tuple[str, ...] | str:
    """Return the status kinds of a cell (sorted, distinct), or an error message."""
    kinds = set()
    for part in SEPARATORS.split(cell.strip()):
        if not part:
            continue
        kind = STATUS_LABELS.get(part.lower()) or STATUS_LABELS.get(part)
        if kind is None:
            return f"unknown status {part!r}: use {STATUS_FORMAT}"
        kinds.add(kind)
    return tuple(sorted(kinds))


def parse_gender(cell: str) -> str | None:
    """Return male/female, '' for an empty cell, or None when unreadable."""
    cell = cell.strip().lower()
    return "" if not cell else GENDER_LABELS.get(cell)
