"""Event handlers that keep the projections; each runs in the consumer's inbox transaction."""

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester, local_date
from services.contracts.events import Event
from services.contracts.vocabulary import compulsory_stage
from services.statistics.facts.models import (
    AidElsewhereFact,
    ArrivalFact,
    CaseFact,
    CheckFact,
    EnrollmentSpan,
    HardshipFact,
    HeldEvent,
    HouseholdFact,
    LoanFact,
    NoticeFact,
    PaymentFact,
    PlacementFact,
    PolicyFact,
    StudentFact,
    YearLock,
)


def _uuid(v: Any) -> uuid.UUID | None:
    return uuid.UUID(v) if v else None


def _date(v: str | None) -> date | None:
    return date.fromisoformat(v[:10]) if v else None


# A case about a child no registry record names yet (student_id absent) still counts, as a child
# of its own: the id stands in for the student, stable across replays.
CASE_CHILD = uuid.UUID("0f3c2b7e-4d1a-5e8f-9a6b-3c2d1e0f9a8b")


def semester_year(semester: str) -> int:
    return Semester.parse(semester).year


async def _upsert(
    session: AsyncSession, model, values: dict, *, key: list[str], newer: str | None = None
) -> bool:
    """Insert or update a row; with `newer`, only when that column grows. Return whether it was written."""
    table = model.__table__
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=key,
        set_={k: stmt.excluded[k] for k in values if k not in key},
        where=(table.c[newer] < stmt.excluded[newer]) if newer else None,
    ).returning(table.c[key[0]])
    return (await session.execute(stmt)).first() is not None


