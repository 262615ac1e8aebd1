"""Subsidy events: past-tense facts written to the outbox with the change."""

import json

from sqlalchemy import String, Text, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import events
from services.kit.events import Emitter, note_position
from services.subsidy.db import outbox

SOURCE = "subsidy"


emit = Emitter(outbox, SOURCE, validate=events.validate)
"""Record a subsidy event in the outbox, in the current transaction."""


async def emit_lines(session: AsyncSession, event_type: str, *where: ColumnElement) -> int:
    """Write one event per disbursement line matching `where`, in SQL (batches have thousands of lines)."""
    from services.subsidy.batches.models import Disbursement as D

    event_id = func.gen_random_uuid()
    lines = select(event_id.label("eid"), D.__table__).where(*where).subquery()
    c = lines.c
    data = func.jsonb_build_object(
        "id", c.id, "student_id", c.student_id, "household_id", c.household_id,
        "policy_code", c.policy_code, "policy_kind", c.policy_kind, "semester", c.semester,
        "amount_fen", c.amount_fen, "batch_id", c.batch_id, "kind", c.kind, "status", c.status,
        "school_code", c.school_code, "area_code", c.area_code, "village_code", c.village_code,
        "stage", c.stage, "grade", c.grade, "boarding", c.boarding, "categories", c.categories,
        "paid_on", c.paid_on, "reason", c.removed_reason,
        "failure_reason", c.failure_reason, "repays_id", c.repays_id, "payee_masked", c.payee_masked,
        "item", c.item, "one_off", c.one_off, "shares", c.shares, "hardship_level", c.hardship_level,
    )  # fmt: skip
    payload = func.jsonb_build_object(
        "id", c.eid, "type", literal(event_type, String), "source", literal(SOURCE, String),
        "time", func.to_char(func.timezone("UTC", func.clock_timestamp()), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        "subject", cast(c.id, String), "area_code", c.area_code, "school_code", c.school_code,
        "version", c.version, "schema_version", literal(events.spec_of(event_type).schema_version),
        "data", data,
    )  # fmt: skip
    written = (
        outbox.insert()
        .from_select(
            ["id", "type", "subject", "payload"],
            select(c.eid, literal(event_type, String), cast(c.id, String), payload),
        )
        .returning(outbox.c.position, outbox.c.payload)
        .cte("written")
    )
    # Every line's event has one shape: check one against the catalogue (as the Emitter checks
    # each event it writes), and remember the last position for X-Event-Position.
    count, last, sample = (
        await session.execute(
            select(func.count(), func.max(written.c.position), func.min(cast(written.c.payload, Text)))
        )
    ).one()
    if sample is not None:
        events.validate(json.loads(sample))
    note_position(session, last)
    return count or 0
