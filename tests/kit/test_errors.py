"""The error handlers: what the fuzzer found answering 400 or 500 now answers problem+json 4xx."""

import httpx
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.db import async_url
from services.kit.errors import PROBLEM, Unavailable, install_error_handlers


class Body(BaseModel):
    name: str


def app_with(owner_url: str) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    async def echo(body: Body) -> dict:
        return {"name": body.name}

    @app.get("/bigint/{value}")
    async def bigint(value: str) -> dict:
        # Validation that let a 70-bit integer through: the driver, not PostgreSQL, refuses it.
        engine = create_async_engine(async_url(owner_url))
        try:
            async with engine.connect() as conn:
                row = await conn.execute(text("SELECT CAST(:v AS bigint)"), {"v": int(value)})
                return {"value": row.scalar_one()}
        finally:
            await engine.dispose()

    @app.get("/unavailable")
    async def unavailable() -> dict:
        raise Unavailable("The event stream is not connected yet")

    return app


async def call(app: FastAPI, method: str, path: str, **kw) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.request(method, path, **kw)


async def test_unreadable_body_is_422_naming_the_body(owner_url: str):
    resp = await call(
        app_with(owner_url), "POST", "/echo", content=b"\xd4\xce\xc7\x06",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert resp.status_code == 422
    assert resp.headers["content-type"] == PROBLEM
    assert resp.json()["errors"][0]["loc"] == ["body"]


async def test_value_the_driver_refuses_is_422(owner_url: str):
    app = app_with(owner_url)
    assert (await call(app, "GET", "/bigint/42")).json() == {"value": 42}
    resp = await call(app, "GET", f"/bigint/{2**70}")
    assert resp.status_code == 422
    assert resp.headers["content-type"] == PROBLEM
    assert resp.json()["errors"][0]["code"] == "out_of_range"


async def test_unavailable_says_when_to_retry(owner_url: str):
    resp = await call(app_with(owner_url), "GET", "/unavailable")
    assert resp.status_code == 503
    assert int(resp.headers["retry-after"]) >= 1
