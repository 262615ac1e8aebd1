"""Refuse request bodies over the limit (413), by Content-Length and while streaming."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_gateway.asgi import header
from services.kit.errors import PayloadTooLarge, problem

TOO_LARGE = "body_too_large"  # set in scope["state"] once a body went over the limit


class BodyLimitMiddleware:
    """Stop reading a body at `limit` bytes, whether or not it announced its length."""

    def __init__(self, app: ASGIApp, *, limit: int, larger: dict[str, int] | None = None):
        self.app = app
        self.limit = limit
        self.larger = larger or {}  # path prefix -> its own limit (file uploads)

    def _limit_for(self, scope: Scope) -> int:
        path = scope.get("path", "")
        return next((v for prefix, v in self.larger.items() if path.startswith(prefix)), self.limit)

    @staticmethod
    def _too_large(limit: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limit_for(scope) if scope["type"] == "http" else 0
        if limit <= 0:
            await self.app(scope, receive, send)
            return
        length = header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._reject(scope, receive, send, self._too_large(limit))
            return
        received = 0
        started = exceeded = False

        async def _receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    scope.setdefault("state", {})[TOO_LARGE] = True
                    raise self._too_large(limit)
            return message

        async def _send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # Whatever the app made of the failed read (FastAPI says 400), the answer is 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._reject(scope, receive, send, self._too_large(limit))
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _receive, _send)
        except PayloadTooLarge as exc:
            if started:
                raise
            await self._reject(scope, receive, send, exc)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, exc: PayloadTooLarge) -> None:
        response = problem(exc.status, exc.detail, code=exc.code, headers={"Connection": "close"})
        await response(scope, receive, send)
