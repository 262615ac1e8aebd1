"""One OpenAPI document for the whole API: the gateway's own paths plus every service's.

The gateway learns each service's document over HTTP (`GET {service}/openapi.json`, public like
`/healthz`), merges them and keeps the result for a while (`OpenApiCache`). A service that cannot be
reached or answers nonsense is left out and *named*: in `info.description`, in the `x-unavailable`
extension and in a warning in the log. The committed `openapi/gateway.json` is merged by
`deploy/openapi_dump.py` from documents it builds in-process (deploy may import the services).
"""

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
import httpx
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from api_gateway.idempotency.middleware import EXEMPT
from api_gateway.routing import API, PLATFORM_ALLOWED, PLATFORM_OPERATIONS, _prefix_of
from services.kit.docs import install_offline_docs
from services.kit.openapi import describe_enums, openapi_of, unique_titles
from services.kit.responses import add_problem, document_errors, iter_operations
from services.kit.settings import SERVICES, Settings

log = structlog.get_logger()
REF = "#/components/schemas/"
PUBLIC_PATHS = ("/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/logout",
                "/.well-known/jwks.json")
BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
          "description": "Access token from `POST /api/v1/auth/token` (EdDSA-signed JWT)"}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "A key of the client's choosing (a UUID): a retry with the same key and body gets "
                   "the first answer again (`Idempotent-Replayed: true`) instead of doing it twice. "
                   "Kept at least 7 days; the same key with another body is 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "example": "5f0c9d9e-2b7a-4c1e-9a51-3a4c7a8e2f10",
}
FETCH_TIMEOUT = 5.0
TTL_SECONDS = 60.0
# While a service is missing, look again sooner: one that was still starting appears within seconds.
TTL_INCOMPLETE_SECONDS = 5.0
# `?refresh=1` (public, like the docs) refetches at most this often, however often it is asked.
REFRESH_AT_MOST_EVERY = 2.0


class ServiceDocError(Exception):
    """A service's OpenAPI document could not be had (unreachable, error status, not a document)."""


