"""`GET /api/v1/changes/disbursements`: the subsidy service's change feed (payment lines) for sync."""

import uuid

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select

from services.kit import changes
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.responses import problems
from services.subsidy.batches.models import Disbursement
from services.subsidy.batches.schemas import DisbursementPublic
from services.subsidy.batches.service import lines_visible_to

router = APIRouter(prefix="/api/v1/changes", tags=["change feeds"])
SCHEMA = "subsidy"
RESOURCES = ["disbursement"]


class DisbursementChange(changes.ChangeBase):
    item: DisbursementPublic | None = Field(default=None, description="upsert: the line now")


class DisbursementChanges(changes.ChangePageBase):
    items: list[DisbursementChange]


@router.get(
    "/disbursements",
    response_model=DisbursementChanges,
    summary="What changed in disbursements (sync)",
    description=changes.FEED_DESCRIPTION,
    responses=problems(422),
)
async def disbursement_changes(
    session: SessionDep,
    principal: CurrentPrincipal,
    cursor: changes.After = None,
    limit: changes.FeedLimit = 200,
) -> dict:
    async def render(entries: list[changes.Entry]) -> dict:
        ids = [e.id for e in entries]
        rows = await session.execute(
            select(Disbursement).where(Disbursement.id.in_(ids), lines_visible_to(principal))
        )
        out: dict[tuple[str, uuid.UUID], object] = {}
        for d in rows.scalars():
            out[("disbursement", d.id)] = DisbursementPublic.model_validate(d)
        return out

    return await changes.page(
        session,
        SCHEMA,
        resources=RESOURCES,
        scope=changes.scope_condition(principal),
        after=cursor,
        limit=limit,
        render=render,
    )
