import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response
from sqlalchemy import func, select

from services.contracts.calendar import today
from services.dropout.students.models import Student
from services.dropout.support import figures, service
from services.dropout.support.models import Campaign, Pairing, SupportRecord
from services.dropout.support.schemas import (
    CampaignCreate,
    CampaignPublic,
    PairingCreate,
    PairingPublic,
    PairingUpdate,
    RecordCreate,
    RecordPublic,
    SupportRate,
)
from services.dropout.support.service import CAMPAIGN_MAKERS
from services.kit.auth import STAFF, Principal, require
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.kit.errors import NotFound
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.kit.versioning import IfMatch

router = APIRouter(prefix="/api/v1/support", tags=["support (帮扶)"])
Staff = Annotated[Principal, Depends(require(*STAFF))]
CampaignMaker = Annotated[Principal, Depends(require(*CAMPAIGN_MAKERS))]
AreaCode = Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")]
PAIRING_EXAMPLES = {
    "teacher": {
        "summary": "A teacher of ours",
        "value": {
            "student_id": "0b8e3c52-5d7e-4c1e-9a51-3f0f6f1d2a10",
            "helper": {"username": "teacher_wang", "title": "班主任"},
            "plan": "每周电话联系，每月家访一次，辅导数学",
        },
    },
    "cadre": {
        "summary": "A village cadre without a login",
        "value": {
            "student_id": "0b8e3c52-5d7e-4c1e-9a51-3f0f6f1d2a10",
            "helper": {"name": "李建军", "phone": "13800000000", "title": "驻村工作队员"},
            "since": "2026-09-01",
        },
    },
}
RECORD_EXAMPLES = {
    "visit": {
        "value": {
            "kind": "home_visit",
            "occurred_at": "2026-12-05T10:00:00+08:00",
            "note": "入户走访，了解家庭情况",
            "evidence": ["ev_3f9a1c"],
        }
    }
}


async def _last(session, ids: list[uuid.UUID]) -> dict:
    if not ids:
        return {}
    visit = SupportRecord.kind == "home_visit"
    rows = await session.execute(
        select(
            SupportRecord.pairing_id,
            func.max(SupportRecord.occurred_at),
            func.max(SupportRecord.occurred_at).filter(visit),
        )
        .where(SupportRecord.pairing_id.in_(ids))
        .group_by(SupportRecord.pairing_id)
    )
    return {r[0]: (r[1], r[2]) for r in rows.all()}


async def _public(session, pairs: list[tuple[Pairing, Student]]) -> list[PairingPublic]:
    last = await _last(session, [p.id for p, _ in pairs])
    on = today()
    return [
        PairingPublic.model_validate(
            p.model_dump()
            | {
                "student_name": s.name,
                "school_code": s.school_code,
                "village_code": s.village_code,
                "active": service.active_on(p, on),
                "last_contact_at": last.get(p.id, (None, None))[0],
                "last_home_visit_at": last.get(p.id, (None, None))[1],
            }
        )
        for p, s in pairs
    ]


@router.get("/pairings", response_model=Page[PairingPublic], summary="List pairings (结对帮扶)")
async def list_pairings(
    session: SessionDep,
    principal: Staff,
    limit: Limit = 50,
    cursor: Cursor = None,
    student_id: uuid.UUID | None = None,
    helper_username: Annotated[str | None, Query(max_length=100)] = None,
    area_code: AreaCode = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    active: bool | None = None,
    updated_since: UpdatedSince = None,
):
    """Pairings of the children in the caller's scope (and the caller's own as helper), oldest change
    first."""
    stmt = service.in_scope(principal)
    filters = {
        Pairing.student_id: student_id,
        Pairing.helper_username: helper_username,
        Pairing.school_code: school_code,
    }
    stmt = stmt.where(*(col == value for col, value in filters.items() if value is not None))
    if area_code:
        stmt = stmt.where(within(Pairing.area_code, area_code))
    if active is not None:
        on = today()
        running = (Pairing.since <= on) & (Pairing.until.is_(None) | (Pairing.until >= on))
        stmt = stmt.where(running if active else ~running)
    if updated_since:
        stmt = stmt.where(Pairing.updated_at >= updated_since)
    page = await paginate(
        session, stmt, order_by=[Pairing.updated_at, Pairing.id], limit=limit, cursor=cursor,
        key=lambda r: [r[0].updated_at, r[0].id], to_item=tuple,
    )  # fmt: skip
    page["items"] = await _public(session, page["items"])
    return page


@router.post(
    "/pairings", status_code=201, response_model=PairingPublic, summary="Pair a child with a helper",
    responses=problems(403, 409),
)  # fmt: skip
async def create_pairing(
    session: SessionDep,
    principal: Staff,
    data: Annotated[PairingCreate, Body(openapi_examples=PAIRING_EXAMPLES)],
) -> PairingPublic:
    """Give a child in the caller's scope a helper: a user of ours (`helper.username`; the tasks go to
    that user) or a named person with a phone (the tasks go to the cadres of the child's village). One
    active pairing per child (409 otherwise). The helper is due to contact the child every
    NOL_SUPPORT_CONTACT_EVERY_DAYS (7) and visit its home every NOL_SUPPORT_VISIT_EVERY_DAYS (30) days:
    each is an open task in `GET /api/v1/tasks` (`support_contact`, `support_home_visit`)."""
    return (await _public(session, [await service.create_pairing(session, principal, data=data)]))[0]


