"""`/healthz` (the process is up) and `/readyz` (database and every service ready, or degraded)."""

import asyncio

import httpx
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from services.kit.settings import SERVICES, Settings

log = structlog.get_logger()
router = APIRouter(tags=["health"])
CHECK_TIMEOUT = 2.0


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict:
    return {"status": "ok"}


async def _database(request: Request) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception as exc:
        log.warning("readiness: database", error=repr(exc))
        return False


async def _service(client: httpx.AsyncClient, settings: Settings, name: str) -> tuple[bool, list[str]]:
    """Return whether a service is ready and why it is degraded (its /readyz: database, broker, consumers)."""
    try:
        resp = await client.get(f"{settings.service_url(name)}/readyz", timeout=CHECK_TIMEOUT)
    except httpx.HTTPError as exc:
        log.warning("readiness: service", service=name, error=repr(exc))
        return False, []
    try:
        body = resp.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    degraded = resp.status_code == 503 and body.get("status") == "degraded"
    if resp.status_code != 200 and not degraded:
        return False, []
    return True, [f"{name}: {reason}" for reason in body.get("reasons") or []]


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """Answer 200 `ok`; 503 `degraded` (with the services' reasons) or `unavailable` (anything down)."""
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.http
    database, *services = await asyncio.gather(
        _database(request), *(_service(client, settings, name) for name in SERVICES))
    ready = {name: up for name, (up, _) in zip(SERVICES, services, strict=True)}
    checks = {"database": database, **ready}
    reasons = [reason for _, said in services for reason in said]
    if not all(checks.values()):
        down = [f"{name} unavailable" for name, up in checks.items() if not up]
        return JSONResponse({"status": "unavailable", "reasons": down + reasons, "checks": checks},
                            status_code=503)
    # Degraded is 503 with the reasons (API.md: Ops), as each service answers it.
    return JSONResponse({"status": "degraded" if reasons else "ok", "reasons": reasons, "checks": checks},
                        status_code=503 if reasons else 200)
