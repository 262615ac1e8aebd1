"""Write a chunk of validated student rows in bulk: COPY rows, history and outbox events in one transaction.

The rules are the single-record ones: the school must be one the caller may
write to and must offer the stage, the household one it may link, and a
student already registered (same ID number hash) is updated only when the
caller can see it and its school and status stay (those change by enrollment
changes). Fields come from `own_fields` and `placed_fields` (what POST
/students stores), the payload from `student_data`; only the writing is
set-based.
"""

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

from asyncpg.pgproto.pgproto import UUID as FastUUID
from sqlalchemy import String, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.contracts.events import spec_of, validate
from services.contracts.events.bulk import BULK_STUDENTS
from services.kit.auth import Principal
from services.kit.events import envelope
from services.registry.domain import categories_of, current_kinds
from services.registry.events import SOURCE
from services.registry.households.models import Household
from services.registry.imports.columns import Layout
from services.registry.imports.gcpause import paused_gc
from services.registry.imports.prepare import Row
from services.registry.schools.models import School
from services.registry.schools.service import visible_to as school_visible_to
from services.registry.students.models import EnrollmentChange, Student
from services.registry.students.service import (
    linkable_households,
    placed_fields,
    student_data,
    visible_to,
)

COLUMNS = [c.name for c in Student.__table__.columns]
HISTORY_COLUMNS = [c.name for c in EnrollmentChange.__table__.columns]
OUTBOX_COLUMNS = ["id", "type", "subject", "payload"]
PART = 500  # students per bulk event: ~350 KB, well under NATS's 1 MB max_payload
MAX_EVENT_BYTES = 700_000  # a part longer than this (long names, many groups) is split in two
# Row columns a re-import may change, and the stored fields each one sets (as PATCH /students may).
UPDATABLE = {
    "name": ("name",),
    "ethnicity": ("ethnicity",),
    "student_number": ("student_number", "student_number_enc"),
    "groups": ("groups",),
    "disability_category": ("disability",),
    "disability_grade": ("disability",),
    "household_platform_id": ("household_id", "village_code"),
    "stage": ("stage",),
    "grade": ("grade",),
    "class_name": ("class_name",),
    "boarding": ("boarding",),
}
OUTSIDE = (  # as students.service.RegisteredElsewhere: it names no place
    "A student with this ID number is already registered elsewhere in this deployment; ask the school "
    "or county bureau where the child is registered to request a transfer to your school"
)


@dataclass(frozen=True)
class SchoolRef:
    code: str
    area_code: str
    stages: list[str]


@dataclass(frozen=True)
class HouseholdRef:
    id: uuid.UUID
    area_code: str
    statuses: list[dict]


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Batch:
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    students: list[tuple] = field(default_factory=list)  # COPY rows of the created
    history: list[tuple] = field(default_factory=list)
    changed: list[tuple] = field(default_factory=list)  # COPY rows of the updated
    events: list[tuple] = field(default_factory=list)


