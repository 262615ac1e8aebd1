"""Outside rosters: accept a file, number its version, run its comparison, read it within scope.

A roster is submitted for an area (the caller's own by default, never outside it) by the county,
an admin or a township; the file is sealed under the data dir (kit.crypto) until its job has
read it; the job (jobs.py) runs in the background as the service.
"""

import asyncio
import uuid
from datetime import date
from pathlib import Path

from fastapi import UploadFile
from sqlalchemy import and_, func, literal, or_, select, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.vocabulary import OutsideFindingKind
from services.dropout.outside_rosters.models import OutsideFinding, OutsideRoster
from services.dropout.outside_rosters.reading import BadHeader, check_header
from services.kit import rls
from services.kit.auth import Principal, Role
from services.kit.crypto import file_cipher, mask_ids
from services.kit.errors import Invalid, NotFound, PayloadTooLarge
from services.kit.settings import Settings
from services.kit.spreadsheet import UnreadableFile, kind_of

READERS = (Role.admin, Role.county, Role.township)
SUBMITTERS = READERS
MAX_BYTES = 50 * 1024 * 1024
KINDS = tuple(OutsideFindingKind)


def requested_area(principal: Principal, area_code: str | None) -> str:
    """The roster's area: the caller's own by default, never outside it."""
    code = area_code or principal.area_code
    if not code.startswith(principal.area_code):
        msg = f"Area {code} is outside your area {principal.area_code}"
        raise Invalid(["area_code"], msg, code="out_of_scope")
    return code


def visible_to(principal: Principal) -> ColumnElement:
    """Rosters inside the caller's area, or of an area containing it (a township sees its county's)."""
    return or_(
        rls.within(OutsideRoster.area_code, principal.area_code),
        literal(principal.area_code).startswith(OutsideRoster.area_code),
    )


def findings_where(principal: Principal, roster: OutsideRoster) -> ColumnElement:
    where = OutsideFinding.roster_id == roster.id
    if not roster.area_code.startswith(principal.area_code):
        where = and_(where, rls.within(OutsideFinding.area_code, principal.area_code))
    return where


async def roster_or_404(session: AsyncSession, principal: Principal, roster_id: uuid.UUID) -> OutsideRoster:
    stmt = select(OutsideRoster).where(OutsideRoster.id == roster_id, visible_to(principal))
    roster = (await session.execute(stmt)).scalar_one_or_none()
    if roster is None:
        raise NotFound("No such roster")
    return roster


async def summary_for(session: AsyncSession, principal: Principal, roster: OutsideRoster) -> dict[str, int]:
    """The roster's summary, or for a caller inside a bigger area, the counts of its own findings."""
    if roster.area_code.startswith(principal.area_code) or roster.status != "done":
        return roster.summary
    stmt = select(OutsideFinding.kind, func.count()).where(findings_where(principal, roster))
    counts = dict((await session.execute(stmt.group_by(OutsideFinding.kind))).all())
    return {kind.value: counts.get(kind.value, 0) for kind in KINDS}


def _store(upload: UploadFile, path: Path, settings: Settings) -> int:
    upload.file.seek(0)
    return file_cipher(settings).seal(upload.file, path)


async def accept_file(upload: UploadFile, *, path: Path, settings: Settings) -> str:
    """Seal the upload and check it is a roster (422 naming `file`, 413 over the limit); its name."""
    filename = upload.filename or "roster.csv"
    try:
        kind_of(filename)
    except UnreadableFile as exc:
        raise Invalid(["file"], str(exc)) from None
    if upload.size is not None and upload.size > MAX_BYTES:
        raise PayloadTooLarge(f"The roster is larger than {MAX_BYTES >> 20} MB; split it by area")
    try:
        await asyncio.to_thread(_store, upload, path, settings)
        data = await asyncio.to_thread(file_cipher(settings).read, path)
        await asyncio.to_thread(check_header, data, filename)
    except (UnreadableFile, BadHeader) as exc:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise Invalid(["file"], mask_ids(str(exc))) from None
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return filename


async def create(
    session: AsyncSession, principal: Principal, *, roster_id: uuid.UUID, area_code: str, source: str,
    as_of: date, filename: str,
) -> OutsideRoster:  # fmt: skip
    """Record a queued roster as the next version of its area and source."""
    key = f"outside_roster:{area_code}:{source}"
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
    last = await session.scalar(
        select(func.max(OutsideRoster.roster_version)).where(
            OutsideRoster.area_code == area_code, OutsideRoster.source == source
        )
    )
    roster = OutsideRoster(
        id=roster_id, area_code=area_code, source=source, as_of=as_of, roster_version=(last or 0) + 1,
        filename=mask_ids(filename)[:255], submitted_by=principal.username,
    )  # fmt: skip
    session.add(roster)
    await session.flush()
    return roster
