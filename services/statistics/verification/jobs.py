"""Verification jobs: create one (a new roster version), follow its status, record its outcome."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import func, select, text, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal
from services.kit.crypto import mask_ids
from services.statistics.verification.compare import Loaded
from services.statistics.verification.models import Verification

STALE_AFTER = timedelta(minutes=2)  # a queued or running job not heard of for this long has died
INTERRUPTED = "Interrupted (the service stopped); submit the roster again"


class NothingToCompare(Exception):
    """No row of the roster was valid."""

    def __init__(self, loaded: Loaded):
        super().__init__(f"No valid row to compare ({loaded.total} read, {loaded.error_count} with errors)")
        self.loaded = loaded


async def create(
    session: AsyncSession,
    principal: Principal,
    *,
    job_id: uuid.UUID,
    area_code: str,
    semester: str,
    source: str,
    filename: str | None,
) -> Verification:
    """Record a queued job with the next roster version of its area and semester."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"verification:{area_code}:{semester}"}
    )
    last = (
        await session.execute(
            select(func.max(Verification.roster_version)).where(
                Verification.area_code == area_code, Verification.semester == semester
            )
        )
    ).scalar_one()
    job = Verification(
        id=job_id,
        area_code=area_code,
        semester=semester,
        roster_version=(last or 0) + 1,
        source=source,
        filename=mask_ids(filename)[:255] if filename else None,
        submitted_by=principal.username,
        submitted_role=principal.role.value,
    )
    session.add(job)
    await session.flush()
    return job


async def get(session: AsyncSession, job_id: uuid.UUID) -> Verification:
    return (await session.execute(select(Verification).where(Verification.id == job_id))).scalar_one()


async def set_status(
    session: AsyncSession,
    job_id: uuid.UUID,
    status: str,
    detail: str | None = None,
    loaded: Loaded | None = None,
) -> None:
    now = datetime.now(UTC)
    values: dict[str, Any] = {"status": status, "updated_at": now, "version": Verification.version + 1}
    if loaded is not None:
        values.update(total=loaded.total, error_count=loaded.error_count, errors=kept_errors(loaded))
    if status == "running":
        values["started_at"] = now
    if status in ("done", "failed"):
        values["finished_at"] = now
    if detail is not None:
        values["detail"] = mask_ids(detail)[:500]
    await session.execute(update(Verification).where(Verification.id == job_id).values(**values))


async def finish(conn: asyncpg.Connection, job_id: uuid.UUID, *, loaded: Loaded, summary: dict) -> None:
    """Mark the job done with its counts, in the comparison's own transaction."""
    await conn.execute(
        """UPDATE statistics.verification SET status = 'done', total = $2, rows_compared = $3,
             error_count = $4, errors = $5::jsonb, summary = $6::jsonb, finished_at = clock_timestamp(),
             updated_at = clock_timestamp(), version = version + 1
           WHERE id = $1""",
        job_id,
        loaded.total,
        loaded.kept,
        loaded.error_count,
        json.dumps(kept_errors(loaded)),
        json.dumps(summary),
    )


def kept_errors(loaded: Loaded) -> list[dict]:
    """The row errors as kept: a cell a message quotes has its ID numbers masked."""
    return [{**e, "msg": mask_ids(str(e["msg"]))} for e in loaded.sorted_errors()]


async def active(session: AsyncSession) -> set[uuid.UUID]:
    """The jobs still queued or running (their rosters must stay)."""
    active = Verification.status.in_(("queued", "running"))
    found = await session.execute(select(Verification.id).where(active))
    return set(found.scalars())


async def touch(session: AsyncSession, job_ids: list[uuid.UUID]) -> None:
    """Tell others these jobs are alive."""
    if job_ids:
        await session.execute(
            update(Verification).where(Verification.id.in_(job_ids)).values(updated_at=datetime.now(UTC))
        )


async def fail_stale(session: AsyncSession, *, job_id: uuid.UUID | None = None) -> None:
    """Mark failed the queued or running jobs nobody has heard of lately (their process died)."""
    now = datetime.now(UTC)
    stmt = (
        update(Verification)
        .where(Verification.status.in_(("queued", "running")), Verification.updated_at < now - STALE_AFTER)
        .values(
            status="failed",
            detail=INTERRUPTED,
            finished_at=now,
            updated_at=now,
            version=Verification.version + 1,
        )
    )
    if job_id is not None:
        stmt = stmt.where(Verification.id == job_id)
    await session.execute(stmt)