async def fetch_service_openapi(client: httpx.AsyncClient, name: str, base_url: str) -> dict[str, Any]:
    """Return a service's OpenAPI document from `GET {base_url}/openapi.json`; ServiceDocError if not."""
    try:
        resp = await client.get(f"{base_url}/openapi.json", timeout=FETCH_TIMEOUT)
    except httpx.HTTPError as exc:
        raise ServiceDocError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
    if resp.status_code != 200:
        raise ServiceDocError(f"HTTP {resp.status_code} from {base_url}/openapi.json")
    try:
        doc = resp.json()
    except ValueError as exc:
        raise ServiceDocError("not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise ServiceDocError("not an OpenAPI document (no paths)")
    return doc


async def fetch_all(client: httpx.AsyncClient, urls: Mapping[str, str],
                    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Fetch every service's document at once; return (documents, service → why it is missing)."""
    results = await asyncio.gather(
        *(fetch_service_openapi(client, name, url) for name, url in urls.items()), return_exceptions=True)
    documents, unavailable = {}, {}
    for name, result in zip(urls, results, strict=True):
        if isinstance(result, dict):
            documents[name] = result
        elif isinstance(result, ServiceDocError):
            unavailable[name] = str(result)
        else:
            unavailable[name] = repr(result)  # anything else is still reported, never swallowed
        if name in unavailable:
            log.warning("openapi: service left out of the merged docs", service=name, url=urls[name],
                        error=unavailable[name])
    return documents, unavailable


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: (REF + renames[v[len(REF):]]
                    if k == "$ref" and isinstance(v, str) and v[len(REF):] in renames
                    and v.startswith(REF) else _rename_refs(v, renames))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def _merge_service(merged: dict[str, Any], name: str, doc: dict[str, Any]) -> None:
    schemas = merged["components"]["schemas"]
    theirs = doc.get("components", {}).get("schemas", {})
    # Same name, different shape: keep both, the service's under a prefixed name.
    renames = {k: f"{name.capitalize()}{k}" for k, v in theirs.items()
               if k in schemas and schemas[k] != v}
    if renames:
        doc = _rename_refs(doc, renames)
        theirs = {renames.get(k, k): v for k, v in doc["components"]["schemas"].items()}
    for key, value in theirs.items():
        if key in schemas and schemas[key] != value:
            raise ValueError(f"OpenAPI schema {key!r} of {name} conflicts even after renaming")
        schemas[key] = value
    for kind, items in doc.get("components", {}).items():
        if kind != "schemas":
            merged["components"].setdefault(kind, {}).update(items)
    gateway_owned = merged.setdefault("x-gateway-owned", set())
    _unique_operation_ids(merged, name, doc)
    for path, operations in doc.get("paths", {}).items():
        target = merged["paths"].setdefault(path, {})
        for method, operation in operations.items():
            if (path, method) in gateway_owned:
                continue  # the gateway answers this one itself (e.g. /tasks merges several services)
            if method in target:
                raise ValueError(f"{method.upper()} {path} is defined twice (again by {name})")
            target[method] = operation
    known = {t["name"] for t in merged["tags"]}
    merged["tags"] += [t for t in doc.get("tags", []) if t["name"] not in known]


def _operation_ids(doc: dict[str, Any]) -> set[str]:
    return {op["operationId"] for _, _, op in iter_operations(doc) if op.get("operationId")}


def _unique_operation_ids(merged: dict[str, Any], name: str, doc: dict[str, Any]) -> None:
    """Prefix with the service's name an operation id another part of the API already uses."""
    taken = _operation_ids(merged)
    for path, method, operation in iter_operations(doc):
        if operation.get("operationId") in taken and (path, method) not in merged["x-gateway-owned"]:
            log.warning("openapi: operation id taken; prefixed with the service",
                        service=name, operation_id=operation["operationId"])
            operation["operationId"] = f"{name}_{operation['operationId']}"


def gateway_openapi(app: FastAPI) -> dict[str, Any]:
    """Return the gateway's own OpenAPI document (without the services)."""
    doc = openapi_of(app, lambda: get_openapi(title=app.title, version=app.version,
                                              description=app.description, routes=app.routes,
                                              tags=app.openapi_tags))
    return document_errors(doc, public=PUBLIC_PATHS)


def _document_gateway_errors(merged: dict[str, Any], gateway_owned: set[tuple[str, str]]) -> None:
    """Add what the gateway itself answers in front of every operation (limits, keys, proxying)."""
    for path, method, operation in iter_operations(merged):
        if not path.startswith(API + "/"):
            continue
        add_problem(operation, 429)
        if "requestBody" in operation:
            add_problem(operation, 413)
        if method == "post" and not path.startswith(EXEMPT):
            # The gateway honours the key on every POST (api_gateway.idempotency): declared on each,
            # so a generated client has the parameter.
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name", "").lower() == "idempotency-key" for p in parameters):
                parameters.append(dict(IDEMPOTENCY_KEY))
            add_problem(operation, 409, "Conflict, or a request with this `Idempotency-Key` still running")
            add_problem(operation, 422)
        if (path, method) in gateway_owned:
            continue
        add_problem(operation, 502)
        add_problem(operation, 504)
        if method.upper() not in PLATFORM_ALLOWED.get(_prefix_of(path) or "", frozenset()) and (
            method.upper(), path) not in PLATFORM_OPERATIONS:
            add_problem(operation, 403, "The caller's role may not do this (platform clients never may)")


def _plain(doc: dict[str, Any]) -> dict[str, Any]:
    # As JSON would carry it (tuples become lists): an in-process document and a fetched one
    # then compare, and merge, the same way.
    return json.loads(json.dumps(doc))


def merged_openapi(gateway: FastAPI | dict[str, Any], documents: Mapping[str, dict[str, Any]],
                   unavailable: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the gateway's paths and the given services' paths in one document, naming the missing."""
    own = gateway_openapi(gateway) if isinstance(gateway, FastAPI) else gateway
    merged = _plain(own)
    merged["servers"] = [{"url": "/"}]
    merged.setdefault("components", {}).setdefault("schemas", {})
    merged.setdefault("tags", [])
    merged["x-gateway-owned"] = {(p, m) for p, ops in merged.get("paths", {}).items() for m in ops}
    missing = dict(unavailable or {})
    for name in SERVICES:
        if name in documents:
            _merge_service(merged, name, _plain(documents[name]))
        else:
            missing.setdefault(name, "not fetched")
    gateway_owned = merged.pop("x-gateway-owned")
    _document_gateway_errors(merged, gateway_owned)
    describe_enums(unique_titles(merged))  # one title per class, Chinese labels on every enum
    if missing:
        merged["info"]["description"] += (
            "\n\n**Not included (unavailable when these docs were merged): "
            + "; ".join(f"{name} ({why})" for name, why in sorted(missing.items())) + ".**")
        merged["x-unavailable"] = dict(sorted(missing.items()))
    merged["components"].setdefault("securitySchemes", {})["bearerAuth"] = BEARER
    merged["security"] = [{"bearerAuth": []}]
    for path in PUBLIC_PATHS:
        for operation in merged["paths"].get(path, {}).values():
            operation["security"] = []
    return merged


class OpenApiCache:
    """The merged document, fetched from the services and kept for a TTL (sooner while incomplete)."""

    def __init__(self, app: FastAPI, urls: Mapping[str, str], *, ttl: float = TTL_SECONDS,
                 ttl_incomplete: float = TTL_INCOMPLETE_SECONDS):
        self.app, self.urls, self.ttl, self.ttl_incomplete = app, dict(urls), ttl, ttl_incomplete
        self.document: dict[str, Any] | None = None
        self._own: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def own(self) -> dict[str, Any]:
        """Return the gateway's own document (its routes never change after start)."""
        if self._own is None:
            self._own = gateway_openapi(self.app)
        return self._own

    async def get(self, client: httpx.AsyncClient, *, refresh: bool = False) -> dict[str, Any]:
        """Return the merged document, fetching it again when stale or (at most so often) when asked."""
        now = time.monotonic()
        if self.document is not None and now < self._expires_at and not (
                refresh and now - self._fetched_at >= REFRESH_AT_MOST_EVERY):
            return self.document
        async with self._lock:
            if self.document is not None and self._fetched_at > now:
                return self.document  # another request refreshed it while this one waited
            documents, unavailable = await fetch_all(client, self.urls)
            # Merging copies every schema: off the event loop, proxied requests keep flowing.
            self.document = await anyio.to_thread.run_sync(
                merged_openapi, self.own(), documents, unavailable)
            self._fetched_at = time.monotonic()
            self._expires_at = self._fetched_at + (self.ttl_incomplete if unavailable else self.ttl)
            return self.document


def docs_router(title: str) -> APIRouter:
    """Return `/openapi.json` (merged, cached; `?refresh=1` refetches), public like `/docs`."""
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    async def openapi_json(request: Request, refresh: bool = False) -> JSONResponse:
        cache: OpenApiCache = request.app.state.openapi_cache
        return JSONResponse(await cache.get(request.app.state.http, refresh=refresh))

    return router


def install_docs(app: FastAPI, settings: Settings) -> None:
    """Serve the merged docs on a gateway built with `openapi_url=None, docs_url=None`."""
    cache = OpenApiCache(app, {name: settings.service_url(name) for name in SERVICES})
    app.state.openapi_cache = cache
    app.include_router(docs_router(app.title))
    install_offline_docs(app, title=app.title)  # /docs and /redoc, with local assets

    def openapi() -> dict[str, Any]:
        # Sync callers (FastAPI internals, scripts) get the last merged document, else the
        # gateway's own with every service named as not fetched yet.
        return cache.document or merged_openapi(cache.own(), {})

    app.openapi = openapi  # type: ignore[method-assign]
