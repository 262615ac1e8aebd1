"""The subsidy service: policies, batches, approvals, payments, notices (奖贷助补免)."""

from fastapi import FastAPI

from services.contracts import events
from services.contracts.columns import COLUMN_LABELS, VALUE_LABELS
from services.contracts.events.bulk import BULK_SUBJECTS
from services.kit.listing import Labels
from services.kit.service import ServiceSpec, Subscription, create_service_app
from services.kit.settings import Settings
from services.subsidy.batches.publicity_routes import router as publicity_router
from services.subsidy.batches.routes import router as batches_router
from services.subsidy.changes import router as changes_router
from services.subsidy.db import dead_letter, inbox, outbox
from services.subsidy.disbursements.routes import router as disbursements_router
from services.subsidy.elsewhere.routes import router as elsewhere_router
from services.subsidy.hardship.routes import router as hardship_router
from services.subsidy.history.routes import router as history_router
from services.subsidy.loans.routes import router as loans_router
from services.subsidy.notices.routes import router as notices_router
from services.subsidy.payees.routes import router as payees_router
from services.subsidy.payments.routes import router as payments_router
from services.subsidy.policies.routes import router as policies_router
from services.subsidy.projection.consumer import on_bulk_students, on_registry_event
from services.subsidy.tasks.routes import router as tasks_router

REGISTRY = Subscription(
    name="subsidy-registry",
    subjects=["edu.registry.student.>", "edu.registry.household.>", "edu.registry.school.>"],
    handler=on_registry_event,
)
SPEC = ServiceSpec(
    name="subsidy",
    list_labels=Labels(COLUMN_LABELS, VALUE_LABELS),
    title="notoneless subsidy",
    description=(
        "Subsidy policies (奖贷助补免), disbursement batches that miss no one, approvals, "
        "public notice (公示), payment, back-pay (补发) and notices to parents (告知书); aid received "
        "elsewhere (区域外), payment history (台账) and student loans."
    ),
    routers=[
        policies_router,
        batches_router,
        publicity_router,
        disbursements_router,
        changes_router,
        notices_router,
        tasks_router,
        elsewhere_router,
        history_router,
        loans_router,
        hardship_router,
        payees_router,
        payments_router,
    ],
    outbox=outbox,
    inbox=inbox,
    dead_letter=dead_letter,
    parse=events.parse,
    subscriptions=[
        REGISTRY,
        # Import chunks on a consumer of their own: a county's import never delays everyday events.
        REGISTRY.bulk(BULK_SUBJECTS, on_bulk_students),
    ],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the subsidy app."""
    return create_service_app(SPEC, settings)
