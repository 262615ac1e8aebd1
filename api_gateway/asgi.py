"""Small ASGI helpers shared by the gateway's middleware."""

from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.auth import Principal


def principal_of(scope: Scope) -> Principal | None:
    """Return the caller AuthenticateMiddleware found, if any."""
    return scope.get("state", {}).get("principal")


def header(scope: Scope, name: bytes) -> str | None:
    """Return a request header (first value), decoded."""
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


async def read_body(receive: Receive) -> bytes:
    """Read the whole request body."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_receive(body: bytes, receive: Receive) -> Receive:
    """Return a receive that yields an already-read body, then defers to the original."""
    sent = False

    async def _receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return _receive


@dataclass
class BufferedResponse:
    """A response held back until the gateway has done its bookkeeping."""

    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    started: bool = False

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None

    async def send_to(self, send: Send, extra_headers: list[tuple[bytes, bytes]] = ()) -> None:
        headers = [*self.headers, *extra_headers]
        if self.header(b"content-length") is None and self.status not in (204, 304):
            headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(self.body), "more_body": False})


async def run_buffered(app: ASGIApp, scope: Scope, receive: Receive) -> BufferedResponse:
    """Run the app and collect its whole response instead of sending it."""
    response = BufferedResponse()

    async def _send(message: Message) -> None:
        if message["type"] == "http.response.start":
            response.started = True
            response.status = message["status"]
            response.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            response.body.extend(message.get("body", b""))

    await app(scope, receive, _send)
    return response
