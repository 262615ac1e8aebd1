"""Import jobs: accept a file, check its header and size, and keep the job's progress and errors."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.crypto import file_cipher, mask_ids
from services.kit.errors import Forbidden, Invalid, NotFound, PayloadTooLarge
from services.kit.rls import within
from services.kit.settings import get_settings
from services.kit.spreadsheet import UnreadableFile, kind_of, read_table
from services.registry.imports.columns import Layout, layout_for
from services.registry.imports.models import ImportJob

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
MAX_ERRORS = 1000  # kept in the job; error_count counts them all


def stale_after() -> timedelta:
    """How long a queued or running job may go unheard of before another process takes it over."""
    return timedelta(seconds=get_settings().import_stale_seconds)


WRITERS = {
    "areas": (Role.admin, Role.county),
    "schools": (Role.admin, Role.county),
    "households": (Role.admin, Role.county, Role.school),
    "students": (Role.admin, Role.county, Role.school),
}
RESUMED = "Resumed after an interruption, from the first row not yet stored"
INTERRUPTED = (
    "Interrupted (the service stopped); import the file again: stored rows are updated, not duplicated"
)


def visible_to(principal: Principal):
    """Jobs the caller may see: its own, and those of users inside its area (a school: its own school's)."""
    if principal.role is Role.school:
        return or_(ImportJob.actor == principal.username, ImportJob.school_code == principal.school_code)
    return or_(
        ImportJob.actor == principal.username,
        within(ImportJob.area_code, principal.area_code),
    )


async def get_job_or_404(session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> ImportJob:
    """Return a job the caller may see."""
    query = select(ImportJob).where(ImportJob.id == job_id, visible_to(principal))
    job = (await session.execute(query)).scalar_one_or_none()
    if job is None:
        raise NotFound("No such import")
    # A job whose process died is taken over by a live one's heartbeat (resumed, or failed when its
    # file is gone: ImportRunner.resume_stale); reads just report what is stored.
    return job


def check_writer(principal: Principal, kind: str) -> None:
    if principal.role not in WRITERS[kind]:
        raise Forbidden(f"Role '{principal.role}' may not import {kind}")


def _save(upload: IO[bytes], path: Path) -> int:
    """Keep the upload sealed (encrypted, 0600) until its job has read it: it holds ID numbers."""
    upload.seek(0)
    return file_cipher(get_settings()).seal(upload, path)


def opened(path: Path) -> bytes:
    """Return the plaintext of a sealed upload."""
    return file_cipher(get_settings()).read(path)


def inspect_stored(path: Path, filename: str, kind: str) -> tuple[Layout, int]:
    """Map a stored upload's header and count its rows again (a resumed job)."""
    return _inspect(path, filename, kind)


def _inspect(path: Path, filename: str, kind: str) -> tuple[Layout, int]:
    """Map the header and count the data rows (one streaming pass; stops past the row cap)."""
    with read_table(opened(path), filename) as table:
        layout = layout_for(kind, table.header)
        total = 0
        for _ in table.rows:
            total += 1
            if total > MAX_ROWS:
                raise PayloadTooLarge(f"The file has more than {MAX_ROWS} data rows; split it")
    if total == 0:
        raise Invalid(["file"], "The file has no data rows")
    return layout, total


async def accept_file(
    *, upload: IO[bytes], size: int | None, filename: str, kind: str, path: Path
) -> tuple[Layout, int]:
    """Store an upload at `path` and check it; return its layout and row count (or raise, leaving no file)."""
    try:
        kind_of(filename)
    except UnreadableFile as exc:
        raise Invalid(["file"], str(exc)) from None
    if size is not None and size > MAX_BYTES:
        raise PayloadTooLarge(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it")
    try:
        stored = await asyncio.to_thread(_save, upload, path)
        if stored > MAX_BYTES:
            raise PayloadTooLarge(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it")
        return await asyncio.to_thread(_inspect, path, filename, kind)
    except UnreadableFile as exc:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise Invalid(["file"], str(exc)) from None
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise


async def create_job(
    session: AsyncSession, principal: Principal, *, job_id: uuid.UUID, kind: str, filename: str, total: int
) -> ImportJob:
    """Record a queued job for the caller."""
    job = ImportJob(
        id=job_id,
        kind=kind,
        filename=mask_ids(filename)[:255],
        total=total,
        actor=principal.username,
        actor_role=principal.role.value,
        area_code=principal.area_code,
        school_code=principal.school_code,
    )
    session.add(job)
    await session.flush()
    return job


async def set_status(
    session: AsyncSession, job_id: uuid.UUID, status: str, detail: str | None = None
) -> None:
    now = datetime.now(UTC)
    values: dict[str, Any] = {"status": status, "updated_at": now, "version": ImportJob.version + 1}
    if status == "running":
        values["started_at"] = now
    if status in ("done", "failed"):
        values["finished_at"] = now
    if detail is not None:
        values["detail"] = mask_ids(detail)[:500]
    await session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


async def add_progress(
    session: AsyncSession,
    job_id: uuid.UUID,
    *,
    processed: int,
    created: int,
    updated: int,
    errors: list[dict],
) -> None:
    """Count a handled chunk in the job (same transaction as its rows); keep the first errors."""
    values: dict[str, Any] = {
        "processed": ImportJob.processed + processed,
        "created": ImportJob.created + created,
        "updated": ImportJob.updated + updated,
        "error_count": ImportJob.error_count + len(errors),
        "updated_at": datetime.now(UTC),
        "version": ImportJob.version + 1,
    }
    if errors:
        kept = (await session.execute(select(ImportJob.errors).where(ImportJob.id == job_id))).scalar_one()
        room = MAX_ERRORS - len(kept)
        if room > 0:
            values["errors"] = kept + [masked(e) for e in sorted(errors, key=lambda e: e["row"])[:room]]
    await session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


def masked(error: dict[str, Any]) -> dict[str, Any]:
    """A row error as kept: a cell it quotes (an unknown household, say) has its ID numbers masked."""
    return {**error, "msg": mask_ids(str(error["msg"])), "field": mask_ids(str(error["field"]))}


async def active_jobs(session: AsyncSession) -> set[uuid.UUID]:
    """The jobs still queued or running (their uploads must stay)."""
    found = await session.execute(select(ImportJob.id).where(ImportJob.status.in_(("queued", "running"))))
    return set(found.scalars())


async def touch(session: AsyncSession, job_ids: list[uuid.UUID]) -> None:
    """Tell others these jobs are alive."""
    if job_ids:
        await session.execute(
            update(ImportJob).where(ImportJob.id.in_(job_ids)).values(updated_at=datetime.now(UTC))
        )


async def claim_stale(session: AsyncSession, *, mine: set[uuid.UUID]) -> list[Any]:
    """Take over the queued or running jobs nobody has heard of lately (their process died).

    One process wins each job (the update is conditional on its staleness); it resumes the job
    from the rows already stored (chunks are committed with the job's counters) or fails it.
    Jobs this process runs itself (`mine`) are never taken, however late their heartbeat.
    """
    now = datetime.now(UTC)
    stmt = (
        update(ImportJob)
        .where(ImportJob.status.in_(("queued", "running")), ImportJob.updated_at < now - stale_after())
        .values(updated_at=now, detail=RESUMED, version=ImportJob.version + 1)
        .returning(
            ImportJob.id, ImportJob.kind, ImportJob.filename, ImportJob.processed, ImportJob.actor,
            ImportJob.actor_role, ImportJob.area_code, ImportJob.school_code,
        )
    )  # fmt: skip
    if mine:
        stmt = stmt.where(ImportJob.id.not_in(mine))
    return list((await session.execute(stmt)).all())
