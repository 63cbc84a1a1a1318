"""Ingestion through the HTTP API: the accepted forms, and every kind of bad input refused whole."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from pulsecrm.auth import service as auth_service
from tests.conftest import Api, running_api
from tests.factories import customer, order


def _expected_status(api: Api) -> int:
    return 202 if api.services.redis is not None else 201


async def _count(api: Api, path: str = "/api/v1/customers") -> int:
    await api.drain()
    response = await api.client.get(path, params={"limit": 500})
    assert response.status_code == 200
    return len(response.json()["items"])


async def test_one_record_an_array_and_ndjson_are_accepted(api: Api) -> None:
    status = _expected_status(api)
    r = await api.client.post("/api/v1/customers", json=customer(external_id="c1"))
    assert (r.status_code, r.json()) == (
        status,
        {"status": "queued" if status == 202 else "written", "count": 1},
    )
    r = await api.client.post(
        "/api/v1/customers", json=[customer(external_id="c2"), customer(external_id="c3")]
    )
    assert r.status_code == status and r.json()["count"] == 2
    ndjson = b"\n".join(orjson.dumps(order(external_id=f"o{i}", customer_external_id="c1")) for i in range(3))
    r = await api.client.post(
        "/api/v1/orders", content=ndjson + b"\n\n", headers={"content-type": "application/x-ndjson"}
    )
    assert r.status_code == status and r.json()["count"] == 3

    assert await _count(api) == 3
    c1 = (await api.client.get("/api/v1/customers/c1")).json()
    assert (c1["order_count"], Decimal(c1["total_spend"])) == (3, Decimal("300.00"))
    assert len(c1["recent_orders"]) == 3


BAD_ORDERS: list[tuple[str, Any, int, list[Any]]] = [
    ("wrong type", [order(amount="lots")], 422, [0, "amount"]),
    (
        "missing field",
        [{"external_id": "o1", "amount": "1", "ordered_at": "2026-01-01T00:00:00Z"}],
        422,
        [0, "customer_external_id"],
    ),
    ("negative amount", [order(amount="-5")], 422, [0, "amount"]),
    ("too many decimals", [order(amount="1.005")], 422, [0, "amount"]),
    ("unknown field", [order(coupon="X")], 422, [0, "coupon"]),
    ("naive datetime", [order(ordered_at="2026-01-01T10:00:00")], 422, [0, "ordered_at"]),
    ("bad currency", [order(currency="rupees")], 422, [0, "currency"]),
    (
        "second of two bad",
        [order(external_id="ok"), order(external_id="bad", amount=None)],
        422,
        [1, "amount"],
    ),
    ("not an object", ["just a string"], 422, [0]),
    ("empty array", [], 422, []),
    ("scalar body", 42, 422, []),
]


@pytest.mark.parametrize(("case", "body", "status", "loc"), BAD_ORDERS, ids=[c[0] for c in BAD_ORDERS])
async def test_bad_orders_are_refused_and_nothing_is_written(
    api: Api, case: str, body: Any, status: int, loc: list[Any]
) -> None:
    r = await api.client.post("/api/v1/orders", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_input"
    assert loc in [d["loc"] for d in error["details"]] or (not loc and error["details"])
    assert await _count(api, "/api/v1/orders") == 0


async def test_every_bad_record_is_named_with_its_index_and_field(inline_api: Api) -> None:
    body = [
        order(external_id="a"),
        order(external_id="b", amount="-1"),
        customer(),
        order(external_id="d", ordered_at="soon"),
    ]
    r = await inline_api.client.post("/api/v1/orders", json=body)
    assert r.status_code == 422
    named = {(d["index"], d["field"]) for d in r.json()["error"]["details"]}
    assert {
        (1, "amount"),
        (2, "customer_external_id"),
        (2, "amount"),
        (2, "ordered_at"),
        (2, "name"),
        (3, "ordered_at"),
    } <= named
    assert "3 of 4 records are invalid" in r.json()["error"]["message"]
    assert await _count(inline_api, "/api/v1/orders") == 0


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", ""])
async def test_bad_email_is_refused(inline_api: Api, email: str) -> None:
    r = await inline_api.client.post("/api/v1/customers", json=[customer(email=email)])
    assert r.status_code == 422
    assert [0, "email"] in [d["loc"] for d in r.json()["error"]["details"]]
    assert await _count(inline_api) == 0


async def test_nul_characters_are_refused_not_a_500(api: Api) -> None:
    body = [
        customer(name="A\x00B"),
        customer(external_id="c\x00"),
        customer(city="\x00"),
        customer(attributes={"note": "x\x00"}),
    ]
    r = await api.client.post("/api/v1/customers", json=body)
    assert r.status_code == 422
    locs = [d["loc"] for d in r.json()["error"]["details"]]
    assert [loc for loc in locs if len(loc) == 2] == [[0, "name"], [1, "external_id"], [2, "city"]]
    assert any(loc[:3] == [3, "attributes", "note"] for loc in locs)
    r = await api.client.post("/api/v1/orders", json=[order(items=[{"sku": "A\x00"}])])
    assert r.status_code == 422
    assert await _count(api) == 0


async def test_bad_attribute_key_and_value_are_refused(inline_api: Api) -> None:
    r = await inline_api.client.post(
        "/api/v1/customers",
        json=[customer(attributes={"bad key!": 1}), customer(attributes={"nested": {"a": 1}})],
    )
    assert r.status_code == 422
    locs = [d["loc"][:3] for d in r.json()["error"]["details"]]
    assert [0, "attributes", "bad key!"] in locs and [1, "attributes", "nested"] in locs


async def test_more_than_ten_thousand_records_is_413_and_nothing_is_written(api: Api) -> None:
    body = [order(external_id=f"o{i}") for i in range(10_001)]
    r = await api.client.post("/api/v1/orders", json=body)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    ndjson = b"\n".join(orjson.dumps(o) for o in body)
    r = await api.client.post(
        "/api/v1/orders", content=ndjson, headers={"content-type": "application/x-ndjson"}
    )
    assert r.status_code == 413
    assert await _count(api, "/api/v1/orders") == 0


async def test_exactly_ten_thousand_records_are_accepted(api: Api) -> None:
    r = await api.client.post("/api/v1/orders", json=[order(external_id=f"o{i}") for i in range(10_000)])
    assert r.status_code == _expected_status(api)
    await api.drain()
    c1 = (await api.client.get("/api/v1/customers/c1")).status_code
    assert c1 == 404  # the orders are kept without their customer...
    await api.client.post("/api/v1/customers", json=customer())
    await api.drain()
    body = (await api.client.get("/api/v1/customers/c1")).json()
    assert body["order_count"] == 10_000  # ...and count once it arrives
    assert Decimal(body["total_spend"]) == Decimal("1000000.00")


async def test_body_over_the_byte_limit_is_413(sqlite_url: str) -> None:
    async with running_api(sqlite_url, max_body_bytes=2048) as api:
        r = await api.client.post("/api/v1/orders", json=[order(external_id=f"o{i}") for i in range(50)])
        assert r.status_code == 413
        assert await _count(api, "/api/v1/orders") == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed_body"),
        (b'[{"external_id": "o1",', "application/json", 400, "malformed_body"),
        (b"", "application/json", 400, "malformed_body"),
        (b"\xff\xfe", "application/json", 400, "malformed_body"),
        (b"external_id,amount\no1,5", "text/csv", 415, "unsupported_media_type"),
    ],
    ids=["garbage", "truncated", "empty", "not utf-8", "csv to the JSON endpoint"],
)
async def test_malformed_bodies_are_4xx_not_500(
    api: Api, body: bytes, content_type: str, status: int, code: str
) -> None:
    r = await api.client.post("/api/v1/orders", content=body, headers={"content-type": content_type})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert await _count(api, "/api/v1/orders") == 0


async def test_malformed_ndjson_names_the_line_and_writes_nothing(api: Api) -> None:
    lines = [
        orjson.dumps(order(external_id="o1")),
        b'{"external_id": ',
        orjson.dumps(order(external_id="o3")),
    ]
    r = await api.client.post(
        "/api/v1/orders", content=b"\n".join(lines), headers={"content-type": "application/x-ndjson"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["details"][0]["line"] == 2
    assert await _count(api, "/api/v1/orders") == 0


async def test_missing_wrong_and_revoked_keys_are_refused(inline_api: Api) -> None:
    client = inline_api.client
    no_key = await client.post("/api/v1/orders", json=order(), headers={"Authorization": ""})
    assert no_key.status_code == 401 and no_key.headers["www-authenticate"] == "Bearer"
    wrong = await client.post(
        "/api/v1/orders", json=order(), headers={"Authorization": "Bearer pk_nope_nope"}
    )
    assert wrong.status_code == 401
    basic = await client.post("/api/v1/orders", json=order(), headers={"Authorization": "Basic dTpw"})
    assert basic.status_code == 401

    async with inline_api.services.db.sessions() as session:
        new = await auth_service.create_key(session, name="to revoke")
        await session.commit()
    headers = {"Authorization": f"Bearer {new.secret}"}
    assert (
        await client.post("/api/v1/orders", json=order(external_id="ok"), headers=headers)
    ).status_code == 201
    async with inline_api.services.db.sessions() as session:
        await auth_service.revoke_key(session, key_id=new.key.id)
        await session.commit()
    inline_api.services.api_keys.forget()  # what the revoking process does; others wait the TTL
    revoked = await client.post("/api/v1/orders", json=order(external_id="late"), headers=headers)
    assert revoked.status_code == 401
    orders = (await client.get("/api/v1/orders")).json()["items"]
    assert [o["external_id"] for o in orders] == ["ok"]


async def test_a_revoke_reaches_another_process_within_the_cache_ttl(sqlite_url: str) -> None:
    async with running_api(sqlite_url, api_key_cache_seconds=0) as api:
        assert (await api.client.get("/api/v1/customers")).status_code == 200
        # Revoked through a different Database object, as `pulsecrm apikey revoke` would.
        from pulsecrm.db import Database

        other = Database(sqlite_url)
        async with other.sessions() as session:
            keys = await auth_service.list_keys(session)
            await auth_service.revoke_key(session, key_id=keys[0].id)
            await session.commit()
        await other.dispose()
        assert (await api.client.get("/api/v1/customers")).status_code == 401


async def test_a_key_without_the_scope_is_forbidden(inline_api: Api) -> None:
    async with inline_api.services.db.sessions() as session:
        read_only = await auth_service.create_key(session, name="reader", scopes=["read"])
        await session.commit()
    headers = {"Authorization": f"Bearer {read_only.secret}"}
    r = await inline_api.client.post("/api/v1/orders", json=order(), headers=headers)
    assert r.status_code == 403 and "ingest" in r.json()["error"]["message"]
    assert (await inline_api.client.get("/api/v1/orders", headers=headers)).status_code == 200


async def test_keys_are_stored_hashed(inline_api: Api) -> None:
    async with inline_api.services.db.sessions() as session:
        keys = await auth_service.list_keys(session)
    assert keys and all(inline_api.key not in (k.key_hash, k.prefix) for k in keys)
    assert keys[0].key_hash == auth_service.hash_key(inline_api.key)


async def test_an_order_moved_beside_a_new_one_counts_right_for_both_customers(api: Api) -> None:
    """A new order is added to its customer's totals; one batch that also moves that customer's
    stored order away must recompute them (the delta alone would count the moved order still)."""
    status = _expected_status(api)
    r = await api.client.post(
        "/api/v1/customers", json=[customer(external_id="c1"), customer(external_id="c2")]
    )
    assert r.status_code == status
    r = await api.client.post(
        "/api/v1/orders", json=order(external_id="o1", customer_external_id="c1", amount="10")
    )
    assert r.status_code == status
    await api.drain()
    r = await api.client.post(
        "/api/v1/orders",
        json=[
            order(external_id="o1", customer_external_id="c2", amount="10"),
            order(external_id="o2", customer_external_id="c1", amount="5"),
        ],
    )
    assert r.status_code == status
    await api.drain()
    totals = {}
    for c in ("c1", "c2"):
        body = (await api.client.get(f"/api/v1/customers/{c}")).json()
        totals[c] = (body["order_count"], Decimal(body["total_spend"]))
    assert totals == {"c1": (1, Decimal("5.00")), "c2": (1, Decimal("10.00"))}
