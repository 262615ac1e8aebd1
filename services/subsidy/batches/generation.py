"""Generate a batch's lines and exclusions in SQL: every student of the school, paid or told why not."""

from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.vocabulary import ONE_OFF_POLICY_KINDS, Stage
from services.kit.rls import as_system
from services.subsidy.batches import items
from services.subsidy.batches.categories import categories_at
from services.subsidy.batches.models import Batch, Disbursement, Exclusion
from services.subsidy.domain import AT_SCHOOL, REASONS
from services.subsidy.elsewhere.models import AidElsewhere
from services.subsidy.events import emit_lines
from services.subsidy.policies.models import Policy
from services.subsidy.projection.models import StudentFact

S = StudentFact.__table__.c
D = Disbursement.__table__.c
LIVE = D.status != "cancelled"
# Literal SQL: a bound parameter here defeats the partial index inference once plans turn generic.
LIVE_INDEX = text("status <> 'cancelled' AND repays_id IS NULL")
ELSEWHERE = AidElsewhere.__table__.c
SPECIAL_AS = {Stage.primary.value: (1, 6), Stage.junior.value: (7, 9)}


def _array(values: list[str]):
    return cast(values, ARRAY(String(30)))


def reason_of(policy: Policy, semester: str) -> ColumnElement:
    """SQL: the first rule of a policy revision a projected student fails in a semester, else NULL.

    The one statement of eligibility: `eligible()` admits exactly the students this returns NULL
    for, so a student is either in the batch or excluded with the reason that kept it out.
    Categories are the student's in that semester (batches.categories: dated household statuses);
    the policy's gate admits an approved hardship level too (batches.items.qualification). Last,
    one of the policy's rules in force must set the child's amount (`no_rule`); a one-off item
    already given for the stage, with no other rule left, is `already_paid`.
    """
    whens = [
        (func.coalesce(S.status.not_in(AT_SCHOOL), true()), "status"),
        (not_(func.coalesce(_stage_ok(policy), false())), "stage"),
    ]
    gate = items.qualification(policy, semester)
    if gate is not None:
        whens.append((not_(gate[0]), gate[1]))
    if policy.boarding_only:
        whens.append((func.coalesce(S.boarding, false()).is_(false()), "boarding"))
    if policy.non_boarders_only:
        whens.append((func.coalesce(S.boarding, false()).is_(true()), "boarding"))
    if policy.kind in ONE_OFF_POLICY_KINDS:
        whens.append((_one_off_paid(policy, semester), "already_paid"))
    # Aid of the same kind and semester paid by another county or province covers the child (区域外).
    elsewhere = select(ELSEWHERE.id).where(
        ELSEWHERE.student_id == S.student_id,
        ELSEWHERE.policy_kind == policy.kind,
        ELSEWHERE.semester == semester,
    )
    whens.append((elsewhere.exists(), "paid_elsewhere"))
    if items.has_one_off(policy, semester):
        whens.append((items.item_of(policy, semester, given=False).is_(None), "no_rule"))
        whens.append((items.item_of(policy, semester).is_(None), "already_paid"))
    else:
        whens.append((items.item_of(policy, semester).is_(None), "no_rule"))
    return case(*whens, else_=None)


def _stage_ok(policy: Policy) -> ColumnElement:
    """SQL: the student's stage is the policy's (batches.items.stage_ok: special schools' grades)."""
    return items.stage_ok(policy.stages)


def _one_off_paid(policy: Policy, semester: str) -> ColumnElement:
    """SQL: a one-off aid (新生入学资助) of this kind was already given to the student for its stage."""
    other = Disbursement.__table__.alias("one_off")
    return (
        select(other.c.id)
        .where(
            other.c.student_id == S.student_id,
            other.c.policy_kind == policy.kind,
            other.c.stage == S.stage,
            other.c.status != "cancelled",
            or_(other.c.semester != semester, other.c.policy_code != policy.code),
        )
        .exists()
    )


def eligible(policy: Policy, semester: str) -> list[ColumnElement]:
    """SQL conditions for a projected student to be eligible for a policy revision: no reason against."""
    return [reason_of(policy, semester).is_(None)]


def _reason_text(code: ColumnElement) -> ColumnElement:
    return case(*[(code == k, v) for k, v in REASONS.items()], else_=code)


