"""Every dropout table, imported so the metadata is complete (migrations, tests)."""

from services.dropout.absences.models import Absence
from services.dropout.calendar.models import CalendarDay
from services.dropout.cases.models import Case, CaseAction
from services.dropout.db import inbox, metadata, outbox
from services.dropout.disability.models import HomeTeachingSession, Placement
from services.dropout.students.models import Student
from services.dropout.tasks.models import Task
from services.dropout.verifications.models import Verification, VerificationItem

__all__ = [
    "Absence",
    "CalendarDay",
    "Case",
    "CaseAction",
    "HomeTeachingSession",
    "Placement",
    "Student",
    "Task",
    "Verification",
    "VerificationItem",
    "inbox",
    "metadata",
    "outbox",
]
