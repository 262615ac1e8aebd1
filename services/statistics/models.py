"""Every statistics table, imported so the metadata is complete."""

from services.statistics.db import inbox, metadata, outbox
from services.statistics.facts.models import (
    ArrivalFact,
    CaseFact,
    CheckFact,
    EnrollmentSpan,
    HeldEvent,
    HouseholdFact,
    LockedFigure,
    PaymentFact,
    PlacementFact,
    StudentFact,
    YearLock,
)
from services.statistics.verification.models import Finding, Verification, roster_row

__all__ = [
    "ArrivalFact",
    "CaseFact",
    "CheckFact",
    "EnrollmentSpan",
    "Finding",
    "HeldEvent",
    "HouseholdFact",
    "LockedFigure",
    "PaymentFact",
    "PlacementFact",
    "StudentFact",
    "Verification",
    "YearLock",
    "inbox",
    "metadata",
    "outbox",
    "roster_row",
]
