"""User management: create, read, change, disable — within the caller's area and level."""

import uuid

import structlog
from sqlalchemy import exists, func, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.auth.models import RefreshToken
from api_gateway.auth.revocations import revoke_sessions
from api_gateway.auth.throttle import clear_locks
from api_gateway.db import now
from api_gateway.passwords import hash_password, password_problem
from api_gateway.users.models import UserAccount
from api_gateway.users.policy import area_problem, managed_roles, may_manage, school_problem
from api_gateway.users.schemas import UserCreate, UserUpdate
from api_gateway.users.schools import SchoolCheck
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.settings import Settings
from services.kit.versioning import check_version

log = structlog.get_logger()
BOOTSTRAP_LOCK_KEY = 0x6E6F6C_626F6F  # "nol" "boo"


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Return the SQL condition for users the caller may manage."""
    return UserAccount.area_code.startswith(principal.area_code, autoescape=True) & (
        UserAccount.role.in_([str(r) for r in managed_roles(principal)]))


async def get_user_or_404(session: AsyncSession, principal: Principal, user_id: uuid.UUID,
                          ) -> UserAccount:
    """Return a user the caller manages, or 404 (never reveal that it exists elsewhere)."""
    stmt = select(UserAccount).where(UserAccount.id == user_id, visible_to(principal))
    user = (await session.exec(stmt.with_for_update())).one_or_none()
    if user is None:
        raise NotFound("No such user")
    return user


async def _flush_unique(session: AsyncSession, username: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Username '{username}' is taken") from exc


async def create_user(session: AsyncSession, principal: Principal, *, data: UserCreate,
                      check_school: SchoolCheck) -> UserAccount:
    """Create a user of a role and area the caller manages (a school user: of a school inside both)."""
    if not may_manage(principal, role=data.role, area_code=data.area_code):
        raise Forbidden(f"A {principal.role} user may not create a {data.role} user there")
    if data.school_code:
        await check_school(data.school_code, data.area_code)
    if await session.scalar(select(exists().where(UserAccount.username == data.username))):
        raise Conflict(f"Username '{data.username}' is taken")
    user = UserAccount(
        username=data.username, password_hash=await hash_password(data.password),
        role=data.role, area_code=data.area_code, school_code=data.school_code,
    )
    session.add(user)
    await _flush_unique(session, data.username)
    return user


async def revoke_refresh_tokens(session: AsyncSession, *, user_id: uuid.UUID, reason: str) -> None:
    """End every login of a user: its refresh tokens, and its access tokens through the revocation list."""
    families = await session.exec(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.expires_at > now())
        .values(revoked_at=func.coalesce(RefreshToken.revoked_at, now()))
        .returning(RefreshToken.family_id)
    )
    await revoke_sessions(session, families.scalars().all(), reason=reason)


async def update_user(session: AsyncSession, principal: Principal, *, user: UserAccount,
                      data: UserUpdate, if_match: str | None, check_school: SchoolCheck) -> UserAccount:
    """Change a user's password, area, school or disabled flag (optimistic version check)."""
    check_version(user.version, data.version, if_match)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    role = Role(user.role)
    area_code = changes.get("area_code", user.area_code)
    school_code = changes.get("school_code", user.school_code)
    if "area_code" in changes and (problem := area_problem(role, area_code or "")):
        raise Invalid(["area_code"], problem)
    if ("school_code" in changes or "area_code" in changes) and (
            problem := school_problem(role, school_code)):
        raise Invalid(["school_code"], problem)
    if not may_manage(principal, role=role, area_code=area_code):
        raise Forbidden("The new area is outside what you manage")
    if school_code and ("school_code" in changes or "area_code" in changes):
        await check_school(school_code, area_code)
    if changes.get("disabled") and str(user.id) == principal.sub:
        raise Invalid(["disabled"], "You cannot disable your own account")
    if changes.get("password") is not None:
        if problem := password_problem(changes["password"]):
            raise Invalid(["password"], problem)
        user.password_hash = await hash_password(changes["password"])
    user.area_code, user.school_code = area_code, school_code
    if changes.get("disabled") is not None:
        user.disabled = changes["disabled"]
    if changes.get("password") is not None or user.disabled:
        reason = "disabled" if user.disabled else "password_changed"
        await revoke_refresh_tokens(session, user_id=user.id, reason=reason)
    return await _touch(session, user)


async def set_disabled(session: AsyncSession, principal: Principal, *, user: UserAccount,
                       disabled: bool) -> UserAccount:
    """Disable (revoking its refresh tokens) or enable a user."""
    if disabled and str(user.id) == principal.sub:
        raise Invalid(["disabled"], "You cannot disable your own account")
    if not disabled:  # enabling also lifts login locks (documented), even of an account never disabled
        await clear_locks(session, username=user.username)
    if user.disabled == disabled:
        return user
    user.disabled = disabled
    if disabled:
        await revoke_refresh_tokens(session, user_id=user.id, reason="disabled")
    else:
        user.failed_logins, user.locked_until = 0, None
    return await _touch(session, user)


async def _touch(session: AsyncSession, user: UserAccount) -> UserAccount:
    user.version += 1
    user.updated_at = now()
    session.add(user)
    await session.flush()
    return user


async def bootstrap_admin(session: AsyncSession, settings: Settings) -> UserAccount | None:
    """Create the configured admin when no user exists yet; do nothing otherwise."""
    if not (settings.admin_username and settings.admin_password and settings.admin_area):
        return None
    if problem := area_problem(Role.admin, settings.admin_area):
        raise ValueError(f"NOL_ADMIN_AREA: {problem}")
    await session.exec(text("SELECT pg_advisory_xact_lock(:key)"),
                       params={"key": BOOTSTRAP_LOCK_KEY})
    if await session.scalar(select(exists().select_from(UserAccount))):
        return None
    if problem := password_problem(settings.admin_password):
        log.warning("bootstrap admin password is weak; change it", problem=problem)
    user = UserAccount(
        username=settings.admin_username, role=Role.admin, area_code=settings.admin_area,
        password_hash=await hash_password(settings.admin_password),
    )
    session.add(user)
    await session.flush()
    log.info("bootstrap admin created", username=user.username, area_code=user.area_code)
    return user
