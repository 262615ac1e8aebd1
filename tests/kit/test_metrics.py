"""GET /metrics on every process (issue 19): latency histograms, outbox backlog, consumer lag moving in a burst."""

import asyncio
import re
import signal
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request

from deploy.stack import Stack
from services.kit.auth import TokenVerifier
from services.kit.errors import Forbidden, Unauthorized
from services.kit.metrics import authorize_scrape
from services.kit.settings import Settings
from tests.helpers import World, eventually

CONSUMERS = {"subsidy": "subsidy-registry", "dropout": "dropout-students", "statistics": "statistics"}
N = 40


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient, url: str) -> dict:
    resp = await client.get(f"{url}/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return samples(resp.text)


async def test_every_process_serves_metrics(stack: Stack, api):
    await api.get("/api/v1/auth/me")  # one routed request on the gateway
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("gateway", *CONSUMERS, "registry"):
            text = (await client.get(f"{stack.url(name)}/metrics")).text
            assert "# TYPE http_request_duration_seconds histogram" in text, name
            assert "http_request_duration_seconds_bucket{" in text, name
            if name == "gateway":
                got = samples(text)
                assert (
                    value(
                        got,
                        "http_request_duration_seconds_count",
                        method="GET",
                        route="/api/v1/auth/me",
                        status="200",
                    )
                    >= 1
                )
                continue
            for family in (
                "nol_outbox_unpublished",
                "nol_consumer_pending",
                "nol_consumer_lag_seconds",
                "nol_dead_letters_open",
                "nol_consumer_events_applied_total",
            ):
                assert f"# TYPE {family.removesuffix('_total')}" in text, (name, family)
        registry = await client.get(f"{stack.url('registry')}/metrics")
        assert "# TYPE nol_jobs gauge" in registry.text
        # A path never becomes a label (it may hold an ID number): the route template does.
        routes = {dict(labels).get("route") for _, labels in samples(registry.text)} - {None}
        assert routes, "no request was counted"
        assert all(r == "unmatched" or (r.startswith("/") and not re.search(r"\d{6}", r)) for r in routes), (
            routes
        )


async def test_lag_moves_during_a_burst_and_settles(stack: Stack, world: World, db):
    """Writes held in the registry's outbox show as backlog; released at once, the consumers lag, then catch up."""
    async with httpx.AsyncClient(timeout=10) as client:
        before = {svc: await scrape(client, stack.url(svc)) for svc in CONSUMERS}
        stack.stop_process("relay-registry", sig=signal.SIGKILL)
        try:
            sem = asyncio.Semaphore(16)

            async def make():
                async with sem:
                    return await world.student("junior", stage="junior", grade=1)

            await asyncio.gather(*(make() for _ in range(N)))
            held = await scrape(client, stack.url("registry"))
            assert value(held, "nol_outbox_unpublished") >= N
            assert value(held, "nol_outbox_oldest_unpublished_seconds") > 0
            # Statistics applies the burst as soon as it arrives (a fetch set-wise, in well under the
            # scrape's interval): holding its table for a moment is what makes its lag seen for sure.
            await db.execute("BEGIN; LOCK TABLE statistics.student_fact IN EXCLUSIVE MODE")
        finally:
            stack.spawn("relay-registry")
        seen = dict.fromkeys(CONSUMERS, 0.0)
        try:

            async def held_back() -> bool:
                got = await scrape(client, stack.url("statistics"))
                lag = value(got, "nol_consumer_pending", consumer="statistics") + value(
                    got, "nol_consumer_unacknowledged", consumer="statistics"
                )
                seen["statistics"] = max(seen["statistics"], lag)
                return lag > 0

            await eventually(held_back, timeout=30, interval=0.05)
        finally:
            await db.execute("COMMIT")

        async def settled():
            done = True
            for svc, consumer in CONSUMERS.items():
                got = await scrape(client, stack.url(svc))
                lag = value(got, "nol_consumer_pending", consumer=consumer) + value(
                    got, "nol_consumer_unacknowledged", consumer=consumer
                )
                seen[svc] = max(seen[svc], lag, value(got, "nol_consumer_lag_seconds", consumer=consumer))
                applied = value(got, "nol_consumer_events_applied_total", consumer=consumer) - value(
                    before[svc], "nol_consumer_events_applied_total", consumer=consumer
                )
                done = done and lag == 0 and applied >= N
            return done

        await eventually(settled, timeout=60, interval=0.05)
        assert value(await scrape(client, stack.url("registry")), "nol_outbox_unpublished") == 0
    assert any(seen.values()), f"no consumer was ever seen behind during the burst: {seen}"


async def test_scrape_access_off_loopback(stack: Stack, api, world: World):
    """Off loopback: the metrics token or an admin's token; nobody else."""
    settings = Settings(metrics_token="scrape-me-2026", jwks_url=f"{stack.url()}/.well-known/jwks.json")
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, verifier=TokenVerifier(settings)))

    def request(token: str | None) -> Request:
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        return Request(
            {
                "type": "http",
                "method": "GET",
                "path": "/metrics",
                "headers": headers,
                "client": ("10.20.30.40", 5555),
                "app": app,
            }
        )

    await authorize_scrape(request("scrape-me-2026"))
    await authorize_scrape(request(api.token))  # the admin
    with pytest.raises(Unauthorized):
        await authorize_scrape(request(None))
    with pytest.raises(Unauthorized):
        await authorize_scrape(request("guess"))
    with pytest.raises(Forbidden):
        await authorize_scrape(request(world.users["county"].token))
    local = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/metrics",
            "headers": [],
            "client": ("127.0.0.1", 5555),
            "app": app,
        }
    )
    await authorize_scrape(local)  # loopback: open
