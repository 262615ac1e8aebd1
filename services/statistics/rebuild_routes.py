from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import text

from services.kit.auth import CurrentPrincipal, Principal, Role
from services.kit.consumer import pending
from services.kit.db import SessionDep
from services.kit.errors import Forbidden, Unavailable
from services.kit.responses import problems
from services.kit.rls import as_system
from services.kit.service import replay
from services.statistics.facts.consumers import clear_projections

router = APIRouter(prefix="/api/v1/stats/rebuild", tags=["statistics"])
CONSUMER = "statistics"
# A rebuild replays the whole stream for every area, so only an admin of the whole deployment may ask:
# one whose area is a province (2 digits, like the bootstrap admin's NOL_ADMIN_AREA) or wider.
# County, township and village admins manage their area's users, not the deployment.
DEPLOYMENT_WIDE = 2


async def deployment_admin(principal: CurrentPrincipal) -> Principal:
    """Admit only an admin whose area spans the deployment (a province code or shorter)."""
    if principal.role is not Role.admin or len(principal.area_code) > DEPLOYMENT_WIDE:
        raise Forbidden("Only a deployment-wide admin (area of 2 digits or fewer) may rebuild the figures")
    return principal


Admin = Annotated[Principal, Depends(deployment_admin)]


@router.post(
    "", status_code=202, summary="Rebuild the projections from the event stream", responses=problems(403)
)
async def rebuild(request: Request, principal: Admin) -> dict:
    """Empty the projections and replay every event from the start of the stream (deployment-wide admin)."""
    await replay(request.app, CONSUMER, clear=clear_projections)
    return {"status": "replaying", "requested_by": principal.username}


@router.post(
    "/rollups",
    summary="Recompute the figures' rollups from the projections",
    responses={
        200: {"content": {"application/json": {"example": {"status": "recomputed"}}}},
        **problems(403),
    },
)
async def rebuild_rollups(session: SessionDep, principal: Admin) -> dict:
    """Recompute every rollup the subsidy and enrollment figures read (payment and enrollment cells,
    members, persons, households) from the facts, set-wise, in one transaction (deployment-wide admin).
    The triggers on the facts keep them in step anyway; this repairs them after a manual change of the
    facts. Writers of the facts wait for it; readers do not."""
    async with as_system(session):
        await session.execute(text("SELECT statistics.rebuild_rollups()"))
    return {"status": "recomputed", "requested_by": principal.username}


@router.get("", summary="Progress of a rebuild", responses=problems(403))
async def rebuild_progress(request: Request, _: Admin) -> dict:
    """How many events the projections are behind the stream (0 pending = caught up)."""
    return await _progress(request)


async def _progress(request: Request) -> dict:
    js = getattr(request.app.state, "js", None)
    if js is None:
        raise Unavailable("The event stream is not connected yet")
    try:
        return await pending(js, request.app.state.settings, CONSUMER)
    except Exception as exc:
        raise Unavailable("The consumer is being recreated; try again shortly") from exc