class StudentWriter:
    """Bulk writer for one import job (caches the schools the caller may write to)."""

    def __init__(self, principal: Principal, layout: Layout, job_id: uuid.UUID | None = None):
        self.principal, self.layout = principal, layout
        self.schools: dict[str, SchoolRef | None] = {}
        self.seen: dict[str, int] = {}  # 128 bits of each ID number's hash -> its first row
        self.ids: list[uuid.UUID] = []
        self.job_id = str(job_id) if job_id else str(uuid.uuid4())
        self.chunk = 0  # chunks written (numbers the bulk events)

    def error(self, row: Row, field_name: str, msg: str) -> dict[str, Any]:
        return {"row": row.number, "field": self.layout.column_name(field_name), "msg": msg}

    def dedupe(self, rows: list[Row]) -> tuple[list[Row], list[dict[str, Any]]]:
        """Refuse a second row with an ID number seen earlier in the file."""
        kept, errors = [], []
        for row in rows:
            first = self.seen.setdefault(row.extra["id_number_hash"][:32], row.number)
            if first != row.number:
                errors.append(self.error(row, "id_number", f"The same ID number is on row {first}"))
            else:
                kept.append(row)
        return kept, errors

    async def write(self, session: AsyncSession, rows: list[Row]) -> Outcome:
        """Store the rows (created or updated) with their history and events; return counts and errors."""
        out = Outcome()
        if not rows:
            return out
        # Generic plans cached while the table was small would scan it; plan for the real sizes.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        await self._load_schools(session, {r.extra["school_code"] for r in rows})
        households = await self._households(
            session, {p for r in rows if (p := r.extra["household_platform_id"])}
        )
        existing = await self._existing(session, [r.extra["id_number_hash"] for r in rows])
        statuses = await self._statuses(
            session, {e["household_id"] for e in existing.values() if e["household_id"]}
        )
        with paused_gc():
            batch = self._batch(rows, households, existing, statuses, out)
        await self._store(session, batch)
        out.created, out.updated = len(batch.created), len(batch.updated)
        return out

    def _batch(self, rows, households, existing, statuses, out: Outcome) -> Batch:
        """Build the stored rows, history rows and outbox rows of a chunk (CPU only, no awaits)."""
        now, batch = datetime.now(UTC), Batch()
        self.ids = new_uuids(2 * len(rows))  # students and their history rows
        for row in rows:
            record = self._record(row, households, existing, statuses, now, out)
            if record is not None:
                (batch.updated if record["version"] > 1 else batch.created).append(record)
        today = calendar.today()
        batch.students = [_tuple(r) for r in batch.created]
        batch.history = [self._history(r, today) for r in batch.created]
        batch.changed = [_tuple(r) for r in batch.updated]
        self.chunk += 1
        batch.events = _events(batch.created, batch.updated, job_id=self.job_id, chunk=self.chunk)
        return batch

    def _record(self, row, households, existing, statuses, now, out: Outcome) -> dict[str, Any] | None:
        extra = row.extra
        code, stage = extra["school_code"], extra["stage"]
        school = self.schools.get(code)
        if school is None:
            out.errors.append(self.error(row, "school_code", f"Unknown school {code}"))
            return None
        if stage not in school.stages:
            out.errors.append(self.error(row, "stage", f"School {code} does not offer {stage}"))
            return None
        pid = extra["household_platform_id"]
        household = households.get(pid) if pid else None
        if pid and household is None:
            out.errors.append(self.error(row, "household_platform_id", f"Unknown household {pid}"))
            return None
        fresh = extra | placed_fields(extra["groups"], school=school, household=household)
        old = existing.get(extra["id_number_hash"])
        if old is None:
            return fresh | {"id": self.ids.pop(), "version": 1, "created_at": now, "updated_at": now}
        return self._merge(row, old, fresh, household, statuses, now, out)

    def _merge(self, row, old, fresh, household, statuses, now, out: Outcome) -> dict[str, Any] | None:
        """Apply a row to a registered student as PATCH would; school and status must stay."""
        if not old["visible"]:
            out.errors.append(self.error(row, "id_number", OUTSIDE))
            return None
        if old["school_code"] != fresh["school_code"]:
            out.errors.append(
                self.error(
                    row,
                    "school_code",
                    f"The student is registered at school {old['school_code']}; "
                    "change schools with an enrollment change (transfer)",
                )
            )
            return None
        if "status" in row.given and fresh["status"] != old["status"]:
            out.errors.append(
                self.error(
                    row, "status", f"The student is {old['status']}; change it with an enrollment change"
                )
            )
            return None
        record = {k: old[k] for k in COLUMNS}
        for column in row.given & UPDATABLE.keys():
            for key in UPDATABLE[column]:
                record[key] = fresh[key]
        if "groups" not in row.given and fresh["disability"] is not None:
            record["groups"] = sorted({*record["groups"], "disabled"})
        linked = household.statuses if household is not None else statuses.get(record["household_id"], [])
        record["categories"] = categories_of(
            groups=list(record["groups"]), household_kinds=current_kinds(linked)
        )
        record.update(version=old["version"] + 1, updated_at=now)
        return record

    async def _load_schools(self, session: AsyncSession, codes: set[str]) -> None:
        missing = codes - self.schools.keys()
        if not missing:
            return
        found = await session.execute(
            select(School.code, School.area_code, School.stages).where(
                School.code.in_(missing), school_visible_to(self.principal)
            )
        )
        for code, area_code, stages in found:
            self.schools[code] = SchoolRef(code, area_code, list(stages))
        for code in missing - self.schools.keys():
            self.schools[code] = None

    async def _households(self, session: AsyncSession, pids: set[str]) -> dict[str, HouseholdRef]:
        if not pids:
            return {}
        found = await session.execute(
            select(Household.platform_id, Household.id, Household.area_code, Household.statuses).where(
                Household.platform_id.in_(pids), linkable_households(self.principal)
            )
        )
        return {pid: HouseholdRef(hid, area, statuses) for pid, hid, area, statuses in found}

    async def _statuses(self, session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, list[dict]]:
        if not ids:
            return {}
        found = await session.execute(select(Household.id, Household.statuses).where(Household.id.in_(ids)))
        return dict(found.tuples().all())

    async def _existing(self, session: AsyncSession, hashes: list[str]) -> dict[str, dict[str, Any]]:
        """Lock and return the registered students with these hashes, with whether the caller sees them."""
        table = Student.__table__
        stmt = (
            select(*table.c, visible_to(self.principal).label("visible"))
            .where(table.c.id_number_hash == _any(hashes))
            .with_for_update(of=table)
        )
        rows = (await session.execute(stmt)).mappings()
        return {r["id_number_hash"]: dict(r) for r in rows}

    async def _store(self, session: AsyncSession, batch: Batch) -> None:
        conn = await (await session.connection()).get_raw_connection()
        pg = conn.driver_connection
        if batch.students:
            # PostgreSQL refuses COPY into a table under row-level security (kit.rls), even for the
            # system scope: COPY into a temporary table, then one INSERT … SELECT.
            await _copy_in(pg, "student", COLUMNS, batch.students)
            await _copy_in(pg, "enrollment_change", HISTORY_COLUMNS, batch.history)
        if batch.changed:
            await pg.execute(
                "CREATE TEMP TABLE IF NOT EXISTS import_student (LIKE registry.student) ON COMMIT DROP"
            )
            await pg.copy_records_to_table("import_student", columns=COLUMNS, records=batch.changed)
            assigned = ", ".join(COLUMNS[1:])
            await pg.execute(
                f"UPDATE registry.student s SET ({assigned}) = "  # noqa: S608 - column names from the model
                f"({', '.join('t.' + c for c in COLUMNS[1:])}) FROM import_student t WHERE s.id = t.id"
            )
        if batch.events:
            await pg.copy_records_to_table(
                "outbox", schema_name="registry", columns=OUTBOX_COLUMNS, records=batch.events
            )

    def _history(self, record: dict[str, Any], today: date) -> tuple:
        """The `enroll` step of a new student's history, as enroll() records it."""
        values = {
            "id": self.ids.pop(),
            "student_id": record["id"],
            "kind": "enroll",
            "effective_date": today,
            "from_status": None,
            "to_status": record["status"],
            "from_school_code": None,
            "to_school_code": record["school_code"],
            "from_area_code": None,
            "to_area_code": record["area_code"],
            "village_code": record["village_code"],
            "from_stage": None,
            "stage": record["stage"],
            "grade": record["grade"],
            "details": "{}",
            "reason": None,
            "actor": self.principal.username,
            "created_at": record["created_at"],
        }
        return _HISTORY_ROW(values)


