"""Auto-tags: suggested from the audience rules and the message, editable, a filter on the history."""

from __future__ import annotations

from typing import Any

from pulsecrm.ai.tags import suggest
from tests.conftest import Api


def c(field: str, cmp: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "cmp": cmp, "value": value}


def tree(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "op": "and", "rules": list(rules)}


EVERYONE = tree()


def test_tags_from_the_rules() -> None:
    assert suggest(tree(c("last_order_at", "not_within_last_days", 90)), "Hi") == ["win-back"]
    assert suggest(tree(c("total_spend", "gte", 25000)), "Hi") == ["high-value"]
    assert suggest(tree(c("total_spend", "gte", 500)), "Hi") == []  # a low floor is no tier
    assert suggest(tree(c("created_at", "within_last_days", 30)), "Hi") == ["new-customers"]
    assert suggest(tree(c("order_count", "eq", 0)), "Hi") == ["new-customers"]
    assert suggest(tree(c("order_count", "gte", 3)), "Hi") == ["loyalty"]
    # A negated group says what the audience is not: no tag from it.
    negated = tree({"op": "and", "not": True, "rules": [c("created_at", "within_last_days", 30)]})
    assert suggest(negated, "Hi") == []


def test_tags_from_the_message() -> None:
    assert suggest(EVERYONE, "We miss you! Come back for 10% off") == ["win-back", "festive-sale"]
    assert suggest(EVERYONE, "Happy Diwali, Asha!") == ["festive-sale"]
    assert suggest(EVERYONE, "Thank you for your 7 orders") == ["loyalty"]
    assert suggest(EVERYONE, "Just a friendly reminder: the items in your cart are waiting") == ["reminder"]
    assert suggest(EVERYONE, "Ready for an upgrade? Meet premium headphones") == ["high-value", "upsell"]
    assert suggest(EVERYONE, "Welcome aboard! Your first order is a tap away") == ["new-customers"]
    assert suggest(EVERYONE, "We'd love to welcome you back") == ["win-back"]  # not a welcome
    assert suggest(EVERYONE, "Our store hours change on Monday") == []


async def _campaign(api: Api, **fields: Any) -> Any:
    body = {"name": "c", "message": "Hi {{ first_name | default('there') }}!", "rules": EVERYONE} | fields
    response = await api.client.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_tags_are_suggested_editable_and_filter_the_history(inline_api: Api) -> None:
    lapsed = {"op": "and", "rules": [c("last_order_at", "not_within_last_days", 90)]}
    win_back = await _campaign(inline_api, rules=lapsed, message="We miss you! Here's 10% off.")
    assert win_back["tags"] == ["win-back", "festive-sale"]
    plain = await _campaign(inline_api)
    assert plain["tags"] == []
    chosen = await _campaign(inline_api, tags=["loyalty", "loyalty"])  # the marketer's own, once each
    assert chosen["tags"] == ["loyalty"]

    edited = await inline_api.client.put(
        f"/api/v1/campaigns/{plain['id']}/tags", json={"tags": ["reminder", "win-back"]}
    )
    assert edited.status_code == 200 and edited.json()["tags"] == ["win-back", "reminder"]
    assert (await inline_api.client.get(f"/api/v1/campaigns/{plain['id']}")).json()["tags"] == [
        "win-back",
        "reminder",
    ]

    listed = await inline_api.client.get("/api/v1/campaigns", params={"tag": "win-back"})
    assert listed.status_code == 200
    assert {x["id"] for x in listed.json()["items"]} == {win_back["id"], plain["id"]}
    festive = (await inline_api.client.get("/api/v1/campaigns", params={"tag": "festive-sale"})).json()
    assert [x["id"] for x in festive["items"]] == [win_back["id"]]

    # Bad input: a 422 naming the field, nothing written.
    bad = await inline_api.client.put(f"/api/v1/campaigns/{plain['id']}/tags", json={"tags": ["spam"]})
    assert bad.status_code == 422 and "tags" in bad.text
    assert (await inline_api.client.get(f"/api/v1/campaigns/{plain['id']}")).json()["tags"] == [
        "win-back",
        "reminder",
    ]
    assert (await inline_api.client.get("/api/v1/campaigns", params={"tag": "spam"})).status_code == 422
    missing = await inline_api.client.put("/api/v1/campaigns/999999/tags", json={"tags": []})
    assert missing.status_code == 404
