"""`GET /api/v1/tasks`: the caller's to-dos from every service that has some, merged for a phone."""

import asyncio
import base64
import binascii
import json
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import httpx
import structlog
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api_gateway.routing import check_route_access
from services.kit.errors import Invalid, Unauthorized, Unavailable
from services.kit.pagination import encode_cursor
from services.kit.responses import problems

log = structlog.get_logger()
router = APIRouter(prefix="/api/v1", tags=["tasks"])
SOURCES = {"dropout": "/api/v1/tasks", "subsidy": "/api/v1/subsidy/tasks"}


# The query parameters each source declares (a source refuses others with 422).
PARAMS = {
    "dropout": ("limit", "cursor", "status", "kind", "student_id", "case_id", "updated_since"),
    "subsidy": ("on",),
}
LAST = "ffffffff-ffff-ffff-ffff-ffffffffffff"  # after every dropout task of a day


async def _fetch(
    request: Request, service: str, path: str, params: list
) -> tuple[list[dict[str, Any]], str | None] | None:
    client: httpx.AsyncClient = request.app.state.http
    url = request.app.state.settings.service_url(service) + path
    headers = {k: v for k, v in request.headers.items() if k in ("authorization", "x-request-id")}
    params = [(k, v) for k, v in params if k in PARAMS[service]]
    try:
        outgoing = request.app.state.keyring.sign(
            client.build_request("GET", url, headers=headers, params=params)
        )
        resp = await client.send(outgoing)
    except httpx.HTTPError as exc:
        log.warning("tasks source unavailable", service=service, error=repr(exc))
        return None
    if resp.status_code == 404:
        return [], None
    if resp.status_code != 200:
        log.warning("tasks source failed", service=service, status=resp.status_code)
        return None
    body = resp.json()
    if not isinstance(body, dict):
        body = {"items": body}
    return [{**item, "source": service} for item in body.get("items", [])], body.get("next_cursor")


class MergedTask(BaseModel):
    """A to-do of one service; the fields besides these are the service's own (see its task list)."""

    model_config = ConfigDict(extra="allow")

    source: Literal["dropout", "subsidy"] = Field(description="The service the task comes from")
    kind: str
    title: str
    due_on: date


class MergedTasks(BaseModel):
    items: list[MergedTask]
    next_cursor: str | None = Field(
        default=None, description="Ask again with `cursor=` this for the next page; null on the last"
    )
    unavailable: list[str] = Field(description="Services that could not be asked; their tasks are missing")


def _key(item: dict) -> tuple[str, str, str]:
    """The merged order: due day, then source, then the task's own id (subsidy: what it is about)."""
    if item["source"] == "dropout":
        own = str(item.get("id") or "")
    else:
        ref = item.get("ref") or {}
        own = ":".join(
            str(x or "") for x in (item.get("kind"), ref.get("type"), ref.get("id"), item.get("student_id"))
        )
    return str(item.get("due_on") or "9999-12-31"), item["source"], own


def _encode(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str) -> dict:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(value, dict) or value.get("m") not in ("due", "sync"):
            raise ValueError("not a tasks cursor")
        if value["m"] == "due":
            key = value["k"]
            if not (isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key)):
                raise ValueError("not a tasks cursor")
            date.fromisoformat(key[0])
            if key[1] == "dropout":
                uuid.UUID(key[2])
        elif not isinstance(value.get("d"), str):
            raise ValueError("not a tasks cursor")
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise Invalid(["cursor"], "Invalid cursor: use the next_cursor of the previous page") from exc
    return value


@router.get(
    "/tasks",
    response_model=MergedTasks,
    summary="What the caller has to do now (all services)",
    responses=problems(403, 422),
)
async def tasks(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many a page")] = 100,
    cursor: Annotated[
        str | None, Query(max_length=512, description="Opaque: `next_cursor` of the previous page")
    ] = None,
    updated_since: Annotated[
        datetime | None,
        Query(
            description="Only dropout tasks changed at or after this time, in order of change (sync); "
            "subsidy to-dos, worked out when asked, come complete on the first page"
        ),
    ] = None,
    status: Annotated[
        Literal["open", "done", "all"] | None, Query(description="Dropout tasks: default open")
    ] = None,
    kind: Annotated[str | None, Query(max_length=30)] = None,
    student_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    on: Annotated[date | None, Query(description="Subsidy to-dos as of this day (default today)")] = None,
):
    """Merge the dropout and subsidy to-dos, soonest due first, a page at a time (`limit`, `cursor`);
    with `updated_since`, the dropout tasks changed since then in order of change (include `status=all`
    to learn of tasks done meanwhile). `unavailable` names a source that failed."""
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:
        raise Unauthorized()
    check_route_access(principal, "GET", "/api/v1/tasks")
    given = request.query_params
    params = [(k, v) for k, v in given.multi_items() if k not in ("cursor", "limit")]
    params.append(("limit", str(limit)))
    position = _decode(cursor) if cursor else None
    if updated_since is not None:
        if position and position["m"] != "sync":
            raise Invalid(["cursor"], "This cursor belongs to a list without updated_since")
        return await _changed_since(request, params, position)
    if position and position["m"] != "due":
        raise Invalid(["cursor"], "This cursor belongs to a list with updated_since")
    after = tuple(position["k"]) if position else None
    if after:  # the dropout page resumes where the merged order left it
        own = after[2] if after[1] == "dropout" else LAST
        params.append(("cursor", encode_cursor([after[0], uuid.UUID(own)])))
    results = await asyncio.gather(*(_fetch(request, s, p, params) for s, p in SOURCES.items()))
    failed = [s for s, r in zip(SOURCES, results, strict=True) if r is None]
    if len(failed) == len(SOURCES):
        raise Unavailable("No service could list tasks; try again shortly")
    items = [item for r in results if r for item in r[0] if not after or _key(item) > after]
    items.sort(key=_key)
    more = len(items) > limit or any(r and r[1] for r in results)
    page = items[:limit]
    next_cursor = _encode({"m": "due", "k": list(_key(page[-1]))}) if more and page else None
    return {"items": page, "next_cursor": next_cursor, "unavailable": failed}


async def _changed_since(request: Request, params: list, position: dict | None) -> dict:
    """Dropout's tasks changed since, a page at a time (its cursor, wrapped); subsidy's on the first page."""
    sources = {"dropout": SOURCES["dropout"]} if position else SOURCES
    if position:
        params = [*params, ("cursor", position["d"])]
    results = await asyncio.gather(*(_fetch(request, s, p, params) for s, p in sources.items()))
    failed = [s for s, r in zip(sources, results, strict=True) if r is None]
    if len(failed) == len(sources):
        raise Unavailable("No service could list tasks; try again shortly")
    items = [item for r in results if r for item in r[0]]
    dropout = results[0]
    following = dropout[1] if dropout else None
    return {
        "items": items,
        "next_cursor": _encode({"m": "sync", "d": following}) if following else None,
        "unavailable": failed,
    }