async def _copy_in(pg, table: str, columns: tuple[str, ...] | list[str], records: list[tuple]) -> None:
    """COPY rows into a walled registry table by way of a temporary table."""
    staging = f"import_new_{table}"
    names = ", ".join(columns)
    await pg.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE registry.{table}) ON COMMIT DROP")
    await pg.copy_records_to_table(staging, columns=columns, records=records)
    await pg.execute(
        f"INSERT INTO registry.{table} ({names}) SELECT {names} FROM {staging}; TRUNCATE {staging}"  # noqa: S608 - names from the model
    )


def new_uuids(n: int) -> list[uuid.UUID]:
    """Return n random (version 4) UUIDs from one read of the system's random source."""
    pool = bytearray(os.urandom(16 * n))
    for i in range(0, 16 * n, 16):
        pool[i + 6] = (pool[i + 6] & 0x0F) | 0x40  # version 4
        pool[i + 8] = (pool[i + 8] & 0x3F) | 0x80  # RFC 4122 variant
    # asyncpg's UUID (a uuid.UUID) is built in C: a tenth of the cost, for 100,000s of them.
    return [FastUUID(bytes(pool[i : i + 16])) for i in range(0, 16 * n, 16)]


def _any(values: list[str]):
    return any_(bindparam("hashes", values, type_=ARRAY(String)))


