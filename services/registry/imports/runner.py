"""Run import jobs in the background: read and validate off the event loop, write chunk by chunk.

A chunk's rows, its events and the job's counters commit together, so valid
chunks are kept whatever happens later and the progress shown is what is
stored. A chunk the database refuses is retried row by row to isolate the bad
row. Reading runs in a thread, validation and encryption in worker processes
(so they neither hold this process's GIL nor slow its API), and the next
chunk is prepared while the current one is written.
"""

import asyncio
import contextlib
import os
import uuid
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from itertools import islice
from multiprocessing import get_context
from pathlib import Path

import asyncpg
import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.kit import rls
from services.kit.auth import Principal, Role
from services.kit.crypto import sweep_uploads
from services.kit.errors import AppError
from services.kit.settings import get_settings
from services.kit.spreadsheet import UnreadableFile, read_table
from services.registry.imports import service
from services.registry.imports.columns import Layout
from services.registry.imports.prepare import Prepared, prepare
from services.registry.imports.records import RecordWriter
from services.registry.imports.students import Outcome, StudentWriter

log = structlog.get_logger()
CHUNK = {"students": 2000}
ROW_CHUNK = 200  # areas, schools, households: rows through the services per transaction
PIPELINE = 2  # chunks prepared ahead of the one being written
CONCURRENT_JOBS = 2
# What the database may refuse: through SQLAlchemy, or straight from asyncpg (COPY).
REFUSED = (DBAPIError, asyncpg.PostgresError)


def reason(exc: Exception) -> str:
    """The first line of the database's complaint."""
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).splitlines() or ["database error"])[0]


def make_executor() -> Executor:
    """Validate in worker processes (off this process's GIL): one per core but one, at least one."""
    workers = max(1, min(4, (os.cpu_count() or 2) - 1))
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_warm)


def _warm() -> None:
    """Import the schemas once per worker, before the first chunk arrives."""
    import services.registry.imports.prepare  # noqa: F401


