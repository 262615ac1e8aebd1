"""Pairings (结对帮扶), the helper's records and visit months — inside the caller's scope."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import Select, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import CLIENT_CLOCK_SKEW, local_date, today
from services.dropout.db import now
from services.dropout.events import emit_all, event
from services.dropout.students.models import Student
from services.dropout.students.scope import student_for_write, student_ref
from services.dropout.support.due import refresh_due
from services.dropout.support.models import Campaign, Pairing, SupportRecord
from services.dropout.support.schemas import CampaignCreate, PairingCreate, PairingUpdate, RecordCreate
from services.kit import client_ids
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Invalid, NotFound
from services.kit.rls import within
from services.kit.versioning import check_version

CAMPAIGN_MAKERS = (Role.admin, Role.county, Role.township)


def pairing_scope(principal: Principal) -> ColumnElement[bool]:
    """Pairings of the children the caller sees (its school, village or area), and its own as helper."""
    if principal.role is Role.school:
        mine = Pairing.school_code == principal.school_code
    elif principal.role is Role.village:
        mine = within(Pairing.village_code, principal.area_code)
    else:
        mine = within(Pairing.area_code, principal.area_code)
    return or_(mine, Pairing.helper_username == principal.username)


def in_scope(principal: Principal) -> Select:
    return (
        select(Pairing, Student)
        .join(Student, Student.id == Pairing.student_id)
        .where(pairing_scope(principal))
    )


async def pairing_or_404(
    session: AsyncSession, principal: Principal, pairing_id: uuid.UUID, *, lock: bool = False
) -> tuple[Pairing, Student]:
    stmt = in_scope(principal).where(Pairing.id == pairing_id)
    row = (await session.execute(stmt.with_for_update(of=Pairing) if lock else stmt)).first()
    if row is None:
        raise NotFound("No such pairing")
    return row[0], row[1]


def active_on(pairing: Pairing, day) -> bool:
    return pairing.since <= day and (pairing.until is None or pairing.until >= day)


def pairing_event(what: str, pairing: Pairing, student: Student) -> dict:
    return event(
        f"edu.dropout.pairing.{what}",
        subject=str(pairing.id),
        area_code=student.area_code,
        school_code=student.school_code,
        version=pairing.version,
        data=student_ref(student)
        | {
            "pairing_id": str(pairing.id),
            "helper_username": pairing.helper_username,
            "helper_name": pairing.helper_name,
            "since": pairing.since.isoformat(),
            "until": pairing.until.isoformat() if pairing.until else None,
            "active": active_on(pairing, today()),
        },
    )


async def create_pairing(
    session: AsyncSession, principal: Principal, *, data: PairingCreate
) -> tuple[Pairing, Student]:
    """Pair a child in scope with a helper; one active pairing per child at a time (一对一)."""
    student = await student_for_write(session, principal, data.student_id)
    since = data.since or today()
    if since > today():
        raise Invalid(["since"], "since is in the future")
    if data.until is not None and data.until < since:
        raise Invalid(["until"], "until is before since")
    current = (
        await session.execute(
            select(Pairing.id).where(
                Pairing.student_id == student.id, or_(Pairing.until.is_(None), Pairing.until >= since)
            )
        )
    ).scalar()
    if current is not None:
        raise Conflict(
            "The child already has a helper; end that pairing first",
            extra={"existing_pairing_id": str(current)},
        )
    h = data.helper
    pairing = Pairing(
        student_id=student.id,
        helper_username=h.username,
        helper_name=h.name or h.username,
        helper_phone=h.phone,
        helper_title=h.title,
        since=since,
        until=data.until,
        plan=data.plan,
        created_by=principal.username,
        area_code=student.area_code,
        school_code=student.school_code,
        village_code=student.village_code,
    )
    session.add(pairing)
    await session.flush()
    await emit_all(session, [pairing_event("created", pairing, student)])
    await refresh_due(session, pairing, student, by=principal.username)
    return pairing, student


async def update_pairing(
    session: AsyncSession,
    principal: Principal,
    *,
    pairing_id: uuid.UUID,
    data: PairingUpdate,
    if_match: str | None,
) -> tuple[Pairing, Student]:
    """Change the plan or the phone, or end the pairing (`until`)."""
    pairing, student = await pairing_or_404(session, principal, pairing_id, lock=True)
    check_version(pairing.version, data.version, if_match)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if changes.get("until") is not None and changes["until"] < pairing.since:
        raise Invalid(["until"], "until is before since")
    for key, value in changes.items():
        setattr(pairing, key, value)
    pairing.version += 1
    pairing.updated_at = now()
    session.add(pairing)
    await session.flush()
    await emit_all(session, [pairing_event("updated", pairing, student)])
    await refresh_due(session, pairing, student, by=principal.username)
    return pairing, student


async def add_record(
    session: AsyncSession, principal: Principal, *, pairing_id: uuid.UUID, data: RecordCreate
) -> tuple[SupportRecord, bool]:
    """Record a contact, home visit, tutoring or help (纪实手册); the due tasks move on. The flag says
    the record was already there under its client id (nothing written again)."""
    pairing, student = await pairing_or_404(session, principal, pairing_id, lock=True)
    kept = await client_ids.stored(session, SupportRecord, data.id)
    if kept is not None:
        given = {
            "pairing_id": pairing.id,
            "kind": data.kind.value,
            "note": data.note,
            "actor": principal.username,
        }
        if not (
            client_ids.same_fields(given, kept)
            and client_ids.same_time(data.occurred_at, kept.occurred_at, skew=CLIENT_CLOCK_SKEW)
            and sorted(data.evidence) == sorted(kept.evidence)
        ):
            raise client_ids.conflict(kept.id, "record")
        return kept, True
    at = data.occurred_at or datetime.now(UTC)
    if at.tzinfo is None:
        raise Invalid(["occurred_at"], "occurred_at needs a time zone (e.g. Z or +08:00)")
    if not active_on(pairing, local_date(at)):
        raise Invalid(["occurred_at"], "occurred_at lies outside the pairing's period")
    record = SupportRecord(
        **({"id": data.id} if data.id else {}),
        pairing_id=pairing.id,
        student_id=student.id,
        kind=data.kind.value,
        occurred_at=at,
        note=data.note,
        evidence=list(data.evidence),
        actor=principal.username,
        actor_role=principal.role.value,
    )
    session.add(record)
    await session.flush()
    await emit_all(
        session,
        [
            event(
                "edu.dropout.support.recorded",
                subject=str(record.id),
                area_code=student.area_code,
                school_code=student.school_code,
                version=record.version,
                data=student_ref(student)
                | {
                    "pairing_id": str(pairing.id),
                    "record_id": str(record.id),
                    "kind": record.kind,
                    "occurred_at": at.isoformat(),
                    "actor": record.actor,
                    "evidence": record.evidence,
                },
            )
        ],
    )
    await refresh_due(session, pairing, student, by=principal.username)
    return record, False


async def create_campaign(session: AsyncSession, principal: Principal, *, data: CampaignCreate) -> Campaign:
    """Set a visit month for an area inside the caller's (one per area and month)."""
    if not principal.covers_area(data.area_code):
        raise Invalid(["area_code"], "The area is outside yours", code="out_of_scope")
    existing = (
        await session.execute(
            select(Campaign.id).where(Campaign.area_code == data.area_code, Campaign.month == data.month)
        )
    ).scalar()
    if existing is not None:
        raise Conflict(
            "That area already has that visit month", extra={"existing_campaign_id": str(existing)}
        )
    campaign = Campaign(
        area_code=data.area_code, month=data.month, name=data.name, created_by=principal.username
    )
    session.add(campaign)
    await session.flush()
    await emit_all(
        session,
        [
            event(
                "edu.dropout.campaign.created",
                subject=str(campaign.id),
                area_code=campaign.area_code,
                version=campaign.version,
                data={
                    "campaign_id": str(campaign.id),
                    "area_code": campaign.area_code,
                    "month": campaign.month,
                    "name": campaign.name,
                },
            )
        ],
    )
    return campaign


def campaign_scope(principal: Principal) -> ColumnElement[bool]:
    """Visit months of the caller's area, of areas inside it, or of an area containing it."""
    return or_(
        within(Campaign.area_code, principal.area_code),
        within(literal(principal.area_code), Campaign.area_code),
    )


async def campaign_or_404(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> Campaign:
    found = (
        await session.execute(select(Campaign).where(Campaign.id == campaign_id, campaign_scope(principal)))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("No such visit month")
    return found
