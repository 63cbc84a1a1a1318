"""The AI routes through the HTTP API, on SQLite and PostgreSQL, with the offline engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.conftest import Api, running_api

ISSUE_PROMPT = "people who spent more than ₹5k but haven't ordered in 3 months, in Mumbai or Pune"
NOW = datetime.now(UTC)


def _ago(days: int) -> str:
    return (NOW - timedelta(days=days)).isoformat()


async def _seed(api: Api) -> None:
    # (id, city, amounts, days since each order)
    people = [
        ("c1", "Mumbai", ["6000"], [200]),  # big, lapsed, Mumbai: matches the issue prompt
        ("c2", "Pune", ["3000", "4000"], [150, 120]),  # 7000, lapsed, Pune: matches
        ("c3", "Pune", ["9000"], [10]),  # recent: no
        ("c4", "Delhi", ["8000"], [300]),  # Delhi: no
        ("c5", "Mumbai", ["100"], [400]),  # small: no
        ("c6", "Mumbai", [], []),  # never ordered: no
    ]
    customers = [{"external_id": i, "name": f"Person {i}", "city": city} for i, city, _, _ in people]
    orders = [
        {"external_id": f"{i}-{k}", "customer_external_id": i, "amount": amount, "ordered_at": _ago(days)}
        for i, _, amounts, ages in people
        for k, (amount, days) in enumerate(zip(amounts, ages, strict=True))
    ]
    assert (await api.client.post("/api/v1/customers", json=customers)).status_code in (201, 202)
    assert (await api.client.post("/api/v1/orders", json=orders)).status_code in (201, 202)


async def test_words_to_a_segment(database_url: str) -> None:
    async with running_api(database_url) as api:
        await _seed(api)
        response = await api.client.post("/api/v1/ai/segment", json={"prompt": ISSUE_PROMPT})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["engine"] == "offline" and body["fallback_reason"] is None
        assert body["rules"] == {
            "version": 1,
            "op": "and",
            "rules": [
                {"field": "total_spend", "cmp": "gt", "value": 5000},
                {"field": "last_order_at", "cmp": "not_within_last_days", "value": 90},
                {"field": "city", "cmp": "in", "value": ["Mumbai", "Pune"]},
            ],
        }
        assert [c["path"] for c in body["conditions"]] == ["$.rules[0]", "$.rules[1]", "$.rules[2]"]
        assert body["conditions"][2]["text"] == "City is Mumbai or Pune"
        assert body["not_understood"] == [] and body["count"] == 2
        preview = await api.client.post("/api/v1/segments/preview", json={"rules": body["rules"]})
        assert preview.json()["count"] == 2
        assert {c["external_id"] for c in preview.json()["sample"]} == {"c1", "c2"}
        # Editable and savable like any other segment.
        saved = await api.client.post("/api/v1/segments", json={"name": "lapsed big", "rules": body["rules"]})
        assert saved.status_code == 201


async def test_value_words_use_the_spend_distribution_of_now(database_url: str) -> None:
    async with running_api(database_url) as api:
        await _seed(api)  # spends 0, 100, 6000, 7000, 8000, 9000
        big = (await api.client.post("/api/v1/ai/segment", json={"prompt": "big spenders"})).json()
        # The 90th percentile, interpolated: 8000 + 0.5 x (9000 - 8000).
        assert big["rules"]["rules"] == [{"field": "total_spend", "cmp": "gte", "value": 8500}]
        assert big["count"] == 1 and big["not_understood"] == []
        assert big["notes"] == [
            "“big spenders” read as the top 10% by total spend: total spend ≥ 8500, "
            "the 90th percentile of all 6 customers now"
        ]
        # Other shares are computed when asked: the 80th percentile is 8000, the median 6500.
        top = (await api.client.post("/api/v1/ai/segment", json={"prompt": "top 20% of customers"})).json()
        assert top["rules"]["rules"] == [{"field": "total_spend", "cmp": "gte", "value": 8000}]
        assert top["count"] == 2 and "the 80th percentile of all 6 customers" in top["notes"][0]
        median = (
            await api.client.post("/api/v1/ai/segment", json={"prompt": "spent more than the median"})
        ).json()
        assert median["rules"]["rules"] == [{"field": "total_spend", "cmp": "gt", "value": 6500}]
        assert median["count"] == 3
        low = (await api.client.post("/api/v1/ai/segment", json={"prompt": "low spenders"})).json()
        assert low["rules"]["rules"] == [{"field": "total_spend", "cmp": "lte", "value": 50}]
        assert low["count"] == 1
        # Computed at question time: a new customer moves the threshold at once.
        extra = {"external_id": "c7", "name": "Person c7", "city": "Pune"}
        order = {
            "external_id": "c7-0",
            "customer_external_id": "c7",
            "amount": "50000",
            "ordered_at": _ago(1),
        }
        assert (await api.client.post("/api/v1/customers", json=[extra])).status_code in (201, 202)
        assert (await api.client.post("/api/v1/orders", json=[order])).status_code in (201, 202)
        again = (await api.client.post("/api/v1/ai/segment", json={"prompt": "whales"})).json()
        assert again["rules"]["rules"] == [
            {"field": "total_spend", "cmp": "gte", "value": 25400}
        ]  # 9000 + 0.4 x 41000


async def test_partly_understood_prompts_say_so(database_url: str) -> None:
    async with running_api(database_url) as api:
        body = (
            await api.client.post("/api/v1/ai/segment", json={"prompt": "loyal customers in Pune"})
        ).json()
        assert body["rules"]["rules"] == [{"field": "city", "cmp": "eq", "value": "Pune"}]
        assert body["not_understood"] == ["loyal"]


async def test_nonsense_is_a_422_naming_the_prompt(inline_api: Api) -> None:
    for prompt in ("asdf qwerty", "   ", ""):
        response = await inline_api.client.post("/api/v1/ai/segment", json={"prompt": prompt})
        assert response.status_code == 422, prompt
        error = response.json()["error"]
        assert error["details"][0]["loc"][-1] == "prompt", error
    response = await inline_api.client.post("/api/v1/ai/segment", json={"prompt": "asdf qwerty"})
    assert response.json()["error"]["code"] == "prompt_not_understood"
    assert "no condition" in response.json()["error"]["message"]
    response = await inline_api.client.post("/api/v1/ai/segment", json={"prompt": "x" * 1001})
    assert response.status_code == 422
    response = await inline_api.client.post("/api/v1/ai/segment", json={"prompt": "over 5k", "extra": 1})
    assert response.status_code == 422


async def test_needs_a_key(inline_api: Api) -> None:
    for path, body in (("/api/v1/ai/segment", {"prompt": "x"}), ("/api/v1/ai/messages", {"goal": "x"})):
        response = await inline_api.client.post(path, json=body, headers={"Authorization": ""})
        assert response.status_code == 401
        response = await inline_api.client.post(path, json=body, headers={"Authorization": "Bearer pk_nope"})
        assert response.status_code == 401


async def test_message_variants_for_an_audience(database_url: str) -> None:
    async with running_api(database_url) as api:
        await _seed(api)
        mumbai = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Mumbai"}]}
        response = await api.client.post(
            "/api/v1/ai/messages", json={"goal": "win back lapsed customers with 10% off", "rules": mumbai}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["audience"]["size"] == 3 and body["audience"]["with_orders"] == 2
        assert Decimal(body["audience"]["median_spend"]) == Decimal(100)  # 0, 100, 6000
        assert Decimal(body["audience"]["avg_spend"]) == Decimal("2033.33")
        assert body["audience"]["median_days_since_order"] in (199, 200, 399, 400)
        assert body["audience"]["lapsed_share"] == 1.0 and body["audience"]["top_city"] == "Mumbai"
        variants = body["variants"]
        assert len(variants) == 3 and len({v["angle"] for v in variants}) == 3
        assert all(v["engine"] == "offline" and v["subject"] is None and v["length"] <= 160 for v in variants)
        assert all("Person" in v["preview"] for v in variants if "first_name" in v["message"])
        # A variant is a valid campaign message as it stands.
        created = await api.client.post(
            "/api/v1/campaigns", json={"name": "win back", "rules": mumbai, "message": variants[0]["message"]}
        )
        assert created.status_code == 201, created.text


async def test_message_variants_by_segment_and_channel(inline_api: Api) -> None:
    await _seed(inline_api)
    rules = {"op": "and", "rules": [{"field": "order_count", "cmp": "gte", "value": 1}]}
    segment = (
        await inline_api.client.post("/api/v1/segments", json={"name": "buyers", "rules": rules})
    ).json()
    response = await inline_api.client.post(
        "/api/v1/ai/messages",
        json={
            "goal": "Diwali sale, 20% off till Sunday",
            "segment_id": segment["id"],
            "count": 5,
            "channel": "email",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["audience"]["size"] == 5 and body["channel"] == "email"
    assert len(body["variants"]) == 5
    assert all(v["subject"] and v["preview_subject"] for v in body["variants"])
    everyone = await inline_api.client.post("/api/v1/ai/messages", json={"goal": "new store opening"})
    assert everyone.json()["audience"]["size"] == 6 and len(everyone.json()["variants"]) == 3


async def test_message_request_errors(inline_api: Api) -> None:
    rules = {"op": "and", "rules": []}
    both = await inline_api.client.post(
        "/api/v1/ai/messages", json={"goal": "x", "rules": rules, "segment_id": 1}
    )
    assert both.status_code == 422
    missing = await inline_api.client.post("/api/v1/ai/messages", json={"goal": "x", "segment_id": 999})
    assert missing.status_code == 404
    bad_rules = {"op": "and", "rules": [{"field": "nope", "cmp": "eq", "value": 1}]}
    bad = await inline_api.client.post("/api/v1/ai/messages", json={"goal": "x", "rules": bad_rules})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "$.rules.rules[0].field"
    for extra in ({"count": 0}, {"count": 9}, {"channel": "fax"}, {"goal": ""}):
        response = await inline_api.client.post("/api/v1/ai/messages", json={"goal": "x", **extra})
        assert response.status_code == 422, extra
