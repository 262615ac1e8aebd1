"""Roster jobs: run each comparison in the background as the service (kit.rls), one at a time.

The comparison looks at every student with the roster's ID numbers, wherever enrolled, so it
runs in the system scope; its findings keep their own area codes for the readers' scope. The job
ends done (with its counts, superseding the earlier versions of its area and source, and an
`edu.dropout.outside_roster.compared` event) or failed (with why), and its file is removed.
"""

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.dropout.events import emit
from services.dropout.outside_rosters.compare import Outcome, compare
from services.dropout.outside_rosters.models import OutsideRoster
from services.dropout.outside_rosters.reading import BadHeader, Read, read_roster
from services.dropout.outside_rosters.service import KINDS
from services.kit import rls
from services.kit.crypto import file_cipher, id_cipher, mask_ids, sweep_uploads
from services.kit.settings import Settings
from services.kit.spreadsheet import UnreadableFile

log = structlog.get_logger()
STALE_AFTER = timedelta(minutes=10)  # a queued or running job this quiet was left by a dead process
INTERRUPTED = "Interrupted (the service stopped); submit the roster again"


def _finish(roster: OutsideRoster, read: Read, out: Outcome) -> None:
    roster.status, roster.total, roster.error_count = "done", read.total, read.error_count
    roster.errors = read.errors
    roster.summary = {k.value: out.count(k) for k in KINDS} | {"cases_opened": out.cases_opened}
    roster.finished_at = roster.updated_at = datetime.now(UTC)
    roster.version += 1


async def _supersede(session: AsyncSession, roster: OutsideRoster) -> None:
    """Mark the earlier versions of the same area and source superseded by this one."""
    await session.execute(
        update(OutsideRoster)
        .where(
            OutsideRoster.area_code == roster.area_code, OutsideRoster.source == roster.source,
            OutsideRoster.roster_version < roster.roster_version, OutsideRoster.superseded_at.is_(None),
        )
        .values(superseded_at=datetime.now(UTC), version=OutsideRoster.version + 1)
    )  # fmt: skip


async def _emit(session: AsyncSession, roster: OutsideRoster) -> None:
    await emit(
        session, "edu.dropout.outside_roster.compared", subject=str(roster.id), area_code=roster.area_code,
        version=roster.version,
        data={
            "roster_id": str(roster.id), "area_code": roster.area_code, "source": roster.source,
            "as_of": roster.as_of.isoformat(), "roster_version": roster.roster_version,
            "total": roster.total, "compared": roster.compared, **roster.summary,
        },
    )  # fmt: skip


class RosterJobs:
    """The roster jobs this process runs, one at a time, in the background as the service."""

    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings):
        self.sessionmaker, self.settings = sessionmaker, settings
        self.folder = settings.data_dir / "outside_rosters"
        self.slot = asyncio.Semaphore(1)
        self.tasks: dict[uuid.UUID, asyncio.Task] = {}

    def path_for(self, roster_id: uuid.UUID, filename: str) -> Path:
        return self.folder / f"{roster_id}{Path(filename).suffix.lower()}"

    async def start(self) -> None:
        """Fail the jobs a dead process left behind and remove the files of jobs that are over."""
        with rls.acting_as(rls.SYSTEM):
            async with self.sessionmaker() as session:
                await self._set(session, None, "failed", INTERRUPTED)
                await session.commit()
                active = set((await session.execute(
                    select(OutsideRoster.id).where(OutsideRoster.status.in_(("queued", "running")))
                )).scalars())  # fmt: skip
        grace = STALE_AFTER.total_seconds()
        await asyncio.to_thread(sweep_uploads, self.folder, keep=active, grace_seconds=grace)

    async def stop(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: a job stuck on a vanished database must not hold the process
            await asyncio.wait(tasks, timeout=5)

    def submit(self, roster_id: uuid.UUID, path: Path, filename: str) -> None:
        task = rls.system_task(self._run(roster_id, path, filename))
        self.tasks[roster_id] = task
        task.add_done_callback(lambda _: self.tasks.pop(roster_id, None))

    @staticmethod
    async def _set(session: AsyncSession, roster_id: uuid.UUID | None, status: str, detail=None) -> None:
        """Set one job's status; with no id, fail every stale queued or running job."""
        now = datetime.now(UTC)
        stmt = update(OutsideRoster).values(status=status, updated_at=now, version=OutsideRoster.version + 1)
        if detail is not None:
            stmt = stmt.values(detail=mask_ids(detail)[:500], finished_at=now)
        if roster_id is None:
            stale = OutsideRoster.updated_at < now - STALE_AFTER
            stmt = stmt.where(OutsideRoster.status.in_(("queued", "running")), stale)
        else:
            stmt = stmt.where(OutsideRoster.id == roster_id)
        await session.execute(stmt)

    async def _status(self, roster_id: uuid.UUID, status: str, detail: str | None = None) -> None:
        async with self.sessionmaker() as session:
            await self._set(session, roster_id, status, detail)
            await session.commit()

    async def _run(self, roster_id: uuid.UUID, path: Path, filename: str) -> None:
        try:
            async with self.slot:
                await self._status(roster_id, "running")
                read = await asyncio.to_thread(self._read, path, filename)
                async with self.sessionmaker() as session:
                    roster = await session.get(OutsideRoster, roster_id, with_for_update=True)
                    out = await compare(session, roster, read.rows)
                    _finish(roster, read, out)
                    session.add(roster)
                    await session.flush()
                    await _supersede(session, roster)
                    await _emit(session, roster)
                    await session.commit()
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._status(roster_id, "failed", INTERRUPTED))
            raise
        except (UnreadableFile, BadHeader) as exc:
            await self._status(roster_id, "failed", str(exc))
        except Exception as exc:
            log.exception("outside roster failed", roster_id=str(roster_id))
            detail = f"Internal error ({type(exc).__name__}); it has been logged"
            await self._status(roster_id, "failed", detail)
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    def _read(self, path: Path, filename: str) -> Read:
        data = file_cipher(self.settings).read(path)
        return read_roster(data, filename, cipher=id_cipher(self.settings), today=calendar.today())
