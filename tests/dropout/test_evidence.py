"""Evidence files (佐证材料): a home visit with a photo and GPS, stored and readable only within scope.

A village cadre uploads a photo of a home visit (JPEG, GPS, device time) for a child of its
village and attaches it to the visit recorded on the child's case. The SHA-256 is recorded; the
file comes back byte for byte through a short-lived signed link, without a token. A user of
another county (or another village) gets 404 for the record; a link that is altered, used for
another file, or expired is refused. Only JPEG, PNG and PDF (by their bytes) up to 10 MB.
"""

import hashlib
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

import httpx

from services.kit.settings import Settings
from services.kit.storage import LinkSigner
from tests import conftest
from tests.dropout.helpers import CASES, household, projected
from tests.helpers import Api, World

EVIDENCE = "/api/v1/evidence"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + secrets.token_bytes(2048) + b"\xff\xd9"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _upload(api: Api, body: bytes, status: int = 201, name: str = "visit.jpg", **form) -> dict:
    data = {"kind": "photo", **{k: str(v) for k, v in form.items()}}
    resp = await api.post(EVIDENCE, data=data, files={"file": (name, body, "image/jpeg")})
    assert resp.status_code == status, resp.text
    return resp.json()


def _link(url: str) -> str:
    """The path and query of a download link (the test client talks to the gateway it names)."""
    parsed = httpx.URL(url)
    return f"{parsed.path}?{parsed.query.decode()}"


async def _case_for(world: World, db) -> tuple[dict, dict]:
    hh = await household(world, world.villages[0])
    student = await world.student("primary", household_id=hh["id"])
    await projected(db, student["id"])
    case = await world.users["county"].ok("POST", CASES, 201, json={"student_id": student["id"]})
    return student, case


async def test_a_visit_photo_with_gps_is_stored_and_read_only_within_scope(world: World, api: Api, stack, db):
    cadre = world.users["village"]
    student, case = await _case_for(world, db)
    taken = "2026-10-12T09:41:00+08:00"
    photo = await _upload(cadre, JPEG, gps_lat=33.0712, gps_lon=108.9721, device_time=taken,
                          student_id=student["id"], note="入户走访")  # fmt: skip
    assert photo["sha256"] == hashlib.sha256(JPEG).hexdigest() and photo["size_bytes"] == len(JPEG)
    assert (photo["content_type"], photo["gps_lat"], photo["gps_lon"]) == ("image/jpeg", 33.0712, 108.9721)
    assert datetime.fromisoformat(photo["device_time"]) == datetime.fromisoformat(taken)
    assert photo["village_code"] == world.villages[0] and photo["student_id"] == student["id"]

    at = datetime.now(UTC).isoformat()
    visit = {"kind": "home_visit", "occurred_at": at, "outcome": "reached", "evidence": [photo["id"]]}
    got = await cadre.ok("POST", f"{CASES}/{case['id']}/actions", 201, json=visit)
    assert got["actions"][-1]["evidence"] == [photo["id"]]
    record = await world.users["county"].ok("GET", f"{EVIDENCE}/{photo['id']}")
    assert record["case_id"] == case["id"]

    # The file itself, by the link, without a token: byte for byte.
    link = _link(record["download_url"])
    resp = await api.client.get(link)
    assert resp.status_code == 200 and resp.content == JPEG
    assert resp.headers["content-type"] == "image/jpeg"

    # Out of scope: another county's user, another village's cadre.
    other = await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)
    neighbour = await world.user("village", world.villages[1])
    for outsider in (other.users["county"], other.users["village"], neighbour):
        assert (await outsider.get(f"{EVIDENCE}/{photo['id']}")).status_code == 404
    # Altered or borrowed links, and an expired one, are refused.
    path, _, query = link.partition("?")
    params = dict(p.split("=") for p in query.split("&"))
    forged = f"{path}?expires={int(params['expires']) + 3600}&signature={params['signature']}"
    assert (await api.client.get(forged)).status_code == 403
    mine = await _upload(other.users["county"], PDF, name="notice.pdf")
    borrowed = f"/files/v1/evidence/{mine['id']}?{query}"
    assert (await api.client.get(borrowed)).status_code == 403
    deployment = Settings(data_dir=Path(stack.env["NOL_DATA_DIR"]), data_key=os.environ.get("NOL_DATA_KEY"))
    signer = LinkSigner.of(deployment)
    expires, signature = signer.sign(path, now=datetime.now(UTC).timestamp() - 3600)
    assert (await api.client.get(f"{path}?expires={expires}&signature={signature}")).status_code == 403
    fresh, fresh_signature = signer.sign(path)
    assert (await api.client.get(f"{path}?expires={fresh}&signature={fresh_signature}")).status_code == 200


async def test_only_images_and_pdfs_within_the_size_limit(world: World, db):
    county = world.users["county"]
    resp = await county.post(EVIDENCE, data={"kind": "photo"},
                             files={"file": ("visit.jpg", b"<html>not a photo</html>", "image/jpeg")})  # fmt: skip
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-1] == "file"
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (10 * 1024 * 1024)
    resp = await county.post(EVIDENCE, data={"kind": "photo"}, files={"file": ("big.png", big, "image/png")})
    assert resp.status_code == 413 and resp.headers["content-type"].startswith("application/problem+json")
    resp = await county.post(EVIDENCE, data={"kind": "photo", "gps_lat": "33.1"},
                             files={"file": ("a.jpg", JPEG, "image/jpeg")})  # fmt: skip
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-1] == "gps_lon"
    assert (await _upload(county, PDF, name="notice.pdf"))["content_type"] == "application/pdf"

    # A file of one child cannot be attached to another child's case.
    _, case = await _case_for(world, db)
    hh = await household(world, world.villages[0])
    sibling = await world.student("primary", household_id=hh["id"])
    await projected(db, sibling["id"])
    theirs = await _upload(county, JPEG, student_id=sibling["id"])
    visit = {"kind": "home_visit", "outcome": "reached", "evidence": [theirs["id"]]}
    resp = await county.post(f"{CASES}/{case['id']}/actions", json=visit)
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-2:] == ["evidence", 0]
