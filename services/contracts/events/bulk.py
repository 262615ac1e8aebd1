"""Bulk events read as the one-entity events they stand for.

An import writes one `edu.registry.bulk.students` event per chunk (part) instead of one
`edu.registry.student.created|updated` per row. A consumer that applies the chunk set-wise reads
its `students` directly; one that needs the per-student events (a projection applying them one by
one, the platform feed) expands it here. Each expanded event has a stable id derived from the
chunk's id and the student's (a redelivered chunk expands to the same ids).
"""

import uuid
from typing import Any

from services.contracts.events.catalog import CATALOG, Event

BULK_STUDENTS = "edu.registry.bulk.students"
BULK_SUBJECTS = ["edu.registry.bulk.>"]
_PER_STUDENT = ("event", "version")  # fields of a chunk's student that belong to its envelope


def is_bulk(event_type: str) -> bool:
    """Whether a type is a bulk event (one that stands for many)."""
    return event_type.startswith("edu.registry.bulk.")


def expanded_id(chunk_id: str, student_id: str) -> str:
    """The id of a chunk's one-student event: stable across redeliveries of the chunk."""
    return str(uuid.uuid5(uuid.UUID(chunk_id), student_id))


def student_events(event: Event) -> list[Event]:
    """Return the `edu.registry.student.created|updated` events a parsed chunk stands for, in order."""
    envelope = CATALOG["edu.registry.student.created"].envelope  # updated has the same data model
    common = {
        "source": event.source,
        "time": event.time,
        "schema_version": 1,
        "traceparent": event.traceparent,
    }
    return [
        envelope.model_construct(
            id=expanded_id(event.id, s.id),
            type=f"edu.registry.student.{s.event}",
            subject=s.id,
            area_code=s.area_code,
            school_code=s.school_code,
            version=s.version,
            data=s,
            **common,
        )
        for s in event.data.students
    ]


def student_events_raw(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the one-student events (JSON-ready) an unparsed chunk stands for, in order."""
    out = []
    for student in (raw.get("data") or {}).get("students") or []:
        data = {k: v for k, v in student.items() if k not in _PER_STUDENT}
        out.append(
            {
                "id": expanded_id(str(raw["id"]), str(student["id"])),
                "type": f"edu.registry.student.{student.get('event', 'updated')}",
                "source": raw.get("source"),
                "time": raw.get("time"),
                "subject": str(student["id"]),
                "area_code": student.get("area_code"),
                "school_code": student.get("school_code"),
                "version": student.get("version"),
                "schema_version": 1,
                **({"traceparent": raw["traceparent"]} if raw.get("traceparent") else {}),
                "data": data,
            }
        )
    return out
