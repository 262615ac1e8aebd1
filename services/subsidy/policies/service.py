"""Policies: created by admins and county users; a policy in use gets a new revision, never an edit."""

from sqlalchemy import exists, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.rls import within
from services.kit.versioning import check_version
from services.subsidy.batches.models import Batch
from services.subsidy.db import now
from services.subsidy.events import emit
from services.subsidy.policies.models import Policy
from services.subsidy.policies.schemas import PolicyCreate, PolicyPublic, PolicyUpdate

WRITERS = (Role.admin, Role.county)
FIELDS = ("name", "kind", "stages", "categories", "boarding_only", "non_boarders_only", "amount_fen", "years")


def visible_to(principal: Principal):
    """Policies whose area is inside the caller's area or contains it."""
    return or_(
        within(Policy.area_code, principal.area_code),
        literal(principal.area_code).startswith(Policy.area_code),
    )


def applies_in(area_code: str):
    """Policies in force in an area (the policy's area contains it)."""
    return literal(area_code).startswith(Policy.area_code)


async def get_policy_or_404(
    session: AsyncSession, principal: Principal, code: str, revision: int | None = None
) -> Policy:
    stmt = select(Policy).where(Policy.code == code, visible_to(principal))
    stmt = stmt.where(Policy.revision == revision) if revision else stmt.where(Policy.is_current)
    policy = (await session.execute(stmt)).scalar_one_or_none()
    if policy is None:
        raise NotFound(f"No policy {code}")
    return policy


async def policy_for_year(session: AsyncSession, code: str, year: int) -> Policy | None:
    """Return the newest revision of a policy whose years include `year` (amounts are date-effective)."""
    stmt = (
        select(Policy)
        .where(Policy.code == code, Policy.years.any(year))
        .order_by(Policy.revision.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def create_policy(session: AsyncSession, principal: Principal, *, data: PolicyCreate) -> Policy:
    """Create a policy for the caller's area (an admin: anywhere under its own)."""
    if principal.role not in WRITERS:
        raise Forbidden("Only admins and county users make policies")
    area = data.area_code or principal.area_code
    if not area.startswith(principal.area_code):
        raise Invalid(["area_code"], f"Area {area} is outside your area", code="out_of_scope")
    policy = Policy(
        code=data.code,
        area_code=area,
        created_by=principal.username,
        **data.model_dump(mode="json", include=set(FIELDS)),
    )
    session.add(policy)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A policy with code {data.code} already exists") from exc
    await emit_policy(session, policy, "created")
    return policy


async def in_use(session: AsyncSession, policy: Policy) -> bool:
    """Return whether any batch was generated under this revision."""
    return bool((await session.execute(select(exists().where(Batch.policy_id == policy.id)))).scalar())


async def update_policy(
    session: AsyncSession, principal: Principal, *, policy: Policy, data: PolicyUpdate, if_match: str | None
) -> Policy:
    """Change a policy: in place while unused, else as a new revision (old batches keep theirs)."""
    if principal.role not in WRITERS or not policy.area_code.startswith(principal.area_code):
        raise Forbidden("Only admins and county users of the policy's area change it")
    check_version(policy.version, data.version, if_match)
    changes = {k: v for k, v in data.model_dump(mode="json", exclude_unset=True).items() if k != "version"}
    if any(v is None for v in changes.values()):
        raise Invalid([next(k for k, v in changes.items() if v is None)], "may not be null")
    merged = {k: getattr(policy, k) for k in FIELDS} | changes
    if merged["boarding_only"] and merged["non_boarders_only"]:
        raise Invalid(["non_boarders_only"], "boarding_only and non_boarders_only exclude each other")
    if await in_use(session, policy):
        policy.is_current = False
        session.add(policy)
        await session.flush()
        policy = Policy(
            code=policy.code,
            revision=policy.revision + 1,
            area_code=policy.area_code,
            created_by=principal.username,
            version=policy.version + 1,
            **merged,
        )
        what = "versioned"
    else:
        for key, value in changes.items():
            setattr(policy, key, value)
        policy.version += 1
        policy.updated_at = now()
        what = "updated"
    session.add(policy)
    await session.flush()
    await emit_policy(session, policy, what)
    return policy


async def emit_policy(session: AsyncSession, policy: Policy, what: str) -> None:
    data = {k: getattr(policy, k) for k in ("code", "revision", "area_code", *FIELDS)} | {
        "id": str(policy.id)
    }
    await emit(
        session,
        f"edu.subsidy.policy.{what}",
        subject=policy.code,
        area_code=policy.area_code,
        version=policy.version,
        data=data,
    )


def to_public(policy: Policy) -> PolicyPublic:
    return PolicyPublic.model_validate(
        {k: getattr(policy, k) for k in PolicyPublic.model_fields if k != "current"}
        | {"current": policy.is_current}
    )