def _snapshot(batch: Batch, policy: Policy) -> dict:
    """Line columns taken from the student projection at generation time (the item, not yet what
    it pays: `items.by_item`)."""
    return {
        "student_name": S.name,
        "id_number_masked": S.id_number_masked,
        "household_id": S.household_id,
        "village_code": S.village_code,
        "stage": S.stage,
        "grade": S.grade,
        "boarding": S.boarding,
        "categories": categories_at(batch.semester),
        "item": items.item_of(policy, batch.semester),
        "hardship_level": items.hardship_level(batch.semester),
        "policy_id": literal(policy.id),
    }


async def cancel_lines(session: AsyncSession, *where: ColumnElement, reason: str) -> int:
    """Cancel the live lines matching `where` (never paid ones), with the reason; one event per line."""
    ids = (
        (
            await session.execute(
                update(Disbursement.__table__)
                .where(*where, LIVE, D.status != "paid")
                .values(
                    status="cancelled", removed_reason=reason, version=D.version + 1, updated_at=func.now()
                )
                .returning(D.id)
            )
        )
        .scalars()
        .all()
    )
    if ids:
        await emit_lines(session, "edu.subsidy.disbursement.cancelled", D.id.in_(ids))
    return len(ids)


async def clear(session: AsyncSession, batch: Batch) -> None:
    """Drop what an earlier generation made (unpaid draft or rejected lines; back-pay lines return)."""
    own = and_(D.batch_id == batch.id, D.status.in_(("draft", "rejected")))
    if batch.kind == "back_pay":
        await session.execute(
            update(Disbursement.__table__).where(own).values(batch_id=None, status="proposed")
        )
    else:
        await session.execute(delete(Disbursement.__table__).where(own))
    await session.execute(delete(Exclusion.__table__).where(Exclusion.batch_id == batch.id))


def _proposals(batch: Batch) -> list[ColumnElement]:
    return [
        D.status == "proposed",
        D.batch_id.is_(None),
        D.school_code == batch.school_code,
        D.policy_code == batch.policy_code,
        D.semester == batch.semester,
    ]


async def absorb_proposals(session: AsyncSession, batch: Batch, policy: Policy) -> None:
    """Put pending back-pay proposals of the batch's school, policy and semester into it, or drop them."""
    await session.execute(
        update(Disbursement.__table__)
        .where(*_proposals(batch), S.student_id == D.student_id, S.school_code == batch.school_code)
        .where(*eligible(policy, batch.semester))
        .values(
            batch_id=batch.id,
            status="draft",
            kind=batch.kind,
            version=D.version + 1,
            updated_at=func.now(),
            **_snapshot(batch, policy),
            **items.by_item(policy, batch.semester, items.item_of(policy, batch.semester)),
        )
    )
    # Proposals no longer eligible (left the school, lost the status) are cancelled, with the reason.
    why = func.coalesce(reason_of(policy, batch.semester), "not_eligible")
    stale = select(D.student_id, D.student_name, why.label("r"))
    stale = stale.select_from(
        Disbursement.__table__.outerjoin(StudentFact.__table__, S.student_id == D.student_id)
    ).where(*_proposals(batch))
    if batch.kind == "back_pay":
        stale = stale.subquery()
        await session.execute(
            insert(Exclusion.__table__)
            .from_select(
                ["batch_id", "student_id", "student_name", "reason", "reason_text"],
                select(literal(batch.id), stale.c.student_id, stale.c.student_name, stale.c.r,
                       _reason_text(stale.c.r)),
            )
            .on_conflict_do_nothing()
        )  # fmt: skip
    await cancel_lines(session, *_proposals(batch), reason=REASONS["not_eligible"])


