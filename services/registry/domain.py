"""Domain vocabularies of the registry (codes and their Chinese labels)."""

from enum import StrEnum


class Stage(StrEnum):
    preschool = "preschool"
    primary = "primary"
    junior = "junior"
    senior = "senior"
    vocational = "vocational"
    higher = "higher"
    special = "special"


COMPULSORY = (Stage.primary, Stage.junior)

STAGE_LABELS = {
    "学前": "preschool",
    "幼儿园": "preschool",
    "学前教育": "preschool",
    "小学": "primary",
    "初中": "junior",
    "高中": "senior",
    "普通高中": "senior",
    "中职": "vocational",
    "高等教育": "higher",
    "大学": "higher",
    "特殊教育": "special",
    "特教": "special",
}

# 2-digit type prefix of a school code and the stages it may offer.
SCHOOL_TYPES = {
    "11": {Stage.preschool},
    "21": {Stage.preschool, Stage.primary},
    "31": {Stage.primary, Stage.junior},
    "34": {Stage.junior, Stage.senior},
    "36": {Stage.vocational},
    "51": {Stage.special, Stage.preschool, Stage.primary, Stage.junior, Stage.vocational},
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


class Ownership(StrEnum):
    public = "public"
    affordable_private = "affordable_private"
    private = "private"


class EnrollmentStatus(StrEnum):
    enrolled = "enrolled"
    suspended = "suspended"
    deferred = "deferred"
    home_taught = "home_taught"
    out_of_county = "out_of_county"
    transferred_out = "transferred_out"
    graduated = "graduated"
    dropped_out = "dropped_out"
    deceased = "deceased"


STATUS_LABELS = {
    "在读": "enrolled",
    "在校": "enrolled",
    "休学": "suspended",
    "缓学": "deferred",
    "送教上门": "home_taught",
    "县外就读": "out_of_county",
    "省外就读": "out_of_county",
    "转出": "transferred_out",
    "毕业": "graduated",
    "辍学": "dropped_out",
    "死亡": "deceased",
}


class Group(StrEnum):
    disabled = "disabled"
    left_behind = "left_behind"
    migrant = "migrant"
    learning_difficulty = "learning_difficulty"
    orphan = "orphan"


class Category(StrEnum):
    registered_poor = "registered_poor"
    monitored = "monitored"
    dibao = "dibao"
    tekun = "tekun"
    orphan = "orphan"
    disabled = "disabled"


class DisabilityCategory(StrEnum):
    visual = "visual"
    hearing = "hearing"
    speech = "speech"
    physical = "physical"
    intellectual = "intellectual"
    mental = "mental"
    multiple = "multiple"


def categories_of(*, groups: list[str], household_kinds: set[str] | None = None) -> list[str]:
    """Derive a student's aid categories from its household's statuses and its own groups."""
    kinds = household_kinds or set()
    out = set()
    if kinds & {"registered_poor", "lifted"}:
        out.add(Category.registered_poor)  # lifted households stay eligible as 原建档立卡
    for kind in ("monitored", "dibao", "tekun"):
        if kind in kinds:
            out.add(Category(kind))
    if Group.orphan in groups:
        out.add(Category.orphan)
    if Group.disabled in groups:
        out.add(Category.disabled)
    return sorted(out)