async def held_if_locked(session: AsyncSession, event: Event, year: int) -> bool:
    """Keep aside an event about a year locked for its area after the lock; return whether it was held.

    Events written before the lock were already in the figures, so a replay applies them again
    (idempotently); only later ones are held.
    """
    area = event.area_code or getattr(event.data, "area_code", None) or ""
    written = event.time
    locked = (
        await session.execute(
            select(YearLock.year).where(
                YearLock.year == year,
                literal(area).startswith(YearLock.area_code),
                YearLock.locked_at <= written,
            )
        )
    ).first()
    if locked is None:
        return False
    await session.execute(
        insert(HeldEvent.__table__)
        .values(
            event_id=uuid.UUID(event.id),
            type=event.type,
            year=year,
            area_code=area or None,
            payload=event.raw(),
            held_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing()
    )
    return True


SPAN_FIELDS = (
    "area_code",
    "school_code",
    "village_code",
    "stage",
    "grade",
    "compulsory",
    "status",
    "categories",
)


def _compulsory(d) -> bool:
    """The producer's flag when it sent one; else the contracts rule (older events carry none)."""
    flag = getattr(d, "compulsory", None)
    return bool(flag) if flag is not None else compulsory_stage(d.stage, d.grade)


def student_values(d, *, version: int, at: datetime) -> dict:
    """A student's row of student_fact, from a one-student event's data or a chunk's student (the
    same fields; an enrollment_changed event also carries the change, whose details say where an
    out-of-county child went)."""
    change = getattr(d, "change", None)
    away = ((change.details if change else None) or {}) if d.status == "out_of_county" else None
    return {
        "student_id": uuid.UUID(d.id),
        "name": d.name,
        "gender": d.gender,
        "birth_date": _date(d.birth_date),
        "id_number_hash": d.id_number_hash,
        "id_number_masked": d.id_number_masked,
        "household_id": _uuid(d.household_id),
        "village_code": d.village_code,
        "area_code": d.area_code,
        "school_code": d.school_code,
        "stage": d.stage,
        "grade": d.grade,
        "compulsory": _compulsory(d),
        "boarding": bool(d.boarding),
        "status": d.status,
        "categories": d.categories or [],
        "groups": d.groups or [],
        "version": version,
        "updated_at": at,
        "out_of_county": away,
    }


async def on_student(session: AsyncSession, event: Event) -> None:
    """Keep the student's current state and its enrollment spans (on_events applies runs of them)."""
    row = _student_row(event)
    await _apply_students(session, {row[0]["student_id"]: row})


async def on_household(session: AsyncSession, event: Event) -> None:
    d = event.data
    await _upsert(
        session,
        HouseholdFact,
        {
            "household_id": uuid.UUID(d.id),
            "platform_id": d.platform_id,
            "head_name": d.head_name,
            "area_code": d.area_code,
            "statuses": [status.model_dump(mode="json") for status in d.statuses],  # JSONB: plain dicts
            "version": event.version or 0,
        },
        key=["household_id"],
        newer="version",
    )


DISBURSEMENT_STATUS = {"paid": "paid", "cancelled": "cancelled", "proposed": "proposed", "failed": "failed"}


async def on_disbursement(session: AsyncSession, event: Event) -> None:
    d = event.data
    year = semester_year(d.semester)
    if await held_if_locked(session, event, year):
        return
    status = DISBURSEMENT_STATUS.get(event.type.rsplit(".", 1)[-1], d.status or "unknown")
    await _upsert(
        session,
        PaymentFact,
        {
            "disbursement_id": uuid.UUID(d.id),
            "student_id": uuid.UUID(d.student_id),
            "household_id": _uuid(d.household_id),
            "policy_code": d.policy_code,
            "policy_kind": d.policy_kind,
            "semester": d.semester,
            "year": year,
            "amount_fen": int(d.amount_fen),
            "school_code": d.school_code,
            "area_code": d.area_code,
            "village_code": d.village_code,
            "stage": d.stage,
            "categories": d.categories or [],
            "status": status,
            "paid_on": _date(d.paid_on),
            "version": event.version or 0,
            # Optional fields (issue 13): absent on older events, which then count as all-county money.
            "shares": getattr(d, "shares", None),
            "hardship_level": getattr(d, "hardship_level", None),
            "repays_id": _uuid(getattr(d, "repays_id", None)),
            "failure_reason": getattr(d, "failure_reason", None),
        },
        key=["disbursement_id"],
        newer="version" if event.version is not None else None,
    )
    repays = _uuid(getattr(d, "repays_id", None))
    if repays is not None and status == "paid":
        # A re-payment (补付) of a failed line: the failed line never counts again, even if its own
        # `failed` event comes later or was lost, so the child and the person-time count once.
        t = PaymentFact
        await session.execute(
            update(t).where(t.disbursement_id == repays, t.status == "paid").values(status="failed")
        )


async def on_case(session: AsyncSession, event: Event) -> None:
    d = event.data
    opened = _date(d.opened_on)
    if await held_if_locked(session, event, opened.year):
        return
    await _upsert(
        session,
        CaseFact,
        {
            "case_id": uuid.UUID(d.case_id),
            "student_id": _uuid(d.student_id) or uuid.uuid5(CASE_CHILD, d.case_id),
            "area_code": d.area_code,
            "school_code": d.school_code,
            "village_code": d.village_code,
            "stage": d.stage,
            "compulsory": bool(d.compulsory),
            "status": d.status,
            "reason_group": d.reason_group,
            "outcome": d.outcome,
            "opened_on": opened,
            "year": opened.year,
            "closed_on": _date(d.closed_on),
            "confirmed_on": _date(d.confirmed_on),
            "updated_at": event.time,
        },
        key=["case_id"],
        newer="updated_at",
    )


async def on_check(session: AsyncSession, event: Event) -> None:
    d = event.data
    if await held_if_locked(session, event, int(d.year)):
        return
    await _upsert(
        session,
        CheckFact,
        {
            "verification_id": uuid.UUID(d.verification_id),
            "semester": d.semester,
            "year": int(d.year),
            "school_code": d.school_code,
            "area_code": d.area_code,
            "expected": int(d.expected),
        },
        key=["verification_id"],
    )


async def on_arrival(session: AsyncSession, event: Event) -> None:
    d = event.data
    if d.student_id is None:
        return  # arrivals are counted per registry student: one without is nothing to count
    if await held_if_locked(session, event, int(d.year)):
        return
    await _upsert(
        session,
        ArrivalFact,
        {
            "verification_id": uuid.UUID(d.verification_id),
            "student_id": uuid.UUID(d.student_id),
            "semester": d.semester,
            "year": int(d.year),
            "area_code": d.area_code,
            "school_code": d.school_code,
            "village_code": d.village_code,
            "arrived": d.arrived,
            "reason": d.reason,
        },
        key=["verification_id", "student_id"],
    )


async def on_placement(session: AsyncSession, event: Event) -> None:
    d = event.data
    if d.student_id is None:
        return  # placements are kept per registry student (one per child and year)
    if await held_if_locked(session, event, int(d.year)):
        return
    await _upsert(
        session,
        PlacementFact,
        {
            "student_id": uuid.UUID(d.student_id),
            "year": int(d.year),
            "placement": d.placement,
            "area_code": d.area_code,
            "school_code": d.school_code,
            "village_code": d.village_code,
        },
        key=["student_id", "year"],
    )


# No record is taken back today; a later `...cancelled` / `...withdrawn` event stops counting it.
GONE = ("cancelled", "withdrawn")


def _places(d) -> dict:
    return {"area_code": d.area_code, "school_code": d.school_code, "village_code": d.village_code}


async def on_loan(session: AsyncSession, event: Event) -> None:
    """Keep a student loan (国家助学贷款 / 生源地信用助学贷款) for the loan figures."""
    d = event.data
    if await held_if_locked(session, event, d.year):
        return
    await _upsert(
        session,
        LoanFact,
        {
            "loan_id": uuid.UUID(d.id),
            "student_id": uuid.UUID(d.student_id),
            "year": d.year,
            "amount_fen": d.amount_fen,
            "lender": d.lender,
            "loan_kind": d.loan_kind,
            "repayment_status": d.repayment_status,
            **_places(d),
            "stage": d.stage,
            "cancelled": event.type.rsplit(".", 1)[-1] in GONE,
            "updated_at": event.time,
        },
        key=["loan_id"],
        newer="updated_at",
    )


async def on_aid_elsewhere(session: AsyncSession, event: Event) -> None:
    """Keep aid another county or province paid for our child (it counts as covered)."""
    d = event.data
    year = semester_year(d.semester)
    if await held_if_locked(session, event, year):
        return
    await _upsert(
        session,
        AidElsewhereFact,
        {
            "record_id": uuid.UUID(d.id),
            "student_id": uuid.UUID(d.student_id),
            "semester": d.semester,
            "year": year,
            "policy_kind": d.policy_kind,
            "amount_fen": d.amount_fen,
            "payer": d.payer_name,
            **_places(d),
            "cancelled": event.type.rsplit(".", 1)[-1] in GONE,
            "updated_at": event.time,
        },
        key=["record_id"],
        newer="updated_at",
    )


async def on_notice(session: AsyncSession, event: Event) -> None:
    """Keep a parent's acknowledgement of a notice (告知书) for the 告知率."""
    d = event.data
    student = await session.get(StudentFact, uuid.UUID(d.student_id))
    await session.execute(
        insert(NoticeFact.__table__)
        .values(
            student_id=uuid.UUID(d.student_id),
            semester=d.semester,
            acknowledged_at=datetime.fromisoformat(d.acknowledged_at) if d.acknowledged_at else event.time,
            area_code=event.area_code or (student.area_code if student else None),
            school_code=event.school_code or (student.school_code if student else None),
            village_code=student.village_code if student else None,
        )
        .on_conflict_do_nothing()
    )


def _terms(d) -> dict:
    """What decides in which semesters a policy is in force: its years, and its dated rules if any."""
    rules = getattr(d, "rules", None) or []
    return {
        "years": list(d.years or []),
        "rules": [r if isinstance(r, dict) else r.model_dump(mode="json") for r in rules],
        # Children of no listed category with an approved level at least this are eligible too.
        "min_hardship_level": getattr(d, "min_hardship_level", None),
    }


async def on_policy(session: AsyncSession, event: Event) -> None:
    """Keep a policy (who is eligible in which semester: coverage counts against it)."""
    d = event.data
    await _upsert(
        session,
        PolicyFact,
        {
            "policy_id": uuid.UUID(d.id),
            "code": d.code,
            "revision": d.revision,
            "kind": d.kind,
            "stages": d.stages or [],
            "categories": d.categories or [],
            "boarding_only": bool(d.boarding_only),
            "non_boarders_only": bool(d.non_boarders_only),
            "terms": _terms(d),
            "area_code": d.area_code,
            "updated_at": event.time,
        },
        key=["policy_id"],
        newer="updated_at",
    )


async def on_hardship(session: AsyncSession, event: Event) -> None:
    """Keep a hardship identification (its approved level makes a child eligible under some rules)."""
    d = event.data
    student = await session.get(StudentFact, uuid.UUID(d.student_id))
    await _upsert(
        session,
        HardshipFact,
        {
            "hardship_id": uuid.UUID(d.id),
            "student_id": uuid.UUID(d.student_id),
            "school_year": int(d.school_year),
            "level": d.level,
            "status": d.status,
            "area_code": d.area_code,
            "school_code": d.school_code,
            "village_code": student.village_code if student else None,
            "updated_at": event.time,
        },
        key=["hardship_id"],
        newer="updated_at",
    )


STUDENT_EVENTS = "edu.registry.student."
HANDLERS = {
    STUDENT_EVENTS: on_student,
    "edu.registry.household.": on_household,
    "edu.subsidy.disbursement.": on_disbursement,
    "edu.dropout.case.": on_case,
    "edu.dropout.verification.created": on_check,
    "edu.dropout.verification.result_recorded": on_arrival,
    "edu.dropout.placement.recorded": on_placement,
    "edu.subsidy.loan.": on_loan,
    "edu.subsidy.aid_elsewhere.": on_aid_elsewhere,
    "edu.subsidy.notice.acknowledged": on_notice,
    "edu.subsidy.policy.": on_policy,
    "edu.subsidy.hardship.": on_hardship,
}


async def on_event(session: AsyncSession, event: Event) -> None:
    """Route an event to its projection (unknown types are recorded in the inbox and ignored)."""
    for prefix, handler in HANDLERS.items():
        if event.type.startswith(prefix):
            await handler(session, event)
            return


SUBJECTS = [
    "edu.registry.student.>",
    "edu.registry.household.>",
    "edu.subsidy.disbursement.>",
    "edu.subsidy.loan.>",
    "edu.subsidy.aid_elsewhere.>",
    "edu.subsidy.notice.>",
    "edu.subsidy.policy.>",
    "edu.subsidy.hardship.>",
    "edu.dropout.case.>",
    "edu.dropout.verification.>",
    "edu.dropout.placement.>",
]


PROJECTIONS = [
    "student_fact",
    "enrollment_span",
    "household_fact",
    "payment_fact",
    "case_fact",
    "check_fact",
    "arrival_fact",
    "placement_fact",
    "loan_fact",
    "aid_elsewhere_fact",
    "notice_fact",
    "policy_fact",
    "hardship_fact",
]


# Kept by triggers on the facts (figures.rollups); emptied with them, the triggers off meanwhile.
ROLLUPS = [
    "payment_cell",
    "payment_member",
    "payment_person",
    "payment_household",
    "enrollment_cell",
    "enrollment_household",
]


async def clear_projections(session: AsyncSession) -> None:
    """Empty every projection for a replay (locks, snapshots and held events stay)."""
    from sqlalchemy import text

    await session.execute(text("SELECT set_config('nol.rollups', 'off', true)"))
    for table in PROJECTIONS + ROLLUPS:  # DELETE, not TRUNCATE: the service role has no TRUNCATE privilege
        await session.execute(text(f"DELETE FROM statistics.{table}"))  # noqa: S608 - names from the lists
    await session.execute(text("SELECT set_config('nol.rollups', 'on', true)"))


# -- bulk: an import chunk (edu.registry.bulk.students) on a consumer of its own ----------------------


async def on_bulk_students(session: AsyncSession, event: Event) -> None:
    """Apply an import chunk set-wise, as on_student would apply each of its students."""
    on = local_date(event.time)
    rows: dict[uuid.UUID, tuple[dict, date]] = {}
    for s in event.data.students:  # one row per student (a chunk never repeats one; keep the newest)
        values = student_values(s, version=s.version, at=event.time)
        kept = rows.get(values["student_id"])
        if kept is None or kept[0]["version"] < values["version"]:
            rows[values["student_id"]] = (values, on)
    await _apply_students(session, rows)


async def on_events(session: AsyncSession, events: list[Event]) -> None:
    """Apply a fetched batch as on_event would one by one, each run of student events set-wise.

    A run's students are written by one upsert and one pass over their spans, so the rollup
    triggers (statement-level) run once per run instead of once per event. A run ends at any other
    event (applied as on_event applies it, in order) or when a student comes again.
    """
    run: dict[uuid.UUID, tuple[dict, date]] = {}
    for event in events:
        if event.type.startswith(STUDENT_EVENTS):
            values, on = _student_row(event)
            if values["student_id"] in run:
                await _apply_students(session, run)
                run = {}
            run[values["student_id"]] = (values, on)
            continue
        if run:
            await _apply_students(session, run)
            run = {}
        await on_event(session, event)
        await session.flush()
        session.expunge_all()  # each event starts as on a fresh session, as the consumer does
    await _apply_students(session, run)


def _student_row(event: Event) -> tuple[dict, date]:
    """A student event's row of student_fact and the day its enrollment state begins."""
    change = getattr(event.data, "change", None)
    values = student_values(event.data, version=event.version or 0, at=event.time)
    return values, _date(change.effective_date if change else None) or local_date(event.time)


async def _apply_students(session: AsyncSession, rows: dict[uuid.UUID, tuple[dict, date]]) -> None:
    """One upsert of student_fact (a newer version wins, as in on_student), then the written ones' spans."""
    if not rows:
        return
    table = StudentFact.__table__
    # One statement compiled once, the rows as its parameter sets (SQLAlchemy batches them into
    # multi-row VALUES): a 500-row .values(rows) would take the event loop ~0.5 s just to compile.
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["student_id"],
        set_={k: stmt.excluded[k] for k in next(iter(rows.values()))[0] if k != "student_id"},
        where=table.c.version < stmt.excluded.version,
    ).returning(table.c.student_id)
    # Rows in key order, in both lanes: two transactions lock the same students in the same order.
    ordered = sorted(rows)
    written = set((await session.execute(stmt, [rows[i][0] for i in ordered])).scalars())
    if written:
        await _bulk_spans(session, [rows[i] for i in ordered if i in written])


