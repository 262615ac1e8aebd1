"""The statistics service: figures and verification, from its own projections of events."""

from fastapi import FastAPI

from services.contracts import events
from services.contracts.columns import COLUMN_LABELS, VALUE_LABELS
from services.contracts.events.bulk import BULK_SUBJECTS
from services.kit.listing import Labels
from services.kit.service import ServiceSpec, Subscription, create_service_app
from services.kit.settings import Settings
from services.statistics.db import dead_letter, inbox, outbox
from services.statistics.facts.consumers import SUBJECTS, on_bulk_students, on_event, on_events
from services.statistics.figures.routes import router as figures_router
from services.statistics.ledger.routes import router as ledger_router
from services.statistics.lock_routes import router as locks_router
from services.statistics.rebuild_routes import router as rebuild_router
from services.statistics.verification.models import Verification
from services.statistics.verification.routes import router as verification_router

EVENTS = Subscription(name="statistics", subjects=SUBJECTS, handler=on_event, batch_handler=on_events)
SPEC = ServiceSpec(
    name="statistics",
    list_labels=Labels(COLUMN_LABELS, VALUE_LABELS),
    title="notoneless statistics",
    description="Figures by area, school, stage, category and semester; exports; year locks; verification.",
    routers=[figures_router, locks_router, rebuild_router, verification_router, ledger_router],
    outbox=outbox,
    inbox=inbox,
    dead_letter=dead_letter,
    parse=events.parse,
    # Figures hash their groups in memory (no spill to disk), and JIT compilation would cost more than a
    # rollup's aggregation saves: for every connection, reads in autocommit included.
    db_settings={"work_mem": "64MB", "jit": "off"},
    subscriptions=[
        EVENTS,
        # Import chunks on a consumer of their own: a county's import never delays everyday events.
        EVENTS.bulk(BULK_SUBJECTS, on_bulk_students),
    ],
    jobs={"verification": Verification.__table__},
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the statistics app."""
    return create_service_app(SPEC, settings)