async def insert_lines(session: AsyncSession, batch: Batch, policy: Policy) -> None:
    """Insert a line for every eligible student of the school without a live line elsewhere."""
    other_live = select(D.id).where(
        D.student_id == S.student_id, D.policy_code == batch.policy_code, D.semester == batch.semester, LIVE
    )
    removed_here = select(D.id).where(
        D.student_id == S.student_id, D.batch_id == batch.id, D.status == "cancelled"
    )
    snap = _snapshot(batch, policy)
    cols = {
        "batch_id": literal(batch.id),
        "kind": literal(batch.kind),
        "student_id": S.student_id,
        "school_code": literal(batch.school_code),
        "area_code": literal(batch.area_code),
        "policy_code": literal(batch.policy_code),
        "policy_kind": literal(policy.kind),
        "semester": literal(batch.semester),
        "status": literal("draft"),
        **snap,
    }
    # Constants stay outside the subquery (PostgreSQL would read their parameters as text there).
    computed = {name: value for name, value in cols.items() if not isinstance(value, BindParameter)}
    chosen = (
        select(*[value.label(name) for name, value in computed.items()])
        .where(
            S.school_code == batch.school_code,
            *eligible(policy, batch.semester),
            ~other_live.exists(),
            ~removed_here.exists(),
        )
        .subquery("chosen")
    )
    # What the item pays, read from the chosen rows' item (the rules are matched once per student).
    paid = items.by_item(policy, batch.semester, chosen.c.item)
    source = select(*[chosen.c[n] if n in computed else v for n, v in cols.items()], *paid.values())
    stmt = insert(Disbursement.__table__).from_select([*cols, *paid], source)
    # A concurrent batch elsewhere may take the student first: the unique index decides. Under the
    # one snapshot (REPEATABLE READ) a line committed after it began is a serialization failure,
    # answered 409 `concurrent_change` with nothing saved (kit.errors): the clerk simply asks again.
    stmt = stmt.on_conflict_do_nothing(
        index_elements=["student_id", "policy_code", "semester"], index_where=LIVE_INDEX
    )
    await session.execute(stmt)


async def insert_exclusions(session: AsyncSession, batch: Batch, policy: Policy) -> None:
    """Record, for every other student of the school, why they are not in the batch."""
    here = select(D.id).where(D.student_id == S.student_id, D.batch_id == batch.id, LIVE)
    removed_here = select(D.id).where(
        D.student_id == S.student_id, D.batch_id == batch.id, D.status == "cancelled"
    )
    other = (
        select(D.batch_id, D.school_code, D.status)
        .where(
            D.student_id == S.student_id,
            D.policy_code == batch.policy_code,
            D.semester == batch.semester,
            LIVE,
            or_(D.batch_id.is_(None), D.batch_id != batch.id),
        )
        .limit(1)
        .lateral("other")
    )
    # Eligible students without a line here are those another live line holds (the same snapshot
    # that inserted the lines: nobody can be eligible here, unlisted and held nowhere).
    reason = case(
        (removed_here.exists(), "objection"),
        else_=func.coalesce(
            reason_of(policy, batch.semester),
            case((other.c.status == "paid", "already_paid"), else_="already_in_batch"),
        ),
    )
    source = (
        select(
            literal(batch.id),
            S.student_id,
            S.name,
            reason.label("reason"),
            _reason_text(reason).label("reason_text"),
            other.c.batch_id,
            other.c.school_code,
            other.c.status,
        )
        .select_from(StudentFact.__table__.outerjoin(other, true()))
        .where(S.school_code == batch.school_code, ~here.exists())
    )
    await session.execute(
        insert(Exclusion.__table__).from_select(
            [
                "batch_id",
                "student_id",
                "student_name",
                "reason",
                "reason_text",
                "other_batch_id",
                "other_school_code",
                "other_status",
            ],
            source,
        )
    )


async def refresh_totals(session: AsyncSession, batch: Batch) -> None:
    """Recount the batch's live lines, total and exclusions (exact integer fen)."""
    lines, total = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(D.amount_fen), 0)).where(D.batch_id == batch.id, LIVE)
        )
    ).one()
    excluded = (
        await session.execute(select(func.count()).where(Exclusion.__table__.c.batch_id == batch.id))
    ).scalar_one()
    batch.line_count, batch.total_fen, batch.excluded_count = lines, int(total), excluded


async def generate(session: AsyncSession, batch: Batch, policy: Policy) -> None:
    """(Re)generate a batch from the projection as it is now.

    Callers run it in one REPEATABLE READ snapshot taken after the barrier (kit.db's
    SnapshotSessionDep): lines and exclusions are read from the same students.
    """
    # The batch is in the caller's scope; whether its students have a live line elsewhere (another
    # school, another county) is a look across scopes on purpose (kit.rls): a line the caller
    # cannot see must still keep the student out, and be named in the exclusions.
    async with as_system(session):
        await clear(session, batch)
        await absorb_proposals(session, batch, policy)
        if batch.kind == "regular":
            await insert_lines(session, batch, policy)
            await insert_exclusions(session, batch, policy)
        await refresh_totals(session, batch)
