"""The FastAPI application class every process uses: an error answered stays answered.

Starlette's outermost middleware answers an unexpected exception through our handler (a logged
problem+json 500) and then raises it again, "so the server can log it". uvicorn, seeing an
exception after the response started, closes the connection. On a keep-alive connection from the
gateway that close races the gateway's next request on the same connection, which then fails
with "server disconnected" and becomes a 502 for a request that had nothing to do with the first.
Here an exception raised after the response was complete is dropped (the handler logged it);
before the response started it still reaches uvicorn, which answers 500.
"""

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _AnsweredErrors:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        complete = False

        async def _send(message: Message) -> None:
            nonlocal complete
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True

        try:
            await self.app(scope, receive, _send)
        except Exception:
            if not complete:
                raise


class App(FastAPI):
    """FastAPI whose middleware stack does not re-raise an error it has already answered."""

    def build_middleware_stack(self) -> ASGIApp:
        return _AnsweredErrors(super().build_middleware_stack())
