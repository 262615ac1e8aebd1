"""Rate limits per caller (token `sub`) and per client IP for logins: 429 with Retry-After.

A token bucket per key (GCRA form: one timestamp per key), in this process's
memory: with several gateway processes each enforces the limit on its own share.

The client IP is the TCP peer. `X-Forwarded-For` is believed only when the peer is one
of NOL_TRUSTED_PROXIES (default: none), and then only up to the first hop that is not a
trusted proxy: anyone can send the header, so trusting it from anywhere (even 127.0.0.1)
lets a caller pick a fresh IP per request. Run uvicorn with `--no-proxy-headers` so it
does not rewrite the peer first (deploy.stack does).
"""

import ipaddress
import math
import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from api_gateway.asgi import principal_of
from services.kit.errors import problem

# Paths limited per client IP whatever token is sent: the password-guessing surface.
IP_LIMITED = ("/api/v1/auth/token", "/api/v1/auth/refresh")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Parse trusted proxies: addresses or CIDR blocks."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_ip(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """Return the caller's IP: the peer, or the nearest untrusted hop of X-Forwarded-For behind a proxy."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not trusted or not _trusted(peer, trusted):
        return peer
    forwarded = b",".join(v for k, v in scope.get("headers", ()) if k == b"x-forwarded-for")
    hops = [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:  # garbage from the client side of the proxy: the proxy is all we know
                return peer
    return peer


class ClientAddressMiddleware:
    """Set the scope's client to the real caller (see `client_ip`), for the limits, audit and proxy."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str] = ()):
        self.app = app
        self.trusted = networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] == "http":
            ip = client_ip(scope, self.trusted)
            if ip != (scope.get("client") or ("", 0))[0]:
                scope = {**scope, "client": (ip, 0)}
        await self.app(scope, receive, send)


class RateLimiter:
    """Allow `per_minute` requests per key, in bursts of up to `per_minute`."""

    def __init__(self, per_minute: int, *, clock=time.monotonic):
        self.per_minute = per_minute
        self.interval = 60.0 / per_minute
        self.clock = clock
        self._tat: dict[str, float] = {}  # theoretical arrival time of the next request
        self._next_sweep = 0.0

    def hit(self, key: str) -> float:
        """Count a request; return 0 when allowed, else the seconds to wait."""
        now = self.clock()
        self._sweep(now)
        tat = max(self._tat.get(key, now), now) + self.interval
        if tat - now > 60.0 + 1e-9:
            return tat - 60.0 - now
        self._tat[key] = tat
        return 0.0

    def _sweep(self, now: float) -> None:
        # Keys whose bucket is full again carry no information; drop them now and then.
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60.0
        self._tat = {k: t for k, t in self._tat.items() if t > now}


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, per_minute: int):
        self.app = app
        self.limiter = RateLimiter(per_minute) if per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.limiter is None or scope["type"] != "http"
                or not scope["path"].startswith("/api/")):
            await self.app(scope, receive, send)
            return
        ip = (scope.get("client") or ("unknown", 0))[0]
        principal = principal_of(scope)
        if scope["path"] in IP_LIMITED:
            key = f"login-ip:{ip}"
        elif principal is not None:
            key = f"sub:{principal.sub}"
        else:
            key = f"ip:{ip}"
        wait = self.limiter.hit(key)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            response = problem(429, f"Too many requests; retry in {seconds} s",
                               code="rate_limited", headers={"Retry-After": str(seconds)})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
