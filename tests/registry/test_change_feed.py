"""Change feeds: commit-safe order (a late-committing write is never skipped), tombstones, left scope."""

import secrets
import uuid

import asyncpg

from services.contracts.calendar import today as local_today
from tests.helpers import Api, World, eventually

FEED = "/api/v1/changes/students"


async def drain(api: Api, after: str | None = None, path: str = FEED) -> tuple[list[dict], str | None]:
    """Every entry after a cursor (all pages), and the cursor to resume from."""
    entries: list[dict] = []
    while True:
        params = {"limit": 50, **({"cursor": after} if after else {})}
        page = await api.ok("GET", path, params=params)
        entries += page["items"]
        after = page["sync_cursor"]
        if page["next_cursor"] is None:
            return entries, after
        assert page["next_cursor"] == after


def seen(entries: list[dict], row_id: str, op: str = "upsert") -> list[dict]:
    return [e for e in entries if e["id"] == row_id and e["op"] == op]


class TestChangeFeed:
    async def test_a_late_committing_write_is_not_skipped(self, world: World, db, owner_url: str):
        county = world.users["county"]
        early, late = await world.student(), await world.student()

        async def both_there():
            got, at = await drain(county)
            return (got, at) if seen(got, early["id"]) and seen(got, late["id"]) else None

        first, cursor = await eventually(both_there, timeout=10)
        assert all(e["item"]["id"] == e["id"] for e in first if e["op"] == "upsert")
        slow = await asyncpg.connect(owner_url)
        try:
            # A write that began first and commits last (a slow phone, a long request) ...
            tx = slow.transaction()
            await tx.start()
            await slow.execute(
                "UPDATE registry.student SET name = '迟到', version = version + 1 WHERE id = $1",
                uuid.UUID(early["id"]),
            )
            # ... while a later write commits at once.
            await db.execute(
                "UPDATE registry.student SET name = '先到', version = version + 1 WHERE id = $1",
                uuid.UUID(late["id"]),
            )
            # A reader now must not move its cursor past the running write: neither is served yet.
            middle, cursor2 = await drain(county, cursor)
            assert not seen(middle, early["id"]) and not seen(middle, late["id"])
            await tx.commit()
        finally:
            await slow.close()
        # From the cursor it kept, the reader gets both; the late write is not lost.

        async def both():
            got, _ = await drain(county, cursor2)
            return got if seen(got, early["id"]) and seen(got, late["id"]) else None

        after = await eventually(both, timeout=10)
        names = {e["id"]: e["item"]["name"] for e in after if e["op"] == "upsert"}
        assert (names[early["id"]], names[late["id"]]) == ("迟到", "先到")
        assert not any(e in first for e in after)
        # A bad cursor names the parameter.
        resp = await county.get(FEED, params={"cursor": "not-a-cursor"})
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["cursor"]

    async def test_tombstones_and_leaving_a_scope(self, world: World, db):
        county, township, school = world.users["county"], world.users["township"], world.users["school"]
        s = await world.student("primary", as_=county)
        hh = await county.ok(
            "POST",
            "/api/v1/households",
            201,
            json={"head_name": "王建国", "area_code": world.villages[0], "platform_id": secrets.token_hex(6)},
        )
        _, t_cursor = await drain(township)
        _, s_cursor = await drain(school)
        _, c_cursor = await drain(county)
        # The student moves to a school of the other township: gone from this township and school.
        await county.ok(
            "POST",
            f"/api/v1/students/{s['id']}/enrollment-changes",
            201,
            json={
                "kind": "transfer",
                "effective_date": local_today().isoformat(),
                "details": {"school_code": world.schools["junior"]["code"]},
            },
        )
        await db.execute("DELETE FROM registry.household WHERE id = $1", uuid.UUID(hh["id"]))

        async def feed_of(api: Api, cursor: str | None, *wanted: tuple[str, str]):
            got, _ = await drain(api, cursor)
            return got if all(seen(got, row, op) for row, op in wanted) else None

        for api, cursor in ((township, t_cursor), (school, s_cursor)):
            got = await eventually(lambda a=api, c=cursor: feed_of(a, c, (s["id"], "left_scope")), timeout=10)
            assert not seen(got, s["id"])
        got = await eventually(lambda: feed_of(county, c_cursor, (s["id"], "upsert"), (hh["id"], "deleted")))
        # The county sees both ends: it left the old township's codes, and is still its own.
        ops = [e["op"] for e in got if e["id"] == s["id"]]
        assert ops[-2:] == ["left_scope", "upsert"]
        assert seen(got, s["id"])[-1]["item"]["area_code"] == world.townships[1]
