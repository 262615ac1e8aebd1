"""Every dropout table, imported so the metadata is complete (migrations, tests)."""

from services.dropout.absences.models import Absence
from services.dropout.calendar.models import CalendarDay
from services.dropout.cases.models import Case, CaseAction
from services.dropout.db import inbox, metadata, outbox
from services.dropout.disability.models import HomeTeachingSession, Placement
from services.dropout.evidence.models import Evidence
from services.dropout.legal.models import LegalStep
from services.dropout.outside_rosters.models import OutsideFinding, OutsideRoster
from services.dropout.responsible.models import ResponsibilityLetter, ResponsibleDefault, ResponsiblePerson
from services.dropout.students.models import Student
from services.dropout.support.models import Campaign, Pairing, SupportRecord
from services.dropout.tasks.models import Task
from services.dropout.verifications.models import Verification, VerificationItem

__all__ = [
    "Absence",
    "CalendarDay",
    "Campaign",
    "Case",
    "CaseAction",
    "Evidence",
    "HomeTeachingSession",
    "LegalStep",
    "OutsideFinding",
    "OutsideRoster",
    "Pairing",
    "Placement",
    "ResponsibilityLetter",
    "ResponsibleDefault",
    "ResponsiblePerson",
    "Student",
    "SupportRecord",
    "Task",
    "Verification",
    "VerificationItem",
    "inbox",
    "metadata",
    "outbox",
]
