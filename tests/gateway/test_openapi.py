"""The merged OpenAPI document and the docs page."""

import asyncio

import httpx
import pytest
import structlog
import uvicorn
from starlette.responses import JSONResponse, PlainTextResponse
from structlog.testing import LogCapture

from api_gateway import openapi_merge
from api_gateway.routing import service_for
from deploy.embedded import free_port
from services.kit.settings import SERVICES

from .conftest import running, stack_settings


async def test_served_document(client):
    resp = await client.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["servers"] == [{"url": "/"}]
    assert {"/api/v1/auth/token", "/api/v1/users", "/api/v1/audit", "/.well-known/jwks.json"} <= set(
        doc["paths"]
    )
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/api/v1/auth/token"]["post"]["security"] == []
    assert "security" not in doc["paths"]["/api/v1/users"]["post"]
    assert not any(p.startswith("/healthz") for p in doc["paths"])


async def test_docs_page(client):
    resp = await client.get("/docs")
    assert resp.status_code == 200 and "swagger" in resp.text.lower()


async def test_docs_list_every_service_path(client, settings):
    """Each service's document, public at the service itself, is merged whole into the gateway's."""
    doc = (await client.get("/openapi.json?refresh=1")).json()
    assert "x-unavailable" not in doc and "Not included" not in doc["info"]["description"]
    async with httpx.AsyncClient(timeout=10) as http:
        for name in SERVICES:
            resp = await http.get(f"{settings.service_url(name)}/openapi.json")  # no token: public
            assert resp.status_code == 200, (name, resp.text)
            paths = set(resp.json()["paths"])
            assert paths and paths <= set(doc["paths"]), (name, paths - set(doc["paths"]))
            for path in paths:
                assert set(resp.json()["paths"][path]) <= set(doc["paths"][path]), (name, path)


def _doc(paths: dict, schemas: dict) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1", "description": ""},
        "paths": paths,
        "components": {"schemas": schemas},
        "tags": [],
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def test_conflicting_schema_renamed():
    merged = _doc(
        {"/a": {"get": {"responses": {"200": _ref("Thing")}}}},
        {"Thing": {"type": "object", "title": "gateway's"}},
    )
    service = _doc(
        {"/b": {"get": {"responses": {"200": _ref("Thing")}}}},
        {"Thing": {"type": "object", "title": "registry's"}, "Same": {"type": "string"}},
    )
    merged["components"]["schemas"]["Same"] = {"type": "string"}
    openapi_merge._merge_service(merged, "registry", service)
    schemas = merged["components"]["schemas"]
    assert schemas["Thing"]["title"] == "gateway's"
    assert schemas["RegistryThing"]["title"] == "registry's"
    assert merged["paths"]["/b"]["get"]["responses"]["200"] == _ref("RegistryThing")
    assert "RegistrySame" not in schemas


def test_same_operation_twice_refused():
    merged = _doc({"/a": {"get": {}}}, {})
    with pytest.raises(ValueError, match="GET /a"):
        openapi_merge._merge_service(merged, "registry", _doc({"/a": {"get": {}}}, {}))


async def test_errors_documented_as_problems(client):
    """Every error an operation documents is problem+json; every operation documents the ones any
    request can meet (401 behind a token, 422 for its input, 429 and 503), and proxied ones the
    gateway's own (502, 504)."""
    doc = (await client.get("/openapi.json")).json()
    assert {"HTTPValidationError", "ValidationError"}.isdisjoint(doc["components"]["schemas"])
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    errors = 0
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status, response in responses.items():
                if int(status) >= 400:
                    errors += 1
                    if "$ref" in response:
                        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                    assert response["content"] == {
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }, f"{method} {path} {status}"
            if not path.startswith("/api/"):
                continue
            expected = {"429", "503"} | ({"401"} if operation.get("security") != [] else set())
            if operation.get("parameters") or operation.get("requestBody"):
                expected.add("422")
            if service_for(path) and path != "/api/v1/tasks":
                expected |= {"502", "504"}
            assert expected <= set(responses), f"{method} {path}: {expected - set(responses)} missing"
    assert errors > len(doc["paths"])
    assert doc["paths"]["/api/v1/students/{student_id}"]["get"]["responses"]["404"]
    assert doc["paths"]["/api/v1/students"]["get"]["responses"]["401"] == {
        "$ref": "#/components/responses/Unauthorized"
    }
    unauthorized = doc["components"]["responses"]["Unauthorized"]
    assert unauthorized["headers"]["WWW-Authenticate"]["required"] is True


