"""Verification reads and writes within the caller's scope; accepting a roster file."""

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.crypto import SEGMENT, file_cipher
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge
from services.kit.rls import within
from services.kit.settings import get_settings
from services.kit.spreadsheet import UnreadableFile, kind_of, read_table
from services.statistics.facts.models import HouseholdFact, PaymentFact, StudentFact
from services.statistics.verification import jobs
from services.statistics.verification.columns import Layout
from services.statistics.verification.models import Finding, Verification
from services.statistics.verification.sql import KINDS

READERS = (Role.admin, Role.county, Role.township, Role.platform)
SUBMITTERS = (Role.admin, Role.county, Role.platform)
RESOLVERS = (Role.admin, Role.county)
MAX_BYTES = 256 * 1024 * 1024


def requested_area(principal: Principal, area_code: str | None) -> str:
    """The roster's area: the caller's own by default, never outside it."""
    code = area_code or principal.area_code
    if not code.startswith(principal.area_code):
        raise Invalid(["area_code"], f"Area {code} is outside your area {principal.area_code}")
    return code


def visible_to(principal: Principal) -> ColumnElement:
    """Jobs inside the caller's area, or whose area contains the caller's (a township sees its county's)."""
    return or_(
        within(Verification.area_code, principal.area_code),
        literal(principal.area_code).startswith(Verification.area_code),
    )


def covers(principal: Principal, job: Verification) -> bool:
    """Whether the caller sees every finding of the job (else only those inside its area)."""
    return job.area_code.startswith(principal.area_code)


async def get_or_404(session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> Verification:
    await jobs.fail_stale(session, job_id=job_id)
    job = (
        await session.execute(select(Verification).where(Verification.id == job_id, visible_to(principal)))
    ).scalar_one_or_none()
    if job is None:
        raise NotFound("No such verification")
    return job


def findings_where(principal: Principal, job: Verification) -> ColumnElement:
    where = Finding.verification_id == job.id
    if not covers(principal, job):
        where = and_(where, within(Finding.area_code, principal.area_code))
    return where


async def summary_for(session: AsyncSession, principal: Principal, job: Verification) -> dict[str, int]:
    """The job's summary, or for a caller inside a bigger area, the counts of its own findings."""
    if covers(principal, job) or job.status != "done":
        return job.summary
    rows = await session.execute(
        select(Finding.kind, func.count()).where(findings_where(principal, job)).group_by(Finding.kind)
    )
    counts = dict(rows.all())
    return {kind: counts.get(kind, 0) for kind in sorted(KINDS)}


async def finding_or_404(
    session: AsyncSession, principal: Principal, job: Verification, finding_id: int
) -> Finding:
    finding = (
        await session.execute(
            select(Finding).where(findings_where(principal, job), Finding.id == finding_id).with_for_update()
        )
    ).scalar_one_or_none()
    if finding is None:
        raise NotFound("No such finding")
    return finding


async def resolve(session: AsyncSession, principal: Principal, *, finding: Finding, note: str) -> Finding:
    """Record who resolved a finding, when and why; a finding is resolved once."""
    if principal.role not in RESOLVERS:
        raise Forbidden("Only county and admin users resolve findings")
    if finding.resolved_at is not None:
        raise Conflict(f"Finding {finding.id} was resolved by {finding.resolved_by} already")
    now = datetime.now(UTC)
    await session.execute(
        update(Finding)
        .where(Finding.id == finding.id)
        .values(
            resolution_note=note,
            resolved_by=principal.username,
            resolved_at=now,
            updated_at=now,
            version=Finding.version + 1,
        )
    )
    await session.refresh(finding)
    return finding


def _save(upload: IO[bytes], path: Path) -> int:
    """Keep the roster sealed (encrypted, 0600) until its job has read it: it holds ID numbers."""
    upload.seek(0)
    return file_cipher(get_settings()).seal(upload, path)


def opened(path: Path) -> bytes:
    """Return the plaintext of a sealed roster."""
    return file_cipher(get_settings()).read(path)


def _header(path: Path, filename: str) -> Layout:
    if kind_of(filename) == "csv":  # the header is in the first segment: no need to decrypt the rest
        head = file_cipher(get_settings()).read_range(path, 0, SEGMENT)
        source = head[: head.rfind(b"\n") + 1] or head
    else:
        source = opened(path)
    with read_table(source, filename) as table:
        return Layout.of(table.header)


async def accept_file(
    upload: IO[bytes], *, size: int | None, filename: str, path: Path
) -> tuple[str, Layout]:
    """Store an upload and check its header; return its kind and layout (or raise, leaving no file)."""
    try:
        kind = kind_of(filename)
    except UnreadableFile as exc:
        raise Invalid(["file"], str(exc)) from None
    too_large = PayloadTooLarge(f"The roster is larger than {MAX_BYTES // (1024 * 1024)} MB; split it")
    if size is not None and size > MAX_BYTES:
        raise too_large
    try:
        if await asyncio.to_thread(_save, upload, path) > MAX_BYTES:
            raise too_large
        return kind, await asyncio.to_thread(_header, path, filename)
    except (UnreadableFile, ValueError) as exc:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise Invalid(["file"], str(exc)) from None
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise


async def household_education(
    session: AsyncSession, principal: Principal, *, platform_id: str, semester: str
) -> dict:
    """A household of the caller's area: its children in the registry and the aid paid them this semester."""
    household = (
        (
            await session.execute(
                select(HouseholdFact)
                .where(
                    HouseholdFact.platform_id == platform_id,
                    within(HouseholdFact.area_code, principal.area_code),
                )
                .order_by(HouseholdFact.household_id)
            )
        )
        .scalars()
        .first()
    )
    if household is None:
        raise NotFound(f"No household {platform_id} in your area")
    students = (
        (
            await session.execute(
                select(StudentFact)
                .where(StudentFact.household_id == household.household_id)
                .order_by(StudentFact.birth_date, StudentFact.student_id)
            )
        )
        .scalars()
        .all()
    )
    payments = (
        (
            await session.execute(
                select(PaymentFact)
                .where(
                    PaymentFact.student_id.in_([s.student_id for s in students]),
                    PaymentFact.semester == semester,
                    PaymentFact.status == "paid",
                )
                .order_by(PaymentFact.policy_code, PaymentFact.disbursement_id)
            )
        )
        .scalars()
        .all()
    )
    return {
        "platform_id": platform_id,
        "head_name": household.head_name,
        "area_code": household.area_code,
        "statuses": household.statuses,
        "semester": semester,
        "children": [_child(s, [p for p in payments if p.student_id == s.student_id]) for s in students],
    }


def _child(s: StudentFact, paid: list[PaymentFact]) -> dict:
    return {
        "student_id": s.student_id,
        "name": s.name,
        "id_number_masked": s.id_number_masked,
        "gender": s.gender,
        "birth_date": s.birth_date,
        "stage": s.stage,
        "grade": s.grade,
        "status": s.status,
        "school_code": s.school_code,
        "categories": list(s.categories),
        "paid": [
            {
                "policy_code": p.policy_code,
                "policy_kind": p.policy_kind,
                "amount_fen": p.amount_fen,
                "paid_on": p.paid_on,
            }
            for p in paid
        ],
        "paid_fen": sum(p.amount_fen for p in paid),
    }
