"""The dropout-monitoring service (控辍保学): absences, cases, verification, placements, tasks, risk."""

from fastapi import FastAPI

from services.contracts import events
from services.contracts.columns import COLUMN_LABELS, VALUE_LABELS
from services.contracts.events.bulk import BULK_SUBJECTS
from services.dropout.absences.routes import router as absences_router
from services.dropout.calendar.routes import router as calendar_router
from services.dropout.cases.roster import on_child_not_in_school
from services.dropout.cases.routes import router as cases_router
from services.dropout.changes import router as changes_router
from services.dropout.db import dead_letter, inbox, outbox
from services.dropout.disability.routes import router as disability_router
from services.dropout.evidence.routes import links as evidence_links
from services.dropout.evidence.routes import router as evidence_router
from services.dropout.legal.routes import router as legal_router
from services.dropout.outside_rosters.routes import router as outside_rosters_router
from services.dropout.responsible.routes import router as responsible_router
from services.dropout.risk.routes import router as risk_router
from services.dropout.students.consumer import on_bulk_students, on_student_event
from services.dropout.support.routes import router as support_router
from services.dropout.tasks.routes import router as tasks_router
from services.dropout.verifications.routes import router as verifications_router
from services.kit.listing import Labels
from services.kit.service import ServiceSpec, Subscription, create_service_app
from services.kit.settings import Settings

STUDENTS = Subscription("dropout-students", ["edu.registry.student.>"], on_student_event)
SPEC = ServiceSpec(
    name="dropout",
    list_labels=Labels(COLUMN_LABELS, VALUE_LABELS),
    title="notoneless dropout monitoring",
    description=(
        "Control of dropout (控辍保学): daily absences and their rules, cases (一生一案) with contacts, "
        "visits, persuasion, escalation and return, start-of-semester checks (开学核查), disabled "
        "children's placements and home teaching, tasks for each role, and an early-warning score."
    ),
    routers=[
        absences_router,
        changes_router,
        cases_router,
        verifications_router,
        risk_router,
        calendar_router,
        disability_router,
        tasks_router,
        support_router,
        responsible_router,
        legal_router,
        outside_rosters_router,
        evidence_router,
        evidence_links,
    ],
    outbox=outbox,
    inbox=inbox,
    dead_letter=dead_letter,
    parse=events.parse,
    subscriptions=[
        STUDENTS,
        # Import chunks on a consumer of their own: a county's import never delays everyday events.
        STUDENTS.bulk(BULK_SUBJECTS, on_bulk_students),
        Subscription(
            name="dropout-roster",
            subjects=["edu.statistics.child.not_in_school"],
            handler=on_child_not_in_school,
        ),
    ],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the dropout-monitoring app."""
    return create_service_app(SPEC, settings)
