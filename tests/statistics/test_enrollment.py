"""The statistics service counts students from registry events, within the caller's scope."""

from tests.helpers import World, eventually


async def test_created_student_is_counted_within_seconds(world: World):
    county = world.users["county"]
    before = await county.ok("GET", "/api/v1/stats/enrollment")
    assert before["students"] == 0
    await world.student("primary", as_=county)
    await world.student("junior", stage="junior", grade=2, as_=county)

    async def counted():
        got = await county.ok("GET", "/api/v1/stats/enrollment")
        return got if got["students"] == 2 else None

    stats = await eventually(counted, timeout=5)
    assert stats["by_stage"] == {"primary": 1, "junior": 1}
    assert stats["area_code"] == world.code


async def test_scope_of_figures(world: World):
    await world.student("primary")
    await world.student("junior")
    township = world.users["township"]

    async def counted():
        got = await township.ok("GET", "/api/v1/stats/enrollment")
        return got if got["students"] == 1 else None

    await eventually(counted, timeout=5)
    # Another county's figures are not the township's to see.
    resp = await township.get("/api/v1/stats/enrollment", params={"area_code": world.townships[1]})
    assert resp.status_code == 404
