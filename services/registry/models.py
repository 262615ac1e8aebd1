"""Every registry table, imported so the metadata is complete (migrations, tests)."""

from services.registry.areas.models import Area
from services.registry.db import inbox, metadata, outbox
from services.registry.households.models import Household
from services.registry.imports.models import ImportJob
from services.registry.schools.models import School
from services.registry.students.models import EnrollmentChange, Student
from services.registry.transfers.models import TransferRequest

__all__ = [
    "Area",
    "EnrollmentChange",
    "Household",
    "ImportJob",
    "School",
    "Student",
    "TransferRequest",
    "inbox",
    "metadata",
    "outbox",
]
