"""An unexpected error is answered 500 and the keep-alive connection stays usable (kit.app).

Starlette re-raises an exception after its handler answered it; uvicorn then closed the
connection, and the gateway's next request on that connection failed as a 502 (seen when one
lookup failed and the following, unrelated GET answered 502). Real uvicorn, real sockets.
"""

import asyncio
import contextlib

import httpx
import uvicorn
from fastapi import APIRouter, Request

from deploy.embedded import free_port
from services.kit.app import App
from services.kit.errors import install_error_handlers


def _app() -> App:
    app = App()
    install_error_handlers(app)
    router = APIRouter()

    @router.post("/boom")
    async def boom(body: dict) -> dict:
        raise RuntimeError("a bug")

    @router.get("/fine")
    async def fine(request: Request) -> dict:
        return {"port": request.client.port}  # which connection carried it

    app.include_router(router)
    return app


async def test_the_connection_survives_an_answered_error():
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_app(), port=port, log_level="critical", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
            await asyncio.sleep(0.05)
        # One connection, as the gateway's pool reuses it: the server must keep it open after a 500
        # (when it closes it, the close races the next request, which then fails).
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
            first = (await client.get("/fine")).json()["port"]
            for _ in range(3):
                boom = await client.post("/boom", json={"a": 1})
                assert boom.status_code == 500
                assert boom.headers["content-type"] == "application/problem+json"
                fine = await client.get("/fine")
                assert fine.status_code == 200
                assert fine.json()["port"] == first, "the server closed the connection after answering 500"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
