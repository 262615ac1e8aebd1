"""`/api/v1/ops`: every service's consumers and dead letters as one API (admin).

The lists ask each service with the caller's token and merge the answers; a replay or resolve of
`<service>-<n>` goes to that service. The services answer the same paths themselves (kit.ops).
"""

import asyncio
import re
from typing import Annotated, Any

import httpx
import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden, NotFound, Unauthorized, Unavailable
from services.kit.ops import ConsumerState, DeadLetter, LetterId, Resolution, Status
from services.kit.responses import problems
from services.kit.settings import SERVICES

log = structlog.get_logger()
router = APIRouter(prefix="/api/v1/ops", tags=["ops"])
PASSED_ON = ("authorization", "x-request-id", "accept-language")


def admin(request: Request) -> Principal:
    """Admit only an admin (the gateway's own check, before any service is asked)."""
    state = request.scope.get("state", {})
    principal = state.get("principal")
    if principal is None:
        raise Unauthorized(state.get("auth_error") or "Missing or invalid token")
    if principal.role is not Role.admin:
        raise Forbidden(f"Role '{principal.role}' may not do this")
    return principal


Admin = Annotated[Principal, Depends(admin)]


class MergedDeadLetters(BaseModel):
    items: list[DeadLetter]
    next_cursor: None = Field(default=None, description="Always null: filter by `status` instead")
    unavailable: list[str] = Field(description="Services that could not be asked; their letters are missing")


async def _send(request: Request, method: str, url: str, **kw: Any) -> httpx.Response:
    """Send a request to a service with the caller's token, signed as the gateway's (kit.gateway_trust)."""
    client: httpx.AsyncClient = request.app.state.http
    headers = {k: v for k, v in request.headers.items() if k in PASSED_ON}
    outgoing = client.build_request(method, url, headers=headers, **kw)
    return await client.send(request.app.state.keyring.sign(outgoing))


async def _ask(request: Request, service: str, path: str, params: dict[str, Any]) -> list[dict] | None:
    """Return a service's list, or None when it cannot be asked."""
    url = request.app.state.settings.service_url(service) + path
    try:
        resp = await _send(request, "GET", url, params=params)
    except httpx.HTTPError as exc:
        log.warning("ops source unavailable", service=service, error=repr(exc))
        return None
    if resp.status_code != 200:
        log.warning("ops source failed", service=service, status=resp.status_code)
        return None
    body = resp.json()
    return body if isinstance(body, list) else body.get("items", [])


async def _merged(request: Request, path: str, params: dict[str, Any]) -> tuple[list[dict], list[str]]:
    results = await asyncio.gather(*(_ask(request, s, path, params) for s in SERVICES))
    failed = [s for s, r in zip(SERVICES, results, strict=True) if r is None]
    if len(failed) == len(SERVICES):
        raise Unavailable("No service could be asked; try again shortly")
    return [item for r in results if r for item in r], failed


@router.get(
    "/consumers", response_model=list[ConsumerState], summary="Event consumers (all services)",
    responses=problems(403),
)  # fmt: skip
async def consumers(request: Request, response: Response, _: Admin) -> list[dict]:
    """Show every service's consumers: lag, redeliveries, open dead letters, last applied event (admin).

    A plain list (API.md, Ops); services that could not be asked are named in `X-Unavailable-Services`.
    """
    items, failed = await _merged(request, "/api/v1/ops/consumers", {})
    if failed:
        response.headers["X-Unavailable-Services"] = ",".join(failed)
    return items


@router.get(
    "/dead-letters", response_model=MergedDeadLetters, summary="Dead letters (all services)",
    responses=problems(403),
)  # fmt: skip
async def dead_letters(
    request: Request,
    _: Admin,
    status: Annotated[Status | None, Query(description="Only letters in this state")] = None,
    consumer: Annotated[str | None, Query(max_length=64, description="Only this consumer's")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many, open first")] = 100,
) -> dict:
    """List the events every service's consumers gave up on, open first, then newest (admin)."""
    params = {k: v for k, v in {"status": status, "consumer": consumer, "limit": limit}.items() if v}
    items, failed = await _merged(request, "/api/v1/ops/dead-letters", params)
    items.sort(key=lambda d: d.get("created_at") or "", reverse=True)
    items.sort(key=lambda d: d.get("status") != "open")  # stable: open first, newest first within
    return {"items": items[:limit], "unavailable": failed}


def owner_of(letter_id: str) -> str:
    """Return the service a letter id (`<service>-<n>`) belongs to; 404 for any other id."""
    match = re.fullmatch(r"([a-z]+)-[0-9]{1,18}", letter_id)
    if match is None or match.group(1) not in SERVICES:
        raise NotFound("No such dead letter")
    return match.group(1)


async def _forward(request: Request, letter_id: str, action: str, body: dict | None) -> Response:
    """Send a replay or resolve to the letter's service and return its answer as it is."""
    service = owner_of(letter_id)
    url = f"{request.app.state.settings.service_url(service)}/api/v1/ops/dead-letters/{letter_id}/{action}"
    try:
        resp = await _send(request, "POST", url, json=body)
    except httpx.HTTPError as exc:
        log.warning("ops forward failed", service=service, error=repr(exc))
        raise Unavailable(f"The {service} service is unavailable; try again shortly") from exc
    media = resp.headers.get("content-type", "application/json")
    return Response(resp.content, status_code=resp.status_code, media_type=media)


LETTER_ERRORS = problems(
    403,
    404,
    _409="The letter is not open, or (replay) the event failed again: `detail` and `error` say why; "
    "the letter stays open",
)


@router.post(
    "/dead-letters/{letter_id}/replay", response_model=DeadLetter, summary="Replay a dead letter",
    responses=LETTER_ERRORS,
)  # fmt: skip
async def replay(request: Request, _: Admin, letter_id: LetterId) -> Response:
    """Apply the event again in its service, through its consumer and inbox (admin)."""
    return await _forward(request, letter_id, "replay", None)


@router.post(
    "/dead-letters/{letter_id}/resolve", response_model=DeadLetter, summary="Dismiss a dead letter",
    responses=LETTER_ERRORS,
)  # fmt: skip
async def resolve(request: Request, _: Admin, letter_id: LetterId, body: Resolution) -> Response:
    """Close an open dead letter without applying it, with a note saying why (admin)."""
    return await _forward(request, letter_id, "resolve", body.model_dump(mode="json"))
