"""The registry's own rules of codes; the shared words come from the contracts' vocabulary."""

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
