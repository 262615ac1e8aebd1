"""Verify the bearer token once per request, for the middleware that needs to know the caller.

Nothing is refused here: a missing or bad token only leaves no principal behind,
and the route (proxy or the gateway's own) answers 401.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from api_gateway.asgi import header
from services.kit.auth import TokenVerifier, principal_from_claims
from services.kit.errors import Unauthorized


class AuthenticateMiddleware:
    """Put the verified caller in `scope["state"]["principal"]` (or why not in `auth_error`)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            scheme, _, token = (header(scope, b"authorization") or "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                verifier: TokenVerifier = scope["app"].state.verifier
                state = scope.setdefault("state", {})
                try:
                    claims = await verifier.verify(token.strip())
                    state["principal"] = principal_from_claims(claims)
                except Unauthorized as exc:
                    state["auth_error"] = exc.detail
        await self.app(scope, receive, send)
