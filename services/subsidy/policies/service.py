"""Policies: created by admins and county users; a policy in use gets a new revision, never an edit."""

from sqlalchemy import exists, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.rls import within
from services.kit.versioning import check_version
from services.subsidy.batches.models import Batch
from services.subsidy.db import now
from services.subsidy.domain import current_semester
from services.subsidy.events import emit
from services.subsidy.policies import rules as R
from services.subsidy.policies.models import Policy
from services.subsidy.policies.schemas import PolicyCreate, PolicyPublic, PolicyUpdate

WRITERS = (Role.admin, Role.county)
FIELDS = ("name", "kind", "stages", "categories", "boarding_only", "non_boarders_only", "min_hardship_level")
# Years stored for the `year` filter: an open-ended rule counts through the last year a semester may name.
STORED_OPEN_UNTIL = 2100


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


async def policy_for_semester(session: AsyncSession, code: str, semester: str) -> Policy | None:
    """Return the newest revision of a policy with a rule in force in `semester` (amounts are dated)."""
    year = int(semester[:4])
    stmt = select(Policy).where(Policy.code == code, Policy.years.any(year)).order_by(Policy.revision.desc())
    for policy in (await session.execute(stmt)).scalars():
        if R.in_force(policy.rules, semester):
            return policy
    return None


def _derived(rules: list[dict]) -> dict:
    """The columns old clients read, derived from the rules."""
    return {
        "rules": rules,
        "amount_fen": R.headline_amount(rules, current_semester()),
        "years": R.years_of(rules, open_until=STORED_OPEN_UNTIL),
    }


async def create_policy(session: AsyncSession, principal: Principal, *, data: PolicyCreate) -> Policy:
    """Create a policy for the caller's area (an admin: anywhere under its own)."""
    if principal.role not in WRITERS:
        raise Forbidden("Only admins and county users make policies")
    area = data.area_code or principal.area_code
    if not area.startswith(principal.area_code):
        raise Invalid(["area_code"], f"Area {area} is outside your area", code="out_of_scope")
    rules = R.stored(data.rules) if data.rules else R.legacy_rules(data.years or [], data.amount_fen or 0)
    policy = Policy(
        code=data.code,
        area_code=area,
        created_by=principal.username,
        **data.model_dump(mode="json", include=set(FIELDS)),
        **_derived(rules),
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
    changes = {
        k: v
        for k, v in data.model_dump(mode="json", exclude_unset=True).items()
        if k not in ("version", "rules", "amount_fen", "years")
    }
    if any(v is None and k != "min_hardship_level" for k, v in changes.items()):
        raise Invalid([next(k for k, v in changes.items() if v is None)], "may not be null")
    changes |= _rules_change(policy, data)
    merged = {k: getattr(policy, k) for k in (*FIELDS, "rules", "amount_fen", "years")} | changes
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


def _rules_change(policy: Policy, data: PolicyUpdate) -> dict:
    """New rules from `rules`, or (old clients) from `amount_fen` / `years` of a flat policy."""
    if data.rules is not None:
        return _derived(R.stored(data.rules))
    if data.amount_fen is None and data.years is None:
        return {}
    if not R.is_legacy(policy.rules):
        field = "amount_fen" if data.amount_fen is not None else "years"
        raise Invalid([field], "This policy has dated rules: change its `rules` instead", code="has_rules")
    years = data.years or R.years_of(policy.rules, open_until=STORED_OPEN_UNTIL)
    amount = data.amount_fen or policy.rules[0]["amount_fen"]
    return _derived(R.legacy_rules(years, amount))


async def emit_policy(session: AsyncSession, policy: Policy, what: str) -> None:
    public = to_public(policy)
    data = {k: getattr(policy, k) for k in ("code", "revision", "area_code", *FIELDS)} | {
        "id": str(policy.id),
        "amount_fen": public.amount_fen,
        "years": public.years,
        "rules": policy.rules,
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
    rules = policy.rules
    computed = {
        "current": policy.is_current,
        "rules": R.public(rules),
        "amount_fen": R.headline_amount(rules, current_semester()) if rules else policy.amount_fen,
        "years": R.years_of(rules, open_until=calendar.today().year + 1) if rules else policy.years,
    }
    return PolicyPublic.model_validate(
        {k: getattr(policy, k) for k in PolicyPublic.model_fields if k not in computed} | computed
    )
