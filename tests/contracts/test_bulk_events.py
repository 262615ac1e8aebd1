"""A bulk chunk read as the one-student events it stands for (consumers, the platform feed)."""

import uuid
from datetime import UTC, datetime

from services.contracts.events import parse
from services.contracts.events.bulk import is_bulk, student_events, student_events_raw
from services.contracts.platform import minimise, subject_for

COUNTY = "610928"


def _student(version: int, event: str, school: str, township: str) -> dict:
    return {
        "id": str(uuid.uuid4()), "name": "王小明", "status": "enrolled", "school_code": school,
        "area_code": township, "stage": "primary", "grade": 3, "id_number_hash": "ab" * 32,
        "id_number_masked": "610928********1234", "birth_date": "2017-03-01", "version": version,
        "event": event,
    }  # fmt: skip


def chunk() -> dict:
    students = [
        _student(1, "created", "2161000001", f"{COUNTY}100"),
        _student(4, "updated", "2161000002", f"{COUNTY}101"),
    ]
    return {
        "id": str(uuid.uuid4()), "type": "edu.registry.bulk.students", "source": "registry",
        "time": datetime.now(UTC).isoformat(), "subject": str(uuid.uuid4()), "area_code": COUNTY,
        "data": {"job_id": str(uuid.uuid4()), "chunk": 3, "part": 1, "students": students},
    }  # fmt: skip


def test_parsed_and_raw_chunks_expand_to_the_same_events():
    raw = chunk()
    assert is_bulk(raw["type"]) and not is_bulk("edu.registry.student.created")
    parsed = student_events(parse(raw))
    plain = student_events_raw(raw)
    students = raw["data"]["students"]
    assert (
        [e.type for e in parsed]
        == [e["type"] for e in plain]
        == [
            "edu.registry.student.created",
            "edu.registry.student.updated",
        ]
    )
    assert [e.id for e in parsed] == [e["id"] for e in plain]  # stable: the same on every redelivery
    assert [e["id"] for e in student_events_raw(raw)] == [e["id"] for e in plain]
    assert len({e.id for e in parsed} | {raw["id"]}) == 3
    assert [(e.subject, e.version, e.area_code) for e in parsed] == [
        (s["id"], s["version"], s["area_code"]) for s in students
    ]
    for one in plain:  # each is a valid one-student event of the catalogue
        event = parse(one)
        assert event.data.id == one["subject"] and "event" not in one["data"] and "version" not in one["data"]


def test_platform_sees_one_minimised_event_per_student_on_its_county():
    raw = chunk()
    for one in student_events_raw(raw):
        assert (
            subject_for(one) == f"platform.61.6109.{COUNTY}.registry.student.{one['type'].rsplit('.', 1)[1]}"
        )
        form = minimise(one)
        assert form["id"] == one["id"] and form["version"] == one["version"]
        assert "name" not in form["data"] and "id_number_hash" not in form["data"]
        assert "birth_date" not in form["data"]