async def _bulk_spans(session: AsyncSession, rows: list[tuple[dict, date]]) -> None:
    """Close, replace or keep each student's open span as on_student does, set-wise."""
    t = EnrollmentSpan.__table__
    ids = [values["student_id"] for values, _ in rows]
    current = {
        r.student_id: r
        for r in (
            await session.execute(
                select(t)
                .where(t.c.student_id.in_(ids), t.c.valid_to.is_(None))
                .order_by(t.c.student_id)
                .with_for_update()
            )
        ).all()
    }
    close: dict[date, list] = {}
    drop, new = [], []
    for values, on in rows:
        span = {k: values[k] for k in SPAN_FIELDS}
        old = current.get(values["student_id"])
        if old is not None:
            if all(getattr(old, k) == v for k, v in span.items()):
                continue
            if old.valid_from >= on:  # same day: the later state replaces the earlier one
                drop.append(old.id)
            else:
                close.setdefault(on, []).append(old.id)
        new.append({"student_id": values["student_id"], "valid_from": on, "valid_to": None, **span})
    if drop:
        await session.execute(t.delete().where(t.c.id.in_(drop)))
    for on, ids_closed in close.items():
        await session.execute(update(t).where(t.c.id.in_(ids_closed)).values(valid_to=on))
    if new:
        await session.execute(insert(t), new)
