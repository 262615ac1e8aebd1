"""`GET /api/v1/tasks`: the caller's to-dos from every service that has some, merged for a phone."""

import asyncio
from datetime import date
from typing import Annotated, Any, Literal

import httpx
import structlog
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api_gateway.routing import check_route_access
from services.kit.errors import Unauthorized, Unavailable
from services.kit.responses import problems

log = structlog.get_logger()
router = APIRouter(prefix="/api/v1", tags=["tasks"])
SOURCES = {"dropout": "/api/v1/tasks", "subsidy": "/api/v1/subsidy/tasks"}


async def _fetch(request: Request, service: str, path: str, params: list) -> list[dict[str, Any]] | None:
    client: httpx.AsyncClient = request.app.state.http
    url = request.app.state.settings.service_url(service) + path
    headers = {k: v for k, v in request.headers.items() if k in ("authorization", "x-request-id")}
    try:
        outgoing = request.app.state.keyring.sign(client.build_request("GET", url, headers=headers,
                                                                        params=params))
        resp = await client.send(outgoing)
    except httpx.HTTPError as exc:
        log.warning("tasks source unavailable", service=service, error=repr(exc))
        return None
    if resp.status_code == 404:
        return []
    if resp.status_code != 200:
        log.warning("tasks source failed", service=service, status=resp.status_code)
        return None
    body = resp.json()
    items = body.get("items", []) if isinstance(body, dict) else body
    return [{**item, "source": service} for item in items]


class MergedTask(BaseModel):
    """A to-do of one service; the fields besides these are the service's own (see its task list)."""

    model_config = ConfigDict(extra="allow")

    source: Literal["dropout", "subsidy"] = Field(description="The service the task comes from")
    kind: str
    title: str
    due_on: date


class MergedTasks(BaseModel):
    items: list[MergedTask]
    next_cursor: None = Field(default=None, description="Always null: the merged list is not paged")
    unavailable: list[str] = Field(description="Services that could not be asked; their tasks are missing")


@router.get(
    "/tasks",
    response_model=MergedTasks,
    summary="What the caller has to do now (all services)",
    responses=problems(403),
)
async def tasks(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many, soonest first")] = 100,
):
    """Merge the dropout and subsidy to-dos, soonest due first; `unavailable` names a source that failed."""
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:
        raise Unauthorized()
    check_route_access(principal, "GET", "/api/v1/tasks")
    # Every filter goes to every source (each ignores what it does not know); cursors are per source.
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    results = await asyncio.gather(*(_fetch(request, s, p, params) for s, p in SOURCES.items()))
    failed = [s for s, r in zip(SOURCES, results, strict=True) if r is None]
    if len(failed) == len(SOURCES):
        raise Unavailable("No service could list tasks; try again shortly")
    items = [item for r in results if r for item in r]
    items.sort(key=lambda t: (t.get("due_on") or "9999-12-31", t.get("kind") or ""))
    return {"items": items[:limit], "next_cursor": None, "unavailable": failed}
