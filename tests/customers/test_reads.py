"""Reading customers and orders: aggregates, search, sorts, cursor pagination, 404s."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import Api
from tests.factories import customer, order


async def _seed(api: Api) -> None:
    people = [
        customer(
            external_id=f"c{i:02d}",
            name=f"Person {i:02d}",
            email=f"p{i}@shop.example",
            city="Pune" if i % 2 else "Mumbai",
            created_at=f"2025-01-{i + 1:02d}T00:00:00Z",
        )
        for i in range(25)
    ]
    people.append(
        customer(
            external_id="zed",
            name="Zed 100% Real_Name",
            email="zed@other.example",
            created_at="2024-06-01T00:00:00Z",
        )
    )
    assert (await api.client.post("/api/v1/customers", json=people)).status_code in (201, 202)
    # c00..c09 buy i+1 orders of 10.00 each (so spends tie in pairs below); others never buy.
    orders = [
        order(
            external_id=f"o{i}-{k}",
            customer_external_id=f"c{i:02d}",
            amount="10.00",
            ordered_at=f"2026-02-{i + 1:02d}T{k:02d}:00:00Z",
        )
        for i in range(10)
        for k in range(i + 1)
    ]
    assert (await api.client.post("/api/v1/orders", json=orders)).status_code in (201, 202)
    await api.drain()


async def _all_pages(api: Api, path: str, **params: object) -> list[dict[str, object]]:
    items, cursor, pages = [], None, 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = (await api.client.get(path, params=query)).json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert pages < 100


async def test_customer_detail_carries_aggregates_and_recent_orders(inline_api: Api) -> None:
    await _seed(inline_api)
    c = (await inline_api.client.get("/api/v1/customers/c09")).json()
    assert (c["order_count"], Decimal(c["total_spend"]), Decimal(c["avg_order_value"])) == (
        10,
        Decimal("100.00"),
        Decimal("10.00"),
    )
    assert c["first_order_at"] == "2026-02-10T00:00:00Z" and c["last_order_at"] == "2026-02-10T09:00:00Z"
    assert [o["external_id"] for o in c["recent_orders"]][:2] == ["o9-9", "o9-8"]
    assert len(c["recent_orders"]) == 10
    never = (await inline_api.client.get("/api/v1/customers/c20")).json()
    assert (never["order_count"], never["total_spend"], never["avg_order_value"]) == (0, "0.00", None)


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        ("-total_spend", "c09"),
        ("total_spend", None),
        ("-last_order_at", "c09"),
        ("last_order_at", "c00"),
        ("-created_at", "c24"),
        ("created_at", "zed"),
        ("name", "c00"),
        ("-order_count", "c09"),
    ],
)
async def test_every_sort_pages_through_everything_once_in_order(
    api: Api, sort: str, first: str | None
) -> None:
    await _seed(api)
    items = await _all_pages(api, "/api/v1/customers", sort=sort, limit=4)
    ids = [i["external_id"] for i in items]
    assert len(ids) == 26 and len(set(ids)) == 26
    if first:
        assert ids[0] == first
    field = sort.lstrip("-")
    values = [i[field] for i in items]
    present = [v for v in values if v is not None]
    assert values[: len(present)] == present, "nulls sort last"
    keyed = [Decimal(v) if field == "total_spend" else v for v in present]
    assert keyed == sorted(keyed, reverse=sort.startswith("-"))  # type: ignore[type-var]


async def test_search_by_name_email_or_external_id(inline_api: Api) -> None:
    await _seed(inline_api)

    async def search(q: str) -> set[str]:
        body = (await inline_api.client.get("/api/v1/customers", params={"q": q, "limit": 100})).json()
        return {c["external_id"] for c in body["items"]}

    assert await search("person 0") == {f"c0{i}" for i in range(10)}
    assert await search("OTHER.EXAMPLE") == {"zed"}
    assert await search("c07") == {"c07"}
    assert await search("100%") == {"zed"}  # wildcards are literal
    assert await search("_") == {"zed"}
    assert await search("nobody") == set()


async def test_orders_of_one_customer_newest_first_paginated(inline_api: Api) -> None:
    await _seed(inline_api)
    items = await _all_pages(inline_api, "/api/v1/orders", customer="c05", limit=2)
    assert [o["external_id"] for o in items] == [f"o5-{k}" for k in range(5, -1, -1)]
    assert len(await _all_pages(inline_api, "/api/v1/orders", limit=7)) == 55


async def test_unknown_customer_bad_cursor_and_bad_params_are_4xx(inline_api: Api) -> None:
    r = await inline_api.client.get("/api/v1/customers/nobody")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = await inline_api.client.get("/api/v1/customers", params={"cursor": "garbage!"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["query", "cursor"]
    r = await inline_api.client.get("/api/v1/customers", params={"sort": "password"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["query", "sort"]
    r = await inline_api.client.get("/api/v1/customers", params={"limit": 0})
    assert r.status_code == 422
    assert (await inline_api.client.get("/api/v1/nowhere")).status_code == 404


async def test_empty_lists(inline_api: Api) -> None:
    assert (await inline_api.client.get("/api/v1/customers")).json() == {"items": [], "next_cursor": None}
    assert (await inline_api.client.get("/api/v1/orders")).json() == {"items": [], "next_cursor": None}
