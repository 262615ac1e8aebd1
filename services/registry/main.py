"""The registry service: areas, schools, households, students — the ledger (台账)."""

from fastapi import FastAPI

from services.contracts.columns import COLUMN_LABELS, VALUE_LABELS
from services.kit.listing import Labels
from services.kit.service import ServiceSpec, create_service_app
from services.kit.settings import Settings
from services.registry.areas.routes import router as areas_router
from services.registry.changes import router as changes_router
from services.registry.db import dead_letter, inbox, outbox
from services.registry.households.lookup import router as household_lookup_router
from services.registry.households.routes import router as households_router
from services.registry.imports.models import ImportJob
from services.registry.imports.routes import router as imports_router
from services.registry.progression.routes import router as progression_router
from services.registry.schools.routes import router as schools_router
from services.registry.students.lookup import router as student_lookup_router
from services.registry.students.routes import router as students_router
from services.registry.transfers.routes import router as transfers_router

SPEC = ServiceSpec(
    name="registry",
    list_labels=Labels(COLUMN_LABELS, VALUE_LABELS),
    title="notoneless registry",
    description="Areas, schools, households and students: the ledger every other service trusts.",
    # The lookups first: `POST .../lookup` is not a household or a student id.
    routers=[household_lookup_router, student_lookup_router, areas_router, schools_router, households_router,
             students_router, imports_router,
             transfers_router, progression_router, changes_router],
    outbox=outbox,
    inbox=inbox,
    dead_letter=dead_letter,
    jobs={"import": ImportJob.__table__},
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the registry app."""
    return create_service_app(SPEC, settings)
