"""The registry service: areas, schools, households, students — the ledger (台账)."""

from fastapi import FastAPI

from services.kit.service import ServiceSpec, create_service_app
from services.kit.settings import Settings
from services.registry.areas.routes import router as areas_router
from services.registry.db import dead_letter, inbox, outbox
from services.registry.households.routes import router as households_router
from services.registry.imports.routes import router as imports_router
from services.registry.progression.routes import router as progression_router
from services.registry.schools.routes import router as schools_router
from services.registry.students.routes import router as students_router
from services.registry.transfers.routes import router as transfers_router

SPEC = ServiceSpec(
    name="registry",
    title="notoneless registry",
    description="Areas, schools, households and students: the ledger every other service trusts.",
    routers=[areas_router, schools_router, households_router, students_router, imports_router,
             transfers_router, progression_router],
    outbox=outbox,
    inbox=inbox,
    dead_letter=dead_letter,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the registry app."""
    return create_service_app(SPEC, settings)
