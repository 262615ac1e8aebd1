"""Run verification jobs in the background, one at a time (each is a big set-based job).

Rows are prepared (ID check, keyed hash, mask, COPY text) in worker processes
(NOL_VERIFICATION_WORKERS, default the CPU count; 0 = a thread) while earlier chunks stream into
PostgreSQL with COPY. A CSV is cut into byte ranges of whole lines that the workers read and parse
themselves (unless a quoted field could span lines); other rosters are read here in chunks. A
roster of one chunk is prepared in a thread: no processes to start.
"""

import asyncio
import contextlib
import os
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial
from itertools import islice
from multiprocessing import get_context
from pathlib import Path

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.contracts import calendar
from services.kit import rls
from services.kit.crypto import file_cipher, id_cipher, sweep_uploads
from services.kit.db import asyncpg_dsn, service_url
from services.kit.settings import Settings
from services.kit.spreadsheet import UnreadableFile, csv_encoding, kind_of, read_table
from services.statistics.verification import jobs
from services.statistics.verification.columns import Layout
from services.statistics.verification.compare import CONNECTION_SETTINGS, Loaded, compare, load
from services.statistics.verification.prepare import Prepared, csv_spans, prepare, prepare_range

log = structlog.get_logger()
CHUNK = 20_000  # rows
SPAN_BYTES = 1 << 20  # a CSV's rows are prepared in ranges of about this size, read by the workers
HEARTBEAT_SECONDS = 20


@dataclass(frozen=True)
class Source:
    """A roster to compare: a stored file, or JSON rows as cells in FIELDS order."""

    layout: Layout
    path: Path | None = None
    filename: str | None = None
    rows: list[list[str]] | None = None


def mac_key(settings: Settings) -> bytes:
    """The registry's ID-number MAC key (checked against `lookup_hash`, so the hashes always agree)."""
    cipher = id_cipher(settings)
    key = cipher._mac_key  # the kit exposes only per-value hashing; a million rows need the raw pads
    sample = "110101200001010010"
    from services.statistics.verification.columns import JSON_LAYOUT

    line = prepare(key, JSON_LAYOUT, [(1, ["x", "x", sample, "", ""])], calendar.today()).data.decode()
    if line.split("\t")[4] != cipher.lookup_hash(sample):
        raise RuntimeError("the roster hash disagrees with the registry's lookup hash")
    return key


def make_executor() -> Executor:
    workers = int(os.environ.get("NOL_VERIFICATION_WORKERS", str(min(os.cpu_count() or 2, 8))) or 0)
    if workers > 0:
        return ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    return ThreadPoolExecutor(1, thread_name_prefix="verification")


