"""Payees: who a child's aid is paid to (guardian, bank or 一卡通 account); corrections; audited reveal."""

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.rls import within
from services.kit.versioning import check_version
from services.subsidy.db import now
from services.subsidy.events import emit
from services.subsidy.notices.service import student_or_404
from services.subsidy.payees import accounts
from services.subsidy.payees.models import Payee
from services.subsidy.payees.schemas import PayeeCreate, PayeePublic, PayeeUpdate

WRITERS = (Role.admin, Role.county, Role.school)
REVEALERS = (Role.county, Role.school)


def visible_to(principal: Principal):
    if principal.role is Role.school:
        return Payee.school_code == principal.school_code
    if principal.role is Role.village:
        return within(Payee.village_code, principal.area_code)
    return within(Payee.area_code, principal.area_code)


def _require_writer(principal: Principal) -> None:
    if principal.role not in WRITERS:
        raise Forbidden("Only county and school users record payees")


async def record(session: AsyncSession, principal: Principal, *, data: PayeeCreate) -> Payee:
    """Record the payee of one of the caller's students (one per student; correct it with PATCH)."""
    _require_writer(principal)
    student = await student_or_404(session, principal, data.student_id)
    number = accounts.normalize(data.account_kind.value, data.account_number)
    encrypted, digest, masked = accounts.seal(number)
    payee = Payee(
        student_id=student.student_id,
        student_name=student.name,
        area_code=student.area_code or principal.area_code,
        school_code=student.school_code,
        village_code=student.village_code,
        guardian_name=data.guardian_name,
        relation=data.relation.value,
        account_kind=data.account_kind.value,
        account_encrypted=encrypted,
        account_hash=digest,
        account_masked=masked,
        bank_name=data.bank_name,
        recorded_by=principal.username,
    )
    session.add(payee)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("The student already has a payee; correct it with PATCH") from exc
    await _emit(session, payee, "recorded", principal)
    return payee


async def correct(
    session: AsyncSession, principal: Principal, *, payee: Payee, data: PayeeUpdate, if_match: str | None
) -> Payee:
    """Correct a payee (a wrong account, a closed card); lines already generated keep their snapshot."""
    _require_writer(principal)
    check_version(payee.version, data.version, if_match)
    changes = {
        k: str(v)
        for k, v in data.model_dump(exclude_unset=True, exclude={"version", "account_number"}).items()
        if v is not None
    }
    kind = str(data.account_kind or payee.account_kind)
    if data.account_number is not None or "account_kind" in changes:
        number = (
            accounts.normalize(kind, data.account_number)
            if data.account_number is not None
            else accounts.normalize(kind, accounts.unseal(payee.account_encrypted), "account_kind")
        )
        payee.account_encrypted, payee.account_hash, payee.account_masked = accounts.seal(number)
    for key, value in changes.items():
        setattr(payee, key, value)
    payee.recorded_by, payee.version, payee.updated_at = principal.username, payee.version + 1, now()
    session.add(payee)
    await session.flush()
    await _emit(session, payee, "corrected", principal)
    return payee


async def get_or_404(session: AsyncSession, principal: Principal, payee_id: uuid.UUID) -> Payee:
    payee = (
        await session.execute(select(Payee).where(Payee.id == payee_id, visible_to(principal)))
    ).scalar_one_or_none()
    if payee is None:
        raise NotFound("No such payee")
    return payee


def to_public(payee: Payee, *, principal: Principal | None = None, reveal: bool = False) -> PayeePublic:
    """Render a payee, the account masked unless revealed (county and school users; audited)."""
    if reveal and (principal is None or principal.role not in REVEALERS):
        raise Forbidden("Only county and school users may reveal account numbers")
    out = PayeePublic.model_validate(payee)
    if reveal:
        out.account_number = accounts.unseal(payee.account_encrypted)
    return out


async def _emit(session: AsyncSession, payee: Payee, what: str, principal: Principal) -> None:
    keys = ("area_code", "school_code", "village_code", "relation", "account_kind", "account_masked",
            "bank_name")  # fmt: skip
    await emit(
        session,
        f"edu.subsidy.payee.{what}",
        subject=str(payee.id),
        area_code=payee.area_code,
        school_code=payee.school_code,
        version=payee.version,
        data={
            "id": str(payee.id),
            "student_id": str(payee.student_id),
            "actor": principal.username,
            **{k: getattr(payee, k) for k in keys},
        },
    )
