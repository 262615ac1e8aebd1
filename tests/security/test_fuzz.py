"""Schemathesis against the gateway's merged OpenAPI, authenticated: no operation answers 5xx.

Bounded for `make test` (a few generated cases per operation, deterministic). Deeper runs:
`.venv/bin/schemathesis run http://127.0.0.1:8000/openapi.json -H 'Authorization: Bearer …'`.
"""

import asyncio
import subprocess
import sys
from pathlib import Path

from services.kit.stack import Stack
from tests.helpers import USER_PASSWORD, Api

EXAMPLES = 4


async def test_no_server_errors(stack: Stack, api: Api, tmp_path: Path):
    # The fuzzer writes whatever it likes: give it an admin of a city no other test uses (6190),
    # so its areas, users and year locks never touch the counties of the other tests.
    await api.ok(
        "POST",
        "/api/v1/users",
        201,
        json={"username": "fuzz_admin", "password": USER_PASSWORD, "role": "admin", "area_code": "6190"},
    )
    fuzzer = await Api.login(api.client, "fuzz_admin", USER_PASSWORD)
    schemathesis = Path(sys.executable).parent / "schemathesis"
    cmd = [
        str(schemathesis),
        "run",
        f"{stack.url()}/openapi.json",
        "-H",
        f"Authorization: Bearer {fuzzer.token}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        "examples,fuzzing",
        "--generation-deterministic",
        "--request-timeout",
        "30",
        "--workers",
        "2",
        "--suppress-health-check",
        "all",
        "--exclude-path",
        "/api/v1/stats/rebuild",
    ]
    result = await asyncio.to_thread(
        subprocess.run, cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    tail = result.stdout[-6000:]
    print(tail)
    assert result.returncode == 0, f"schemathesis found server errors:\n{tail}\n{result.stderr[-2000:]}"
