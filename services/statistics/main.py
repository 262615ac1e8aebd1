"""The statistics service: figures and verification, from its own projections of events."""

from fastapi import FastAPI

from services.contracts import events
from services.kit.service import ServiceSpec, Subscription, create_service_app
from services.kit.settings import Settings
from services.statistics.db import dead_letter, inbox, outbox
from services.statistics.facts.consumers import SUBJECTS, on_event
from services.statistics.figures.routes import router as figures_router
from services.statistics.lock_routes import router as locks_router
from services.statistics.rebuild_routes import router as rebuild_router
from services.statistics.verification.routes import router as verification_router

SPEC = ServiceSpec(
    name="statistics",
    title="notoneless statistics",
    description="Figures by area, school, stage, category and semester; exports; year locks; verification.",
    routers=[figures_router, locks_router, rebuild_router, verification_router],
    outbox=outbox,
    inbox=inbox,
    dead_letter=dead_letter,
    parse=events.parse,
    subscriptions=[Subscription(name="statistics", subjects=SUBJECTS, handler=on_event)],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the statistics app."""
    return create_service_app(SPEC, settings)
