"""A fetched batch applied set-wise (on_events) leaves the same facts, spans and rollups as its events
applied one by one (on_event): repeats of a student, stale versions, a change dated earlier than its
event, a later day, and other events between runs.

Each side runs in a transaction of its own that is rolled back, so both start from the same state.
"""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from services.contracts import events
from services.statistics.facts.consumers import on_event, on_events
from tests.statistics.test_rollups import Province, maker  # noqa: F401 - the fixture

YEAR = 2025


def batch(p: Province) -> tuple[list[dict], list[str]]:
    """Raw events of one fetch, and the students they touch."""
    clock = datetime(YEAR, 3, 2, 1, 0, tzinfo=UTC)
    a, b, c, d = (str(uuid.uuid4()) for _ in range(4))
    home = str(uuid.uuid4())
    township, other = p.townships[0], p.townships[1]
    out = []

    def student(sid: str, kind: str, version: int, *, at: timedelta = timedelta(0), **fields) -> None:
        nonlocal clock
        clock += timedelta(minutes=1)
        data = {
            "id": sid, "name": "学生", "status": "enrolled", "area_code": township, "household_id": home,
            "village_code": p.villages[0], "school_code": p.schools[(township, "primary")], "stage": "primary",
            "grade": 3, "categories": ["dibao"], **fields,
        }  # fmt: skip
        out.append(raw(f"edu.registry.student.{kind}", data, version, clock + at))

    def raw(type_: str, data: dict, version: int | None, when: datetime) -> dict:
        return {
            "id": str(uuid.uuid4()), "type": type_, "source": type_.split(".")[1], "time": when.isoformat(),
            "subject": data.get("id", ""), "area_code": data.get("area_code"), "version": version, "data": data,
        }  # fmt: skip

    student(a, "created", 1)
    student(b, "created", 1, categories=[])
    student(a, "updated", 2, grade=4)  # a again: the run so far is written first
    clock += timedelta(minutes=1)
    line = {
        "id": str(uuid.uuid4()), "policy_code": "P", "status": "paid", "student_id": b, "household_id": home,
        "policy_kind": "grant", "semester": f"{YEAR}-spring", "amount_fen": 50000, "area_code": township,
        "village_code": p.villages[0], "school_code": p.schools[(township, "primary")], "stage": "primary",
        "categories": [], "paid_on": f"{YEAR}-03-02",
    }  # fmt: skip
    out.append(raw("edu.subsidy.disbursement.paid", line, 1, clock))
    student(c, "created", 1)
    moved = p.schools[(other, "primary")]
    change = {
        "id": str(uuid.uuid4()), "kind": "transfer", "effective_date": f"{YEAR}-02-20", "from_status": "enrolled",
        "to_status": "enrolled", "from_school_code": p.schools[(township, "primary")], "to_school_code": moved,
    }  # fmt: skip
    student(c, "enrollment_changed", 2, area_code=other, school_code=moved, change=change)
    student(a, "updated", 1, grade=6)  # stale: version 1 after version 2
    student(d, "created", 1, stage="junior", grade=7, school_code=p.schools[(township, "junior")])
    student(b, "updated", 2, at=timedelta(days=1), categories=["orphan"])  # the next day: b's span closes
    student(d, "updated", 2, status="suspended")
    e = str(uuid.uuid4())
    student(e, "created", 1)
    student(e, "updated", 3, at=timedelta(days=2), grade=4)  # two days on: e's span closes then
    student(e, "updated", 2, grade=5)  # stale, right after the newer one: must not win
    student(d, "updated", 3, status="suspended", name="改名")  # same span: kept, not closed
    return out, [a, b, c, d, e]


async def snapshot(session, ids: list[str], code: str) -> dict:
    params = {"ids": [uuid.UUID(i) for i in ids], "p": code}
    facts = await session.execute(
        text(
            "SELECT student_id, version, status, area_code, school_code, stage, grade, categories, updated_at "
            "FROM statistics.student_fact WHERE student_id = ANY(:ids) ORDER BY student_id"
        ),
        params,
    )
    spans = await session.execute(
        text(
            "SELECT student_id, valid_from, valid_to, status, area_code, school_code, stage, grade "
            "FROM statistics.enrollment_span WHERE student_id = ANY(:ids) ORDER BY student_id, valid_from"
        ),
        params,
    )
    cells = await session.execute(
        text(
            "SELECT area_code, village_code, school_code, stage, categories, compulsory, students "
            "FROM statistics.enrollment_cell WHERE area_code ^@ :p ORDER BY 1, 2, 3, 4, 5, 6"
        ),
        params,
    )
    return {"facts": facts.all(), "spans": spans.all(), "cells": cells.all()}


async def test_a_batch_set_wise_equals_its_events_one_by_one(maker):  # noqa: F811 - the fixture
    p = Province()
    raws, ids = batch(p)
    parsed = [events.parse(r) for r in raws]
    async with maker() as session, session.begin():
        await on_events(session, parsed)
        together = await snapshot(session, ids, p.code)
        await session.rollback()
    async with maker() as session, session.begin():
        for event in [events.parse(r) for r in raws]:
            await on_event(session, event)
            await session.flush()
            session.expunge_all()
        alone = await snapshot(session, ids, p.code)
        await session.rollback()
    assert together == alone
    # What the batch was meant to exercise happened.
    facts = {str(r.student_id): r for r in alone["facts"]}
    assert (facts[ids[0]].version, facts[ids[0]].grade) == (2, 4)  # the stale version 1 lost
    assert facts[ids[3]].status == "suspended"
    spans = [r for r in alone["spans"] if str(r.student_id) == ids[2]]  # dated before its own start:
    assert [(str(s.valid_from), s.valid_to, s.school_code) for s in spans] == [  # replaced, not closed
        (f"{YEAR}-02-20", None, p.schools[(p.townships[1], "primary")])
    ]
    closed = [r for r in alone["spans"] if str(r.student_id) == ids[1] and r.valid_to is not None]
    assert [str(s.valid_to) for s in closed] == [f"{YEAR}-03-03"]
    assert (facts[ids[4]].version, facts[ids[4]].grade) == (3, 4)
    assert [(str(s.valid_from), s.valid_to and str(s.valid_to), s.grade) for s in alone["spans"]
            if str(s.student_id) == ids[4]] == [(f"{YEAR}-03-02", f"{YEAR}-03-04", 3), (f"{YEAR}-03-04", None, 4)]
    assert [s.status for s in alone["spans"] if str(s.student_id) == ids[3]] == ["suspended"]  # fmt: skip
    assert alone["cells"]
