"""The operators' CLI (deploy.admin): reset a password and log in with it; replay the stream; rotate keys."""

import base64
import os
import subprocess
import sys

import httpx
import pytest

from api_gateway.keys import load_keyring
from deploy.admin import replay_stream, reset_password, rotate_keys
from deploy.stack import Stack
from services.kit.gateway_trust import hop_key, own_hop_keys
from services.kit.settings import SERVICES, Settings
from tests.helpers import USER_PASSWORD, World, eventually


def admin_cli(stack: Stack, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deploy.admin", *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=stack.full_env,
        timeout=120,
    )


def stack_settings(stack: Stack) -> Settings:
    """The stack's database and stream (the test process's own environment names neither)."""
    env = stack.full_env
    return Settings(
        database_url=env["NOL_DATABASE_URL"],
        nats_url=env["NOL_NATS_URL"],
        stream=env.get("NOL_STREAM", "EDU"),
        subject_prefix=env.get("NOL_SUBJECT_PREFIX", "edu"),
        db_role_password=env.get("NOL_DB_ROLE_PASSWORD"),
    )


async def login(client: httpx.AsyncClient, username: str, password: str) -> int:
    resp = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
    )
    return resp.status_code


async def test_reset_password_then_log_in_with_it(stack: Stack, world: World, db):
    county = world.users["county"]
    old_refresh = county.refresh_token
    done = admin_cli(
        stack, "users", "reset-password", county.username, "--password-stdin", stdin="Fresh-Pass-2026\n"
    )
    assert done.returncode == 0, done.stderr
    assert await login(county.client, county.username, USER_PASSWORD) == 401
    assert await login(county.client, county.username, "Fresh-Pass-2026") == 200
    # Its earlier login is over, and the reset is on the audit chain.
    refreshed = await county.client.post(
        "/api/v1/auth/refresh", data={"grant_type": "refresh_token", "refresh_token": old_refresh}
    )
    assert refreshed.status_code in (400, 401), refreshed.text
    audited = await db.fetchval(
        "SELECT count(*) FROM gateway.audit_log WHERE action = 'user.password_reset' AND actor LIKE 'cli:%'"
    )
    assert audited >= 1
    with pytest.raises(ValueError, match="at least"):
        await reset_password(county.username, "short")
    with pytest.raises(LookupError):
        await reset_password("no-such-user-x", "Fresh-Pass-2026", settings=stack_settings(stack))


async def test_replay_from_a_sequence_applies_each_event_once(stack: Stack, world: World):
    import nats

    nc = await nats.connect(stack.env["NOL_NATS_URL"])
    try:
        start = (await nc.jetstream().stream_info(stack.env.get("NOL_STREAM", "EDU"))).state.last_seq + 1
    finally:
        await nc.close()
    student = await world.student("primary")  # an event on the statistics consumer's subjects

    async def counted():
        got = await world.users["county"].ok("GET", "/api/v1/stats/enrollment")
        return got["students"] >= 1

    await eventually(counted, timeout=30)
    assert student["id"]
    counts = await replay_stream(
        "statistics", consumer="statistics", from_seq=start, to_seq=None, settings=stack_settings(stack)
    )
    # The student's event was applied by the running service already: the inbox skips it. Others on the
    # consumer's subjects may be applied here first (the running consumer then skips them).
    assert counts["skipped"] >= 1 and counts["failed"] == 0, counts
    again = await replay_stream(
        "statistics", consumer="statistics", from_seq=start, to_seq=None, settings=stack_settings(stack)
    )
    assert again["applied"] == 0 and again["skipped"] == again["read"] >= counts["read"], again


def test_keys_rotate_keeps_the_old_key_verifiable(tmp_path):
    settings = Settings(data_dir=tmp_path)
    before = load_keyring(settings)
    done = rotate_keys(settings)
    after = load_keyring(settings)
    assert done["previous_kid"] == before.kid and after.kid == done["new_kid"] != before.kid
    assert {k["kid"] for k in after.public_keys} == {before.kid, after.kid}
    assert all("PRIVATE" not in p.read_text() for p in (tmp_path / "keys" / "previous").glob("*.pem"))


def test_keys_hop_prints_each_services_own_key_from_the_gateways_secret(tmp_path):
    secret = base64.b64encode(os.urandom(32)).decode()
    env = {**os.environ, "NOL_HOP_SECRET": secret, "NOL_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "deploy.admin", "keys", "hop"], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = dict(line.split("=", 1) for line in done.stdout.split())
    assert sorted(printed) == sorted(f"HOP_KEY_{s.upper()}" for s in SERVICES)
    gateway = Settings(hop_secret=secret, data_dir=tmp_path)
    for service in SERVICES:  # what a service given that line accepts is what the gateway MACs with
        given = Settings(hop_key=printed[f"HOP_KEY_{service.upper()}"], data_dir=tmp_path)
        assert own_hop_keys(given, service) == (hop_key(gateway, service),)
    env.pop("NOL_HOP_SECRET")
    refused = subprocess.run([sys.executable, "-m", "deploy.admin", "keys", "hop"], env=env, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 1 and "NOL_HOP_SECRET" in refused.stderr
