"""Whether a school user's school lies inside the area its manager gives it (the registry knows).

A school user sees its school's records and nothing else, wherever that school is. So a manager
may give a school user only a school inside the user's area — and one the manager itself sees:
the registry answers `GET /api/v1/schools/{code}` with the caller's own token and scope.
"""

from collections.abc import Awaitable, Callable

import httpx
import structlog
from fastapi import Request

from services.kit.errors import Invalid, Unavailable

log = structlog.get_logger()
SchoolCheck = Callable[[str, str], Awaitable[None]]


def school_check(request: Request) -> SchoolCheck:
    """Return a check that refuses (422) a school unknown to the caller or outside `area_code`."""

    async def check(school_code: str, area_code: str) -> None:
        client: httpx.AsyncClient = request.app.state.http
        url = f"{request.app.state.settings.service_url('registry')}/api/v1/schools/{school_code}"
        headers = {k: v for k, v in request.headers.items() if k in ("authorization", "x-request-id")}
        try:
            resp = await client.send(request.app.state.keyring.sign(client.build_request("GET", url,
                                                                                     headers=headers)))
        except httpx.HTTPError as exc:
            log.warning("registry unavailable for a school check", error=repr(exc))
            raise Unavailable("The registry is unavailable; try again shortly") from exc
        if resp.status_code not in (200, 404):
            raise Unavailable("The registry could not check the school; try again shortly")
        if resp.status_code == 404 or not resp.json()["area_code"].startswith(area_code):
            raise Invalid(["school_code"], f"Unknown school {school_code} in area {area_code}",
                          code="unknown_school")

    return check