class FakeService:
    """A service on a real port whose /readyz is fine and whose /openapi.json is whatever it is told."""

    def __init__(self) -> None:
        self.document: dict | None = None  # None: answer 500

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/readyz":
            response = JSONResponse({"status": "ok"})
        elif scope["path"] == "/openapi.json" and self.document is not None:
            response = JSONResponse(self.document)
        else:
            response = PlainTextResponse("Internal Server Error", status_code=500)
        await response(scope, receive, send)


@pytest.fixture
async def fake_statistics():
    service = FakeService()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(service, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    service.url = f"http://127.0.0.1:{port}"
    yield service
    server.should_exit = True
    await task


@pytest.fixture
def logs(monkeypatch) -> list[dict]:
    """What openapi_merge logs (its own logger: structlog caches the configured one on first use)."""
    capture = LogCapture()
    monkeypatch.setattr(openapi_merge, "log", structlog.wrap_logger(None, processors=[capture]))
    return capture.entries


async def test_stopped_service_reported(down, logs):
    """Nothing listens where statistics should be: the docs say so and keep everything else."""
    doc = (await down.get("/openapi.json?refresh=1")).json()
    assert set(doc["x-unavailable"]) == {"statistics"}
    assert "ConnectError" in doc["x-unavailable"]["statistics"]
    assert "statistics (ConnectError" in doc["info"]["description"]
    assert not any(p.startswith("/api/v1/stats") for p in doc["paths"])
    assert "/api/v1/students" in doc["paths"] and "/api/v1/subsidy/batches" in doc["paths"]
    assert [e["service"] for e in logs if e["log_level"] == "warning"] == ["statistics"]


async def test_broken_service_reported_then_refreshed(stack, fake_statistics, monkeypatch, logs):
    """A service answering 500 for its document is named (readiness unaffected); once fixed, a
    refresh brings its paths in."""
    monkeypatch.setattr(openapi_merge, "REFRESH_AT_MOST_EVERY", 0.0)
    settings = stack_settings(stack, service_urls={"statistics": fake_statistics.url})
    async with running(settings) as gateway:
        doc = (await gateway.get("/openapi.json")).json()
        assert doc["x-unavailable"] == {"statistics": f"HTTP 500 from {fake_statistics.url}/openapi.json"}
        assert any(e.get("service") == "statistics" and e["log_level"] == "warning" for e in logs)
        ready = await gateway.get("/readyz")
        assert ready.status_code == 200, ready.text  # the docs are no readiness concern
        assert (await gateway.get("/openapi.json")).json() == doc  # cached, not refetched per request

        fake_statistics.document = {
            "openapi": "3.1.0",
            "info": {"title": "statistics", "version": "1"},
            "paths": {"/api/v1/stats/probe": {"get": {"responses": {"200": {"description": "ok"}}}}},
        }
        fixed = (await gateway.get("/openapi.json?refresh=1")).json()
        assert "x-unavailable" not in fixed and "Not included" not in fixed["info"]["description"]
        assert "/api/v1/stats/probe" in fixed["paths"] and "/api/v1/students" in fixed["paths"]


async def test_cache_expires(stack, fake_statistics):
    """Without being asked, the merged document is fetched again once its TTL has passed."""
    settings = stack_settings(stack, service_urls={"statistics": fake_statistics.url})
    async with running(settings) as gateway:
        cache = gateway.app.state.openapi_cache
        cache.ttl = cache.ttl_incomplete = 0.3
        assert "statistics" in (await gateway.get("/openapi.json")).json()["x-unavailable"]
        fake_statistics.document = {"openapi": "3.1.0", "info": {"title": "s", "version": "1"}, "paths": {}}
        await asyncio.sleep(0.4)
        assert "x-unavailable" not in (await gateway.get("/openapi.json")).json()
