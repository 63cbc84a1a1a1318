"""Segments through the API: the field catalog, every 422 with its path, injection, CRUD."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


async def _seed(api: Api) -> None:
    customers = [
        {
            "external_id": "c1",
            "name": "Asha",
            "city": "Mumbai",
            "attributes": {"tier": "gold", "visits": 7, "vip": True},
        },
        {"external_id": "c2", "name": "Ravi", "city": "Pune", "attributes": {"tier": "silver", "visits": 2}},
        {"external_id": "c3", "name": "1 OR 1=1", "city": "Delhi"},
        {"external_id": "c4", "name": "'; DROP TABLE customers; --", "city": None},
    ]
    assert (await api.client.post("/api/v1/customers", json=customers)).status_code in (201, 202)
    orders = [
        {
            "external_id": "o1",
            "customer_external_id": "c1",
            "amount": "6000",
            "ordered_at": "2026-01-05T10:00:00Z",
        },
        {
            "external_id": "o2",
            "customer_external_id": "c2",
            "amount": "900",
            "ordered_at": "2026-10-05T10:00:00Z",
        },
    ]
    assert (await api.client.post("/api/v1/orders", json=orders)).status_code in (201, 202)
    await api.drain()


async def _preview(api: Api, rules: Any) -> Any:
    return await api.client.post("/api/v1/segments/preview", json={"rules": rules})


def cond(field: str, cmp: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "cmp": cmp, **({} if value is None else {"value": value})}


async def test_field_catalog_lists_core_fields_and_discovered_attributes(inline_api: Api) -> None:
    await _seed(inline_api)
    body = (await inline_api.client.get("/api/v1/segments/fields")).json()
    by_name = {f["name"]: f for f in body["fields"]}
    assert {
        "total_spend",
        "order_count",
        "avg_order_value",
        "first_order_at",
        "last_order_at",
        "created_at",
        "name",
        "email",
        "city",
    } <= set(by_name)
    assert by_name["total_spend"]["type"] == "money"
    assert "between" in by_name["total_spend"]["operators"]
    assert "within_last_days" in by_name["last_order_at"]["operators"]
    assert by_name["attributes.tier"]["type"] == "text"
    assert by_name["attributes.visits"]["type"] == "number"
    assert by_name["attributes.vip"]["operators"] == ["eq", "ne", "is_set", "is_not_set"]
    assert {"Mumbai", "Pune", "Delhi"} <= set(by_name["city"]["values"])


async def test_the_issue_example_nested_three_levels(inline_api: Api) -> None:
    await _seed(inline_api)
    rules = {
        "version": 1,
        "op": "and",
        "rules": [
            cond("total_spend", "gt", 500),
            {
                "op": "or",
                "rules": [cond("order_count", "lt", 3), cond("last_order_at", "not_within_last_days", 90)],
            },
            cond("city", "in", ["mumbai", "PUNE"]),
        ],
    }
    body = (await _preview(inline_api, rules)).json()
    assert body["count"] == 2
    assert [c["external_id"] for c in body["sample"]] == ["c1", "c2"]
    assert set(body["sample"][0]) >= {"name", "email", "city", "total_spend", "order_count", "last_order_at"}


async def test_empty_group_is_everyone_and_negated_empty_group_is_nobody(api: Api) -> None:
    await _seed(api)
    assert (await _preview(api, {"op": "and", "rules": []})).json()["count"] == 4
    assert (await _preview(api, {"op": "or", "rules": []})).json()["count"] == 4
    assert (await _preview(api, {"op": "and", "not": True, "rules": []})).json()["count"] == 0


BAD_RULES: list[tuple[str, Any, str, str]] = [
    (
        "unknown field",
        {"op": "and", "rules": [cond("password", "eq", "x")]},
        "$.rules.rules[0].field",
        "unknown_field",
    ),
    (
        "unknown attribute",
        {"op": "and", "rules": [cond("attributes.nope", "eq", "x")]},
        "$.rules.rules[0].field",
        "unknown_field",
    ),
    (
        "comparator for another type",
        {"op": "and", "rules": [cond("city", "gt", 5)]},
        "$.rules.rules[0].cmp",
        "bad_comparator",
    ),
    (
        "unknown comparator",
        {"op": "and", "rules": [cond("total_spend", "approx", 5)]},
        "$.rules.rules[0].cmp",
        "bad_comparator",
    ),
    (
        "text for money",
        {"op": "and", "rules": [cond("total_spend", "gt", "lots")]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "bool for money",
        {"op": "and", "rules": [cond("total_spend", "gt", True)]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "fraction for a count",
        {"op": "and", "rules": [cond("order_count", "eq", 2.5)]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "number for text",
        {"op": "and", "rules": [cond("city", "eq", 5)]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    ("empty in", {"op": "and", "rules": [cond("city", "in", [])]}, "$.rules.rules[0].value", "bad_value"),
    (
        "in not a list",
        {"op": "and", "rules": [cond("city", "in", "Pune")]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "between one value",
        {"op": "and", "rules": [cond("total_spend", "between", [5])]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "between reversed",
        {"op": "and", "rules": [cond("total_spend", "between", [9, 5])]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "bad date",
        {"op": "and", "rules": [cond("created_at", "before", "last tuesday")]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "naive date-time",
        {"op": "and", "rules": [cond("created_at", "before", "2026-01-01T10:00:00")]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "negative days",
        {"op": "and", "rules": [cond("last_order_at", "within_last_days", -3)]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "missing value",
        {"op": "and", "rules": [cond("total_spend", "gt")]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "value on is_set",
        {"op": "and", "rules": [cond("city", "is_set", "x")]},
        "$.rules.rules[0].value",
        "bad_value",
    ),
    (
        "unknown key in a condition",
        {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "x", "or": 1}]},
        "$.rules.rules[0].or",
        "extra_forbidden",
    ),
    ("unknown key in a group", {"op": "and", "rules": [], "limit": 5}, "$.rules.limit", "extra_forbidden"),
    ("bad op", {"op": "xor", "rules": []}, "$.rules.op", "literal_error"),
    ("bad version", {"version": 2, "op": "and", "rules": []}, "$.rules.version", "literal_error"),
    (
        "nested bad node",
        {
            "op": "and",
            "rules": [{"op": "or", "rules": [cond("city", "eq", "x"), cond("total_spend", "lt", "x")]}],
        },
        "$.rules.rules[0].rules[1].value",
        "bad_value",
    ),
]


@pytest.mark.parametrize(("case", "rules", "path", "kind"), BAD_RULES, ids=[c[0] for c in BAD_RULES])
async def test_bad_rules_are_422_naming_the_path(
    inline_api: Api, case: str, rules: Any, path: str, kind: str
) -> None:
    await _seed(inline_api)
    response = await _preview(inline_api, rules)
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert (path, kind) in [(d["path"], d["type"]) for d in details], details


async def test_every_bad_node_is_reported_at_once(inline_api: Api) -> None:
    rules = {"op": "and", "rules": [cond("nope", "eq", 1), {"op": "or", "rules": [cond("city", "gt", 1)]}]}
    details = (await _preview(inline_api, rules)).json()["error"]["details"]
    assert [d["path"] for d in details] == ["$.rules.rules[0].field", "$.rules.rules[1].rules[0].cmp"]


async def test_nesting_deeper_than_eight_is_refused(inline_api: Api) -> None:
    tree: dict[str, Any] = {"op": "and", "rules": [cond("city", "eq", "x")]}
    for _ in range(8):
        tree = {"op": "or", "rules": [tree]}
    response = await _preview(inline_api, tree)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["type"] == "too_deep"
    assert (await _preview(inline_api, tree["rules"][0])).status_code == 200  # 8 levels is fine


@pytest.mark.parametrize(
    "payload",
    ["1 OR 1=1", "'; DROP TABLE customers; --", {"$ne": None}, "__class__", '") OR ("1"="1', "%", "_"],
)
async def test_injection_attempts_are_plain_values(inline_api: Api, payload: Any) -> None:
    await _seed(inline_api)
    if isinstance(payload, str):
        body = (await _preview(inline_api, {"op": "and", "rules": [cond("name", "eq", payload)]})).json()
        expected = {"1 OR 1=1": 1, "'; DROP TABLE customers; --": 1}.get(payload, 0)
        assert body["count"] == expected
        contains = (
            await _preview(inline_api, {"op": "and", "rules": [cond("name", "contains", payload)]})
        ).json()
        assert contains["count"] == expected  # % and _ are literal, not wildcards
    else:
        response = await _preview(inline_api, {"op": "and", "rules": [cond("name", "eq", payload)]})
        assert response.status_code == 422
    for field in (
        payload if isinstance(payload, str) else "x",
        f"attributes.{payload}",
        "attributes.tier'--",
    ):
        response = await _preview(inline_api, {"op": "and", "rules": [cond(field, "eq", "x")]})
        assert response.status_code == 422
        assert response.json()["error"]["details"][0]["type"] == "unknown_field"
    assert (await inline_api.client.get("/api/v1/customers")).json()["items"]  # the table is still there


async def test_custom_attributes_of_each_type(inline_api: Api) -> None:
    await _seed(inline_api)

    async def count(rules: list[Any]) -> int:
        return int((await _preview(inline_api, {"op": "and", "rules": rules})).json()["count"])

    assert await count([cond("attributes.tier", "eq", "GOLD")]) == 1
    assert await count([cond("attributes.visits", "gte", 2)]) == 2
    assert await count([cond("attributes.visits", "between", [3, 7])]) == 1
    assert await count([cond("attributes.vip", "eq", True)]) == 1
    assert await count([cond("attributes.vip", "ne", True)]) == 3  # missing counts as "not true"
    assert await count([cond("attributes.tier", "is_not_set")]) == 2


async def test_saved_segments_crud(inline_api: Api) -> None:
    await _seed(inline_api)
    client = inline_api.client
    rules = {"op": "and", "rules": [cond("total_spend", "gte", 900)]}
    created = await client.post("/api/v1/segments", json={"name": "Big spenders", "rules": rules})
    assert created.status_code == 201
    segment = created.json()
    assert (segment["last_count"], segment["created_by"], segment["rules"]["version"]) == (2, "tests", 1)
    assert segment["last_counted_at"] is not None

    duplicate = await client.post("/api/v1/segments", json={"name": "Big spenders", "rules": rules})
    assert duplicate.status_code == 409
    bad = await client.post(
        "/api/v1/segments", json={"name": "Bad", "rules": {"op": "and", "rules": [cond("x", "eq", 1)]}}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["path"] == "$.rules.rules[0].field"
    nameless = await client.post("/api/v1/segments", json={"name": "  ", "rules": rules})
    assert nameless.status_code == 422

    sid = segment["id"]
    narrower = {"op": "and", "rules": [cond("total_spend", "gt", 1000)]}
    updated = await client.put(f"/api/v1/segments/{sid}", json={"name": "Whales", "rules": narrower})
    assert (updated.status_code, updated.json()["last_count"], updated.json()["name"]) == (200, 1, "Whales")
    assert (await client.get(f"/api/v1/segments/{sid}")).json()["name"] == "Whales"

    for i in range(3):
        await client.post("/api/v1/segments", json={"name": f"S{i}", "rules": {"op": "and", "rules": []}})
    page = (await client.get("/api/v1/segments", params={"limit": 2})).json()
    assert [s["name"] for s in page["items"]] == ["S2", "S1"]
    rest = (await client.get("/api/v1/segments", params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert [s["name"] for s in rest["items"]] == ["S0", "Whales"]
    assert rest["next_cursor"] is None

    assert (await client.delete(f"/api/v1/segments/{sid}")).status_code == 204
    assert (await client.get(f"/api/v1/segments/{sid}")).status_code == 404
    assert (await client.delete(f"/api/v1/segments/{sid}")).status_code == 404


async def test_a_non_exact_preview_stops_at_the_cap_and_says_so(api: Api) -> None:
    await _seed(api)
    everyone = {"op": "and", "rules": []}

    async def preview(**options: Any) -> Any:
        response = await api.client.post("/api/v1/segments/preview", json={"rules": everyone, **options})
        assert response.status_code == 200, response.text
        return response.json()

    exact = await preview()
    assert (exact["count"], exact["count_is_lower_bound"]) == (4, False)
    capped = await preview(exact=False, cap=2)
    assert (capped["count"], capped["count_is_lower_bound"]) == (2, True)
    assert [c["external_id"] for c in capped["sample"]] == ["c1", "c2", "c3", "c4"]
    roomy = await preview(exact=False, cap=4)
    assert (roomy["count"], roomy["count_is_lower_bound"]) == (4, False)
    bad = await api.client.post(
        "/api/v1/segments/preview", json={"rules": everyone, "exact": False, "cap": 0}
    )
    assert bad.status_code == 422