class ImportRunner:
    """The jobs this process runs, their heartbeat, and the executor that validates rows."""

    def __init__(self, sessionmaker: async_sessionmaker, folder: Path):
        self.sessionmaker, self.folder = sessionmaker, folder
        self.executor = make_executor()
        self.slots = asyncio.Semaphore(CONCURRENT_JOBS)
        self.tasks: dict[uuid.UUID, asyncio.Task] = {}
        self.heartbeat: asyncio.Task | None = None

    def path_for(self, job_id: uuid.UUID, filename: str) -> Path:
        return self.folder / f"{job_id}{Path(filename).suffix.lower()}"

    async def start(self) -> None:
        """Resume (or fail) jobs a dead process left behind, remove stray uploads; start the workers."""
        self.executor.submit(int)  # spawn the workers now, not on the first import
        async with self.sessionmaker() as session:
            await self.resume_stale(session)
            await self._sweep(session)
        self.heartbeat = rls.system_task(self._beat())

    async def resume_stale(self, session) -> None:
        """Take over jobs whose process died: go on from the first row not stored, or fail without a file."""
        claimed = await service.claim_stale(session, mine=set(self.tasks))
        await session.commit()
        for job in claimed:
            path = self.path_for(job.id, job.filename)
            try:
                layout, _ = await asyncio.to_thread(service.inspect_stored, path, job.filename, job.kind)
            except (OSError, UnreadableFile, AppError):
                await service.set_status(session, job.id, "failed", service.INTERRUPTED)
                await session.commit()
                continue
            principal = Principal(
                sub=job.actor, username=job.actor, role=Role(job.actor_role),
                area_code=job.area_code, school_code=job.school_code,
            )  # fmt: skip
            log.info("import resumed", job_id=str(job.id), from_row=job.processed + 1)
            self.submit(job_id=job.id, principal=principal, layout=layout, filename=job.filename,
                        skip=job.processed)  # fmt: skip

    async def stop(self) -> None:
        """Cancel running jobs (left running, files kept: the next process resumes them); stop workers."""
        tasks = [*self.tasks.values(), *([self.heartbeat] if self.heartbeat else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def submit(
        self, *, job_id: uuid.UUID, principal: Principal, layout: Layout, filename: str, skip: int = 0
    ) -> None:
        # A job runs as the service (kit.rls): it applies the caller's scope itself, and its lookups
        # (one ID number = one student deployment-wide) look across scopes on purpose.
        task = rls.system_task(self._run(job_id, principal, layout, filename, skip))
        self.tasks[job_id] = task
        task.add_done_callback(lambda _: self.tasks.pop(job_id, None))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(get_settings().import_heartbeat_seconds)
            try:
                async with self.sessionmaker() as session:
                    await service.touch(session, list(self.tasks))
                    await session.commit()
                    await self.resume_stale(session)
                    await self._sweep(session)
            except Exception as exc:  # the database may be away for a moment; try again next beat
                log.warning("import heartbeat failed", error=repr(exc))

    async def _sweep(self, session) -> None:
        """Remove uploads whose job is over (its process died before removing them)."""
        keep = await service.active_jobs(session) | set(self.tasks)
        grace = service.stale_after().total_seconds()
        removed = await asyncio.to_thread(sweep_uploads, self.folder, keep=keep, grace_seconds=grace)
        if removed:
            log.info("import uploads left behind removed", count=len(removed))

    async def _set(self, job_id: uuid.UUID, status: str, detail: str | None = None) -> None:
        async with self.sessionmaker() as session:
            await service.set_status(session, job_id, status, detail)
            await session.commit()

    async def _run(
        self, job_id: uuid.UUID, principal: Principal, layout: Layout, filename: str, skip: int = 0
    ) -> None:
        path = self.path_for(job_id, filename)
        keep = False
        try:
            async with self.slots:
                await self._set(job_id, "running")
                await self._import(job_id, principal, layout, path, filename, skip)
                await self._set(job_id, "done")
        except asyncio.CancelledError:
            keep = True  # the service is stopping: the job stays running, the next process resumes it
            raise
        except UnreadableFile as exc:
            await self._set(job_id, "failed", str(exc))
        except BrokenExecutor:
            log.exception("import workers died", job_id=str(job_id))
            self.executor = make_executor()
            await self._set(job_id, "failed", "The import workers stopped; import the file again")
        except Exception as exc:
            log.exception("import failed", job_id=str(job_id))
            await self._set(job_id, "failed", f"Internal error ({type(exc).__name__}); it has been logged")
        finally:
            if not keep:
                path.unlink(missing_ok=True)

    async def _import(
        self, job_id, principal: Principal, layout: Layout, path: Path, filename: str, skip: int = 0
    ) -> None:
        if layout.kind == "students":
            writer = StudentWriter(principal, layout, job_id=job_id)
        else:
            writer = RecordWriter(principal, layout)
        size = CHUNK.get(layout.kind, ROW_CHUNK)
        # One chunk written at a time: two at once measured slower (their rows share index pages: same
        # school, area, status and timestamps).
        async with contextlib.aclosing(self._chunks(path, filename, layout, size, skip)) as chunks:
            async for count, prepared in chunks:
                rows, duplicates = writer.dedupe(prepared.rows)
                await self._write_chunk(job_id, writer, count, rows, prepared.errors + duplicates)

    async def _write_chunk(self, job_id, writer, count: int, rows: list, errors: list[dict]) -> None:
        """Write one chunk with the job's counters in one transaction (row by row if refused)."""
        try:
            async with self.sessionmaker() as session:
                outcome = await writer.write(session, rows)
                await self._count(session, job_id, count, outcome, errors)
                await session.commit()
        except REFUSED as exc:
            log.warning("import chunk refused; retrying row by row", job_id=str(job_id), error=reason(exc))
            outcome = await self._row_by_row(writer, rows)
            async with self.sessionmaker() as session:
                await self._count(session, job_id, count, outcome, errors)
                await session.commit()

    @staticmethod
    async def _count(session, job_id, count: int, outcome: Outcome, errors: list[dict]) -> None:
        await service.add_progress(
            session,
            job_id,
            processed=count,
            created=outcome.created,
            updated=outcome.updated,
            errors=errors + outcome.errors,
        )

    async def _row_by_row(self, writer, rows) -> Outcome:
        """Store each row in its own transaction; a row the database refuses becomes a row error."""
        total = Outcome()
        for row in rows:
            try:
                async with self.sessionmaker() as session:
                    one = await writer.write(session, [row])
                    await session.commit()
            except REFUSED as exc:
                key = writer.layout.column_name(
                    "id_number" if writer.layout.kind == "students" else writer.key
                )
                total.errors.append(
                    {"row": row.number, "field": key, "msg": f"Could not be stored: {reason(exc)}"}
                )
                continue
            total.created += one.created
            total.updated += one.updated
            total.errors += one.errors
        return total

    async def _chunks(
        self, path: Path, filename: str, layout: Layout, size: int, skip: int = 0
    ) -> AsyncIterator[tuple[int, Prepared]]:
        """Yield (rows read, prepared rows) per chunk, validating ahead while the caller writes.

        `skip` rows are passed over first: a resumed job's stored chunks (committed with its counters).
        """
        loop = asyncio.get_running_loop()
        table = await asyncio.to_thread(lambda: read_table(service.opened(path), filename))
        if skip:
            rows = table.rows
            await asyncio.to_thread(lambda: next(islice(rows, skip - 1, skip), None))
        pending: deque[tuple[int, asyncio.Future]] = deque()
        try:
            while True:
                chunk = await asyncio.to_thread(lambda: list(islice(table.rows, size)))
                if chunk:
                    pending.append((len(chunk), loop.run_in_executor(self.executor, prepare, layout, chunk)))
                if pending and (len(pending) > PIPELINE - 1 or not chunk):
                    count, future = pending.popleft()
                    yield count, await future
                if not chunk and not pending:
                    return
        finally:
            for _, future in pending:
                future.cancel()
            await asyncio.to_thread(table.close)
