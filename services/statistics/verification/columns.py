"""Roster columns and values: field names or their Chinese labels; statuses as codes or labels.

Imported by the worker processes that prepare rows: stdlib and the (stdlib-only) vocabulary.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from services.contracts import vocabulary
from services.contracts.vocabulary import GENDER_ALIASES, HOUSEHOLD_STATUS_ALIASES, HouseholdStatus

STATUS_KINDS = tuple(HouseholdStatus)
HOUSEHOLD_CATEGORIES = tuple(str(c) for c in vocabulary.HOUSEHOLD_CATEGORIES)

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

STATUS_LABELS = {**{k: k for k in STATUS_KINDS}, **HOUSEHOLD_STATUS_ALIASES}
GENDER_LABELS = GENDER_ALIASES
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