_STUDENT_ROW = itemgetter(*COLUMNS)
_HISTORY_ROW = itemgetter(*HISTORY_COLUMNS)


def _tuple(record: dict[str, Any]) -> tuple:
    if record["disability"] is not None:  # COPY takes jsonb as text
        record = {**record, "disability": json.dumps(record["disability"])}
    return _STUDENT_ROW(record)


def _events(
    created: list[dict[str, Any]], updated: list[dict[str, Any]], *, job_id: str, chunk: int
) -> list[tuple]:
    """The outbox rows of a chunk: `edu.registry.bulk.students` events of up to PART students each.

    One event per part instead of one per student: the relay and the broker carry a few hundred
    messages for 100,000 students, and the projections apply each part in one transaction on a
    consumer of their own, so a county's import never queues in front of everyday events.
    """
    students = [_bulk_student(r, "created") for r in created] + [_bulk_student(r, "updated") for r in updated]
    out: list[tuple] = []
    parts = [students[i : i + PART] for i in range(0, len(students), PART)]
    while parts:
        part = parts.pop(0)
        event = envelope(
            event_type=BULK_STUDENTS, source=SOURCE, subject=job_id, data={},
            area_code=_common(s["area_code"] for s in part),
            school_code=_same(s["school_code"] for s in part),
        )  # fmt: skip
        event["data"] = {"job_id": job_id, "chunk": chunk, "part": len(out) + 1, "students": part}
        if not out:  # every event of a chunk has one shape: check the first student's against the catalogue
            validate(event | {"data": event["data"] | {"students": part[:1]}})
        event["schema_version"] = spec_of(BULK_STUDENTS).schema_version
        payload = json.dumps(event, ensure_ascii=False)
        if len(payload.encode()) > MAX_EVENT_BYTES and len(part) > 1:  # unusually long rows: split the part
            half = len(part) // 2
            parts[:0] = [part[:half], part[half:]]
            continue
        out.append((FastUUID(event["id"]), BULK_STUDENTS, job_id, payload))
    return out


def _bulk_student(record: dict[str, Any], what: str) -> dict[str, Any]:
    return student_data(SimpleNamespace(**record)) | {"event": what, "version": record["version"]}


def _common(codes) -> str | None:
    """The deepest area every code lies in (a county for a county's import)."""
    found = {c for c in codes if c}
    for length in (12, 9, 6, 4, 2):  # village, township, county, city, province
        if found and len({c[:length] for c in found}) == 1 and all(len(c) >= length for c in found):
            return next(iter(found))[:length]
    return None


def _same(values) -> str | None:
    found = set(values)
    return found.pop() if len(found) == 1 else None
