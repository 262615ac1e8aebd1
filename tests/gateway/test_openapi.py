"""The merged OpenAPI document and the docs page."""

import pytest

from api_gateway import openapi_merge
from api_gateway.routing import service_for


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


async def test_services_included_when_they_build(client, settings):
    """Whatever service apps exist are merged in; the rest are named as left out."""
    doc = (await client.get("/openapi.json")).json()
    for name in ("registry", "subsidy", "dropout", "statistics"):
        service = openapi_merge.service_openapi(name, settings)
        if service is None:
            assert name in doc["info"]["description"]
        else:
            assert set(service["paths"]) <= set(doc["paths"])


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
