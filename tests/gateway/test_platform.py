"""The provincial platform's integration: a county-scoped NATS feed, webhooks, secret rotation.

A second nats-server plays the platform broker, with the `authorization` block the gateway writes
from the clients API (reloaded by SIGHUP); an in-process gateway runs the feed into it.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import subprocess
import threading
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import nats
import pytest

from deploy.embedded import free_port, nats_binary, wait_for_port
from services.kit import natsauth
from tests import conftest
from tests.gateway.conftest import running, stack_settings
from tests.helpers import Api, World, eventually

FEED_PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
async def counties(api: Api, stack) -> tuple[World, str]:
    """A county with its users, and a second county with just a village."""
    world = await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)
    other = f"61{9000 - next(conftest._counties):04d}"
    await api.ok(
        "POST",
        "/api/v1/areas",
        201,
        json=[
            {"code": other, "name": f"测试县{other}"},
            {"code": f"{other}100", "name": "测试镇"},
            {"code": f"{other}100201", "name": "测试村"},
        ],
    )
    return world, f"{other}100201"


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> dict:
    """The platform broker: nats-server with the generated users (at first: only the feed's)."""
    folder = tmp_path_factory.mktemp("platform-nats")
    auth, pid = folder / "auth.conf", folder / "nats.pid"
    feed = natsauth.NatsUser("feed", natsauth.hash_password(FEED_PASSWORD), publish=["platform.>"])
    auth.write_text(natsauth.render([feed]))
    port = free_port()
    conf = folder / "nats.conf"
    conf.write_text(f'listen: 127.0.0.1:{port}\npid_file: "{pid}"\ninclude "auth.conf"\n')
    log = open(folder / "nats.log", "ab")
    proc = subprocess.Popen([nats_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, timeout=20, proc=proc)
        yield {"url": f"nats://127.0.0.1:{port}", "auth": auth, "pid": pid, "port": port}
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
async def gateway(stack, broker) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process gateway feeding the platform broker and writing its users."""
    name = f"platform-test-{secrets.token_hex(3)}"
    settings = stack_settings(
        stack,
        platform_nats_url=f"nats://feed:{FEED_PASSWORD}@127.0.0.1:{broker['port']}",
        platform_nats_auth_file=broker["auth"],
        platform_nats_pid_file=broker["pid"],
        platform_feed_name=name,
    )
    async with running(settings) as client:
        feed = client.app.state.platform_feed
        await asyncio.wait_for(feed.ready.wait(), 30)
        yield client
    nc = await nats.connect(stack.env.get("NOL_NATS_URL"))
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(settings.stream, name)
    await nc.drain()


async def make_client(gateway: httpx.AsyncClient, api: Api, area: str) -> dict:
    resp = await gateway.post(
        "/api/v1/clients", headers=api.headers, json={"name": "省平台", "area_code": area}
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def household(area: str) -> dict:
    return {"head_name": "王建国", "area_code": area, "platform_id": f"P{secrets.token_hex(6)}"}


async def test_nats_client_gets_only_its_county(counties, gateway, broker, api: Api):
    world, other_village = counties
    client = await make_client(gateway, api, world.code)
    await eventually(lambda: _has(broker["auth"], client["client_id"]), timeout=15)
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(
        broker["url"],
        user=client["client_id"],
        password=client["client_secret"],
        error_cb=on_error,
        reconnect_time_wait=0.2,  # a config reload may cut a connection: back at once, subscriptions too
    )
    try:
        mine = f"platform.{world.code[:2]}.{world.code[:4]}.{world.code}.>"
        got: list = []

        async def collect(msg) -> None:
            got.append(msg)

        await nc.subscribe(mine, cb=collect)
        theirs = f"platform.{other_village[:2]}.{other_village[:4]}.{other_village[:6]}.>"
        await nc.subscribe(theirs)
        await nc.subscribe("platform.>")
        await nc.flush()
        # Another county's household first, then ours: the feed keeps stream order.
        await api.ok("POST", "/api/v1/households", 201, json=household(other_village))
        ours = await api.ok("POST", "/api/v1/households", 201, json=household(world.villages[0]))
        feed = gateway.app.state.platform_feed
        try:
            msg = await eventually(lambda: _arrived(got, ours["id"]), timeout=30)
        except AssertionError:
            raise AssertionError(
                f"{feed.consumer.applied} {feed.published} {feed.last_subject} {feed.out.is_connected} {got} {errors}"
                f" {(broker['auth'].parent / 'nats.log').read_text()[-3000:]}"
            ) from None
        assert (
            msg.subject
            == f"platform.{world.code[:2]}.{world.code[:4]}.{world.code}.registry.household.created"
        )
        assert all(m.subject.startswith(mine[:-1]) for m in got)  # nothing of the other county
        body = json.loads(msg.data)
        assert body["platform_version"] == 1 and msg.headers["Nats-Msg-Id"] == body["id"]
        assert "head_name" not in body["data"] and body["data"]["area_code"] == world.villages[0]
        # Refused: the other county's subjects and the whole tree; publishing anything.
        violations = [e for e in errors if "permissions violation" in e.lower()]
        assert any(f'"{theirs}"' in e for e in violations) and any('"platform.>"' in e for e in violations)
    finally:
        await nc.close()
    with pytest.raises(Exception, match=r"(?i)authorization|no servers"):
        await nats.connect(
            broker["url"],
            user=client["client_id"],
            password="wrong",
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=15,
        )


async def test_webhook_is_signed_retried_and_logged(counties, gateway, api: Api):
    world, _ = counties
    receiver = Receiver(fail_first=1)
    with receiver.serving() as url:
        client = await make_client(gateway, api, world.code)
        resp = await gateway.post(
            f"/api/v1/clients/{client['client_id']}/webhooks",
            headers=api.headers,
            json={"url": url, "events": ["edu.registry.household.*"], "area_code": world.code},
        )
        assert resp.status_code == 201, resp.text
        hook = resp.json()
        ours = await api.ok("POST", "/api/v1/households", 201, json=household(world.villages[1]))
        await eventually(lambda: _async(len(receiver.ok) >= 1), timeout=20)
    stamp, signature, body = receiver.ok[0]
    expected = hmac.new(hook["secret"].encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert signature == f"v1={expected}"
    event = json.loads(body)
    assert event["subject"] == ours["id"] and "head_name" not in event["data"]
    assert receiver.failed == 1  # answered 500 once, then taken
    token = await gateway.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    as_client = {"Authorization": f"Bearer {token.json()['access_token']}"}
    log = await gateway.get(
        f"/api/v1/clients/{client['client_id']}/webhooks/{hook['id']}/deliveries", headers=as_client
    )
    assert log.status_code == 200, log.text
    (delivery,) = [d for d in log.json()["items"] if d["event_type"] == "edu.registry.household.created"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2
    assert delivery["last_status_code"] == 200


async def test_secret_rotation_overlaps(counties, gateway, api: Api, db):
    world, _ = counties
    client = await make_client(gateway, api, world.code)

    async def token(secret: str) -> int:
        resp = await gateway.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": secret,
            },
        )
        return resp.status_code

    rotated = await gateway.post(f"/api/v1/clients/{client['client_id']}/secret", headers=api.headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["client_secret"]
    assert new != client["client_secret"] and rotated.headers["Cache-Control"] == "no-store"
    assert await token(client["client_secret"]) == 200 and await token(new) == 200  # the overlap
    again = (await gateway.post(f"/api/v1/clients/{client['client_id']}/secret", headers=api.headers)).json()
    assert await token(client["client_secret"]) == 401  # two rotations ago: stopped at once
    await db.execute(
        "UPDATE gateway.api_client SET previous_secret_until = now() - interval '1 second' "
        "WHERE client_id = $1",
        client["client_id"],
    )
    assert await token(new) == 401 and await token(again["client_secret"]) == 200  # grace over


# -- helpers ------------------------------------------------------------------------------------------


async def _has(path: Path, text: str) -> bool:
    return text in await asyncio.to_thread(lambda: path.read_text() if path.exists() else "")


async def _arrived(got: list, subject_id: str):
    for m in got:
        if json.loads(m.data).get("subject") == subject_id:
            return m
    return None


async def _async(value):
    return value


class Receiver:
    """A local webhook receiver: answers 500 to the first `fail_first` requests, then 200."""

    def __init__(self, fail_first: int):
        self.fail_first, self.failed, self.ok = fail_first, 0, []

    @contextlib.contextmanager
    def serving(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.failed < outer.fail_first:
                    outer.failed += 1
                    self.send_response(500)
                else:
                    outer.ok.append((self.headers["X-Nol-Timestamp"], self.headers["X-Nol-Signature"], body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}/hook"
        finally:
            server.shutdown()
            server.server_close()