class VerificationRunner:
    """The jobs this process runs (one at a time), their heartbeat, and the row-preparing executor."""

    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings):
        self.sessionmaker, self.settings = sessionmaker, settings
        self.folder = settings.data_dir / "verifications"
        self.slot = asyncio.Semaphore(1)
        self.tasks: dict[uuid.UUID, asyncio.Task] = {}
        self.heartbeat: asyncio.Task | None = None
        self._executor: Executor | None = None
        self._key: bytes | None = None

    def path_for(self, job_id: uuid.UUID, filename: str) -> Path:
        return self.folder / f"{job_id}{Path(filename).suffix.lower()}"

    async def start(self) -> None:
        """Fail jobs a dead process left behind and remove their rosters, then keep ours alive."""
        async with self.sessionmaker() as session:
            await jobs.fail_stale(session)
            await session.commit()
            await self._sweep(session)
        self.heartbeat = rls.system_task(self._beat())

    async def stop(self) -> None:
        tasks = [*self.tasks.values(), *([self.heartbeat] if self.heartbeat else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def submit(self, job_id: uuid.UUID, source: Source) -> None:
        # A verification compares the whole deployment (a student paid twice across counties): it runs
        # as the service (kit.rls) and keeps findings to the job's area itself.
        task = rls.system_task(self._run(job_id, source))
        self.tasks[job_id] = task
        task.add_done_callback(lambda _: self.tasks.pop(job_id, None))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                async with self.sessionmaker() as session:
                    await jobs.touch(session, list(self.tasks))
                    await jobs.fail_stale(session)
                    await session.commit()
                    await self._sweep(session)
            except Exception as exc:  # the database may be away for a moment; try again next beat
                log.warning("verification heartbeat failed", error=repr(exc))

    async def _sweep(self, session) -> None:
        """Remove rosters whose job is over (its process died before removing them)."""
        keep = await jobs.active(session) | set(self.tasks)
        grace = jobs.STALE_AFTER.total_seconds()
        removed = await asyncio.to_thread(sweep_uploads, self.folder, keep=keep, grace_seconds=grace)
        if removed:
            log.info("verification rosters left behind removed", count=len(removed))

    async def _set(
        self, job_id: uuid.UUID, status: str, detail: str | None = None, loaded: Loaded | None = None
    ) -> None:
        async with self.sessionmaker() as session:
            await jobs.set_status(session, job_id, status, detail, loaded)
            await session.commit()

    async def _run(self, job_id: uuid.UUID, source: Source) -> None:
        try:
            async with self.slot:
                await self._set(job_id, "running")
                await self._compare(job_id, source)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._set(job_id, "failed", jobs.INTERRUPTED))
            raise
        except jobs.NothingToCompare as exc:
            await self._set(job_id, "failed", str(exc), exc.loaded)
        except UnreadableFile as exc:
            await self._set(job_id, "failed", str(exc))
        except Exception as exc:
            log.exception("verification failed", job_id=str(job_id))
            await self._set(job_id, "failed", f"Internal error ({type(exc).__name__}); it has been logged")
        finally:
            if source.path is not None:
                source.path.unlink(missing_ok=True)

    async def _compare(self, job_id: uuid.UUID, source: Source) -> None:
        """Load and compare in one transaction; the job's outcome is written in it too."""
        async with self.sessionmaker() as session:
            job = await jobs.get(session, job_id)
        dsn = asyncpg_dsn(service_url(self.settings, "statistics"))
        # Its own connection, so it states the system scope itself (kit.rls): the whole deployment.
        conn = await asyncpg.connect(dsn, server_settings={**CONNECTION_SETTINGS, **rls.SYSTEM_SETTINGS})
        try:
            async with conn.transaction():
                started = time.perf_counter()
                loaded: Loaded = await load(conn, self._chunks(source))
                if loaded.kept == 0:
                    raise jobs.NothingToCompare(loaded)
                load_seconds = time.perf_counter() - started
                summary = await compare(
                    conn,
                    verification_id=job_id,
                    area_code=job.area_code,
                    semester=job.semester,
                    roster_version=job.roster_version,
                )
                await jobs.finish(conn, job_id, loaded=loaded, summary=summary)
            log.info(
                "verification done",
                job_id=str(job_id),
                rows=loaded.total,
                load_seconds=round(load_seconds, 2),
                compare_seconds=round(time.perf_counter() - started - load_seconds, 2),
            )
        finally:
            await conn.close()

    def _executor_for_many(self) -> Executor:
        if self._executor is None:
            self._executor = make_executor()
        return self._executor

    async def _chunks(self, source: Source) -> AsyncIterator[Prepared]:
        """Yield prepared chunks in order, preparing ahead in the executor while the caller COPYs."""
        if self._key is None:
            self._key = mac_key(self.settings)
        key, today = self._key, calendar.today()
        if source.path is not None and source.filename and kind_of(source.filename) == "csv":

            def split() -> tuple[list | None, str]:
                data = file_cipher(self.settings).read(source.path)
                return csv_spans(data, SPAN_BYTES), csv_encoding(data)

            spans, encoding = await asyncio.to_thread(split)
            if spans is not None and len(spans) > 1:
                # The workers decrypt just their own ranges of the sealed file.
                sealed, path = file_cipher(self.settings), str(source.path)
                tasks = (
                    partial(prepare_range, key, source.layout, path, span, encoding, today, sealed)
                    for span in spans
                )
                async for prepared in self._ahead(tasks):
                    yield prepared
                return
        async for prepared in self._rows(source, key, today):
            yield prepared

    async def _rows(self, source: Source, key: bytes, today: date) -> AsyncIterator[Prepared]:
        """Read rows here (JSON, XLSX, CSV with quoted fields) and prepare them in chunks."""
        if source.rows is not None:
            numbered, table = iter(enumerate(source.rows, start=1)), None
        else:
            data = await asyncio.to_thread(file_cipher(self.settings).read, source.path)
            table = await asyncio.to_thread(read_table, data, source.filename)
            del data  # the table holds it while it reads
            numbered = table.rows
        try:
            first = await asyncio.to_thread(lambda: list(islice(numbered, CHUNK)))
            if len(first) < CHUNK:
                yield await asyncio.to_thread(prepare, key, source.layout, first, today)
                return

            def tasks():
                chunk = first
                while chunk:
                    yield partial(prepare, key, source.layout, chunk, today)
                    chunk = list(islice(numbered, CHUNK))  # read while earlier chunks are prepared

            async for prepared in self._ahead(tasks()):
                yield prepared
        finally:
            if table is not None:
                await asyncio.to_thread(table.close)

    async def _ahead(self, tasks: Iterator[partial]) -> AsyncIterator[Prepared]:
        """Run tasks in the executor, a few ahead of the one yielded, in order."""
        loop, executor = asyncio.get_running_loop(), self._executor_for_many()
        depth = getattr(executor, "_max_workers", 1) + 1
        pending: deque[asyncio.Future] = deque()
        try:
            while True:
                while len(pending) < depth:
                    task = await asyncio.to_thread(next, tasks, None)
                    if task is None:
                        break
                    pending.append(loop.run_in_executor(executor, task))
                if not pending:
                    return
                yield await pending.popleft()
        finally:
            for future in pending:
                future.cancel()
