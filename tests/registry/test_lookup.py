"""Bulk lookups: 1,000 households in one call (the platform's reconciliation), ID numbers by hash."""

import secrets

from tests.helpers import Api, World


async def platform_client(api: Api, area: str) -> Api:
    made = await api.ok("POST", "/api/v1/clients", 201, json={"name": "省平台", "area_code": area})
    resp = await api.client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        },
    )
    assert resp.status_code == 200, resp.text
    return Api(api.client, resp.json()["access_token"], made["client_id"])


async def test_bulk_lookup(world: World, api: Api, db):
    tag = f"L{world.code}{secrets.token_hex(3)}"
    # 1,000 households of the platform's roster (rows as the registry keeps them).
    await db.execute(
        "INSERT INTO registry.household (id, platform_id, head_name, area_code, statuses, version, created_at, "
        "updated_at) SELECT gen_random_uuid(), $1 || i, '户主' || i, $2, '[]'::jsonb, 1, now(), now() "
        "FROM generate_series(1, 1000) i",
        tag,
        world.villages[0],
    )
    platform = await platform_client(api, world.code)
    keys = [f"{tag}{i}" for i in range(1, 1001)]
    answer = await platform.ok("POST", "/api/v1/households/lookup", json={"platform_ids": keys})
    assert answer["found"] == 1000 and answer["missing"] == 0
    assert [i["key"] for i in answer["items"]] == keys and answer["items"][0]["household"]["area_code"]

    # By a student's ID number (the keyed hash): answered masked; outside the caller's scope: null.
    county = world.users["county"]
    household = await county.ok(
        "POST",
        "/api/v1/households",
        201,
        json={"head_name": "王建国", "area_code": world.villages[1], "platform_id": f"{tag}x"},
    )
    body = world.student_body(household_id=household["id"])
    student = await county.ok("POST", "/api/v1/students", 201, json=body)
    number = body["id_number"]
    unknown = world.student_body()["id_number"]
    answer = await county.ok("POST", "/api/v1/households/lookup", json={"id_numbers": [number, unknown]})
    hit, miss = answer["items"]
    assert hit["household"]["id"] == household["id"] and miss["household"] is None
    assert hit["key"] == number[:6] + "********" + number[-4:] and number not in str(answer)
    students = await county.ok(
        "POST", "/api/v1/students/lookup", json={"id_numbers": [number], "ids": [student["id"]]}
    )
    assert [i["student"]["id"] for i in students["items"]] == [student["id"]] * 2
    assert number not in str(students)

    elsewhere = await platform_client(api, "610000")  # a county with none of these
    answer = await elsewhere.ok(
        "POST", "/api/v1/households/lookup", json={"platform_ids": keys[:3], "id_numbers": [number]}
    )
    assert answer["found"] == 0 and all(i["household"] is None for i in answer["items"])

    too_many = await platform.post("/api/v1/households/lookup", json={"platform_ids": [*keys, "one-more"]})
    assert too_many.status_code == 422, too_many.text
    broken = number[:-1] + ("0" if number[-1] != "0" else "1")  # a wrong check digit
    bad = await county.post("/api/v1/households/lookup", json={"id_numbers": [broken]})
    assert bad.status_code == 422 and "id_numbers[0]" in bad.text
    # Platform clients may look up, and nothing else by POST.
    refused = await platform.post("/api/v1/students/lookup", json={"id_numbers": [number]})
    assert refused.status_code == 403
