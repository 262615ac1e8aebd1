"""`/healthz` (the process is up) and `/readyz` (database and every service ready)."""

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


async def _service(client: httpx.AsyncClient, settings: Settings, name: str) -> bool:
    # A service's own /readyz covers its database and the broker.
    try:
        resp = await client.get(f"{settings.service_url(name)}/readyz", timeout=CHECK_TIMEOUT)
        return resp.status_code == 200
    except httpx.HTTPError as exc:
        log.warning("readiness: service", service=name, error=repr(exc))
        return False


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.http
    results = await asyncio.gather(
        _database(request), *(_service(client, settings, name) for name in SERVICES))
    checks = dict(zip(("database", *SERVICES), results, strict=True))
    ok = all(checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                        status_code=200 if ok else 503)
