"""The job's database side: load the prepared roster with COPY, then run each finding kind as one statement.

Everything happens in one transaction on a connection of its own (its own work_mem and
temp_buffers), so a verification's roster rows, findings, events and summary appear together
or not at all. Only the few rows without an ID match go through Python (pinyin).
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date

import asyncpg
import structlog

from services.contracts import calendar
from services.contracts.calendar import Semester
from services.statistics.verification import sql
from services.statistics.verification.matching import best_matches, similarity
from services.statistics.verification.prepare import COPY_COLUMNS, Prepared

log = structlog.get_logger()
MAX_ERRORS = 1000  # kept in the job; error_count counts them all
CONNECTION_SETTINGS = {
    "work_mem": "256MB",
    "temp_buffers": "512MB",
    "application_name": "statistics-verification",
}


def school_year_start(semester: str) -> date:
    """1 September of the school year a semester belongs to (autumn YYYY and spring YYYY+1 share it)."""
    return calendar.school_year_start(Semester.parse(semester).opening_day)


def census_date(semester: str) -> date:
    """The semester's census day (31 March / 30 September), as the enrollment figures count."""
    return Semester.parse(semester).census_day


@dataclass
class Loaded:
    """What loading a roster found: rows read, rows kept, row errors."""

    total: int = 0
    kept: int = 0
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    duplicates: list[int] = field(default_factory=list)

    def sorted_errors(self) -> list[dict]:
        return sorted(self.errors, key=lambda e: e["row"])

    def add_errors(self, errors: list[dict]) -> None:
        self.error_count += len(errors)
        room = MAX_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])


async def load(conn: asyncpg.Connection, chunks: AsyncIterator[Prepared]) -> Loaded:
    """COPY the prepared chunks into the temp table vr; an ID number seen before makes a row error."""
    out, seen = Loaded(), set()

    async def stream() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            out.total += chunk.count
            errors = list(chunk.errors)
            for number, key in zip(chunk.rows, chunk.keys, strict=True):
                if key in seen:
                    out.duplicates.append(number)
                    errors.append(
                        {
                            "row": number,
                            "field": "id_number",
                            "msg": "the same ID number is on an earlier row",
                        }
                    )
                else:
                    seen.add(key)
            out.add_errors(sorted(errors, key=lambda e: e["row"]))
            if chunk.data:
                yield chunk.data

    await conn.execute(sql.CREATE_VR)
    await conn.copy_to_table("vr", source=stream(), columns=list(COPY_COLUMNS), format="text")
    if out.duplicates:
        await conn.execute("DELETE FROM vr WHERE row_number = ANY($1::int[])", out.duplicates)
    out.kept = len(seen)
    return out


async def _step(conn: asyncpg.Connection, name: str, statement: str, **params) -> None:
    started = time.perf_counter()
    if params:
        text, args = sql.bind(statement, **params)
        await conn.execute(text, *args)
    else:
        await conn.execute(statement)  # several statements, no parameters
    log.debug("verification step", step=name, seconds=round(time.perf_counter() - started, 3))


async def _likely_matches(conn: asyncpg.Connection) -> None:
    """Pair rows without an ID match with unclaimed registry students of similar name (vf)."""
    started = time.perf_counter()
    rows = await conn.fetch(sql.CANDIDATES)
    log.debug(
        "verification step",
        step="candidates",
        pairs=len(rows),
        seconds=round(time.perf_counter() - started, 3),
    )
    matches = await asyncio.to_thread(best_matches, [tuple(r) for r in rows])  # off the event loop
    if matches:
        await conn.copy_records_to_table(
            "vf", records=[(m.row_number, uuid.UUID(m.student_id), m.score, m.via) for m in matches]
        )
    names = await conn.fetch(sql.NAME_MISMATCHES)
    if names:
        scores = await asyncio.to_thread(lambda: [(r[0], similarity(r[1], r[2])) for r in names])
        await conn.copy_records_to_table("vs", records=scores)


async def compare(
    conn: asyncpg.Connection,
    *,
    verification_id: uuid.UUID,
    area_code: str,
    semester: str,
    roster_version: int,
) -> dict[str, int]:
    """Run every finding kind over the loaded roster (temp table vr); return the summary {kind: n}."""
    params = {
        "v": verification_id,
        "area": area_code,
        "sem": semester,
        "ref": school_year_start(semester),
        "census": census_date(semester),
        "roster_version": roster_version,
    }
    await _step(conn, "match", sql.CREATE_VM, **params)
    await _step(conn, "unclaimed", sql.CREATE_VU)
    await _step(conn, "analyze", f"DROP TABLE vr; {sql.ANALYZE_VM}")
    await _step(conn, "paid", sql.CREATE_VP, **params)
    await _step(conn, "analyze", f"ANALYZE vu; {sql.ANALYZE_VP}; {sql.CREATE_VF}")
    started = time.perf_counter()
    await _likely_matches(conn)
    log.debug("verification step", step="likely matches", seconds=round(time.perf_counter() - started, 3))
    await _step(conn, "analyze", "ANALYZE vf; ANALYZE vs")
    for kind, statement in sql.KINDS.items():
        await _step(conn, kind, statement, **params)
    await _step(conn, "persist", sql.PERSIST, **params)
    await _step(conn, "events", sql.EVENTS, **params)
    text, args = sql.bind(sql.SUMMARY, v=verification_id)
    counts = dict(await conn.fetch(text, *args))
    return {kind: counts.get(kind, 0) for kind in sorted(sql.KINDS)}
