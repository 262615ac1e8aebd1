"""Every subsidy table, imported so the metadata is complete."""

from services.subsidy.batches.models import Batch, BatchStep, Disbursement, Exclusion, Objection
from services.subsidy.db import inbox, metadata, outbox
from services.subsidy.elsewhere.models import AidElsewhere
from services.subsidy.hardship.models import Hardship
from services.subsidy.loans.models import Loan
from services.subsidy.notices.models import NoticeAck
from services.subsidy.payees.models import Payee
from services.subsidy.payments.models import Reconciliation
from services.subsidy.policies.models import Policy
from services.subsidy.projection.models import HouseholdFact, HouseholdStatusFact, SchoolFact, StudentFact

__all__ = [
    "AidElsewhere",
    "Batch",
    "BatchStep",
    "Disbursement",
    "Exclusion",
    "Hardship",
    "HouseholdFact",
    "HouseholdStatusFact",
    "Loan",
    "NoticeAck",
    "Objection",
    "Payee",
    "Policy",
    "Reconciliation",
    "SchoolFact",
    "StudentFact",
    "inbox",
    "metadata",
    "outbox",
]
