"""Audit every write and every reveal that passes the gateway, with its outcome.

Logins are audited where they happen (auth.service). Writes are recorded after
the service answered (the status is part of the record) and before the client
hears the answer; a reveal whose audit cannot be written is not shown.
"""

import asyncio
import json
from urllib.parse import parse_qs

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from api_gateway.asgi import BufferedResponse, principal_of, run_buffered
from api_gateway.audit.chain import AuditEntry, append_audit
from api_gateway.bodylimit import TOO_LARGE
from services.kit.errors import problem

log = structlog.get_logger()
API = "/api/v1/"
WRITE_ACTIONS = {"PATCH": "update", "PUT": "update", "DELETE": "delete"}
# POST to one of these sub-paths is a state transition, not a creation.
VERBS = frozenset({
    "submit", "approve", "reject", "accept", "pay", "resolve", "acknowledge", "disable", "enable",
    "cancel", "close", "reopen", "lock", "unlock",
    "lookup",  # a bulk read by keys (up to 1,000 ID numbers): audited like a reveal
    "secret",  # a client's secret rotated
})
# Downloads that show personal identifiers whole (the bank's payment file: account numbers).
REVEALING_DOWNLOADS = ("/payment-file",)
# Prefixes that name a service, whose next segment is the resource.
NAMESPACES = frozenset({"subsidy", "dropout", "disability", "attendance", "stats"})


def action_for(method: str, path: str, query_string: bytes) -> str | None:
    """Return the audit action of a request, or None when it is not audited."""
    if not path.startswith(API) or path.startswith(API + "auth/"):
        return None
    if method == "POST":
        last = path.rstrip("/").rsplit("/", 1)[-1]
        return last if last in VERBS else "create"
    if method in WRITE_ACTIONS:
        return WRITE_ACTIONS[method]
    if method == "GET" and "reveal" in parse_qs(query_string.decode("latin-1")):
        return "reveal"
    if method == "GET" and path.rstrip("/").endswith(REVEALING_DOWNLOADS):
        return "reveal"
    return None


def target_of(path: str) -> tuple[str | None, str | None]:
    """Return (target_type, target_id) from a path: `/api/v1/students/{id}/...`."""
    parts = [p for p in path[len(API):].split("/") if p]
    if parts and parts[0] in NAMESPACES and len(parts) > 1:
        parts = [f"{parts[0]}.{parts[1]}", *parts[2:]]
    return (parts[0] if parts else None), (parts[1] if len(parts) > 1 else None)


def created_id(response: BufferedResponse) -> str | None:
    """Return the `id` (or `code`) of what a create returned."""
    if response.status >= 300 or "json" not in (response.header(b"content-type") or ""):
        return None
    try:
        body = json.loads(response.body)
    except ValueError:
        return None
    if isinstance(body, dict):
        value = body.get("id") or body.get("code")
        return None if value is None else str(value)
    return None


class AuditMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = principal_of(scope) if scope["type"] == "http" else None
        action = principal and action_for(scope["method"], scope["path"],
                                          scope.get("query_string", b""))
        if not action:
            await self.app(scope, receive, send)
            return
        try:
            response = await run_buffered(self.app, scope, receive)
        except asyncio.CancelledError:  # the client went away; the outcome is unknown
            await self._record(scope, action, BufferedResponse(status=499))
            raise
        except Exception:
            await self._record(scope, action, BufferedResponse(status=500))
            raise
        recorded = await self._record(scope, action, response)
        if not recorded and action == "reveal":
            await problem(503, "The audit log is unavailable; nothing is revealed without it",
                          code="audit_unavailable", headers={"Retry-After": "1"})(scope, receive, send)
            return
        await response.send_to(send)

    async def _record(self, scope: Scope, action: str, response: BufferedResponse) -> bool:
        status = 413 if scope.get("state", {}).get(TOO_LARGE) else response.status
        target_type, target_id = target_of(scope["path"])
        if target_id is None and action == "create":
            target_id = created_id(response)
        entry = AuditEntry.by(
            principal_of(scope), action=action, method=scope["method"], path=scope["path"],
            status=status, target_type=target_type, target_id=target_id,
            request_id=scope.get("state", {}).get("request_id"))
        try:
            async with scope["app"].state.sessionmaker() as session:
                await append_audit(session, entry)
                await session.commit()
        except Exception:
            log.exception("audit write failed", path=scope["path"], action=action)
            return False
        return True