@router.get(
    "/pairings/{pairing_id}", response_model=PairingPublic, summary="Read a pairing", responses=problems(404)
)
async def read_pairing(pairing_id: uuid.UUID, session: SessionDep, principal: Staff) -> PairingPublic:
    return (await _public(session, [await service.pairing_or_404(session, principal, pairing_id)]))[0]


@router.patch(
    "/pairings/{pairing_id}", response_model=PairingPublic, summary="Change or end a pairing",
    responses=problems(403, 404, 409),
)  # fmt: skip
async def update_pairing(
    pairing_id: uuid.UUID,
    data: PairingUpdate,
    session: SessionDep,
    principal: Staff,
    if_match: IfMatch = None,
) -> PairingPublic:
    """Set the plan or the phone, or end the pairing (`until`; its open tasks are then done)."""
    pair = await service.update_pairing(
        session, principal, pairing_id=pairing_id, data=data, if_match=if_match
    )
    return (await _public(session, [pair]))[0]


@router.get(
    "/pairings/{pairing_id}/records", response_model=Page[RecordPublic], summary="The helper's records",
    responses=problems(404),
)  # fmt: skip
async def list_records(
    pairing_id: uuid.UUID, session: SessionDep, principal: Staff, limit: Limit = 50, cursor: Cursor = None
):
    """The pairing's record (纪实手册), oldest first."""
    await service.pairing_or_404(session, principal, pairing_id)
    stmt = select(SupportRecord).where(SupportRecord.pairing_id == pairing_id)
    return await paginate(
        session, stmt, order_by=[SupportRecord.occurred_at, SupportRecord.id], limit=limit, cursor=cursor,
        key=lambda r: [r.occurred_at, r.id], to_item=RecordPublic.model_validate,
    )  # fmt: skip


@router.post(
    "/pairings/{pairing_id}/records", status_code=201, response_model=RecordPublic,
    summary="Record a contact, home visit, tutoring or help",
    responses={200: {"model": RecordPublic, "description": "Already recorded under this client id"},
               **problems(403, 404, 409)},
)  # fmt: skip
async def create_record(
    pairing_id: uuid.UUID,
    session: SessionDep,
    principal: Staff,
    data: Annotated[RecordCreate, Body(openapi_examples=RECORD_EXAMPLES)],
    response: Response,
) -> SupportRecord:
    """Add an entry to the helper's record (village users: for children of their village). Every entry
    counts as a contact; a `home_visit` also as the month's visit. `evidence` lists evidence file ids
    (photos, scans) stored with the entry. Offline apps send their own `id` (a UUID): the same entry
    sent again answers 200 with the stored one; other content under that id is 409 `id_conflict`."""
    record, replayed = await service.add_record(session, principal, pairing_id=pairing_id, data=data)
    if replayed:
        response.status_code = 200
    return record


@router.get("/campaigns", response_model=Page[CampaignPublic], summary="List visit months (集中走访月)")
async def list_campaigns(
    session: SessionDep,
    principal: Staff,
    limit: Limit = 50,
    cursor: Cursor = None,
    area_code: AreaCode = None,
    month: Annotated[str | None, Query(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")] = None,
):
    """Visit months of the caller's area, of areas inside it and of areas containing it."""
    stmt = select(Campaign).where(service.campaign_scope(principal))
    if area_code:
        stmt = stmt.where(within(Campaign.area_code, area_code))
    if month:
        stmt = stmt.where(Campaign.month == month)
    return await paginate(
        session, stmt, order_by=[Campaign.updated_at, Campaign.id], limit=limit, cursor=cursor,
        key=lambda c: [c.updated_at, c.id], to_item=CampaignPublic.model_validate,
    )  # fmt: skip


@router.post(
    "/campaigns", status_code=201, response_model=CampaignPublic, summary="Set a visit month for an area",
    responses=problems(403, 409),
)  # fmt: skip
async def create_campaign(
    session: SessionDep,
    principal: CampaignMaker,
    data: Annotated[
        CampaignCreate,
        Body(openapi_examples={"month": {"value": {"area_code": "610928", "month": "2026-12"}}}),
    ],
) -> Campaign:
    """A visit month (集中走访月) for an area inside the caller's (county, township, admin)."""
    return await service.create_campaign(session, principal, data=data)


@router.get(
    "/campaigns/{campaign_id}", response_model=CampaignPublic, summary="A visit month with its coverage",
    responses=problems(404, 503),
)  # fmt: skip
async def read_campaign(
    campaign_id: uuid.UUID, fresh: FreshProjection, session: SessionDep, principal: Staff
) -> CampaignPublic:
    """`coverage`: children of poor households in the area (as for 受扶持率) visited at home during the
    month — by their helper or on a case — among those the caller sees."""
    campaign = await service.campaign_or_404(session, principal, campaign_id)
    on = min(today(), figures.last_day(campaign.month))
    cover = await figures.coverage(session, principal, area=campaign.area_code, month=campaign.month, on=on)
    return CampaignPublic.model_validate(campaign.model_dump() | {"coverage": cover, "as_of": fresh.public()})


@router.get("/rate", response_model=SupportRate, summary="受扶持率 of an area", responses=problems(404, 503))
async def support_rate(
    fresh: FreshProjection, session: SessionDep, principal: Staff, area_code: AreaCode = None
) -> dict:
    """Children of poor households (aid categories non-empty) who are enrolled or of compulsory age, in
    an area inside the caller's (default its own; by the household's village or the school's area),
    with a pairing active today, ÷ all of them. School users count their school's children, village
    users their village's."""
    area = area_code or principal.area_code
    if not principal.covers_area(area):
        raise NotFound("No such area in your scope")
    return await figures.support_rate(session, principal, area=area, on=today()) | {"as_of": fresh.public()}
