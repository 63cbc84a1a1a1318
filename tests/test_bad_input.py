"""Bad input is a 4xx naming the field, never a 500: ids, NUL characters, dates, numbers, errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, Web
from tests.factories import customer, order

HUGE = "99999999999999999999"  # beyond int64
SPENDERS = {"op": "and", "rules": [{"field": "total_spend", "cmp": "gte", "value": 100}]}
PYDANTIC_WORDS = ("constrained-str", "string_pattern_mismatch", "String should", "Input should")


def _plain(body: dict[str, Any]) -> None:
    """The messages people read hold no pydantic wording (`type` stays a machine code)."""
    error = body["error"]
    text = " ".join([error["message"], *(str(d.get("message")) for d in error["details"])])
    for word in PYDANTIC_WORDS:
        assert word not in text, text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/segments/{HUGE}"),
        ("PUT", f"/api/v1/segments/{HUGE}"),
        ("DELETE", f"/api/v1/segments/{HUGE}"),
        ("GET", f"/api/v1/campaigns/{HUGE}"),
        ("POST", f"/api/v1/campaigns/{HUGE}/launch"),
        ("POST", f"/api/v1/campaigns/{HUGE}/pause"),
        ("POST", f"/api/v1/campaigns/{HUGE}/resume"),
        ("POST", f"/api/v1/campaigns/{HUGE}/cancel"),
        ("GET", f"/api/v1/campaigns/{HUGE}/deliveries"),
        ("GET", "/api/v1/campaigns/1/deliveries?cursor=9999999999999999999"),
        ("GET", "/api/v1/campaigns?cursor=9999999999999999999"),
        ("GET", "/api/v1/segments?cursor=9999999999999999999"),
        ("GET", "/api/v1/segments/0"),
        ("GET", "/api/v1/campaigns/-1"),
    ],
)
async def test_ids_beyond_int64_are_404_or_422(inline_api: Api, method: str, path: str) -> None:
    body = {"name": "s", "rules": SPENDERS} if method == "PUT" else None
    response = await inline_api.client.request(method, path, json=body)
    assert response.status_code in (404, 422), response.text
    if response.status_code == 422:  # naming the id, not "a value cannot be stored"
        named = {d["loc"][-1] for d in response.json()["error"]["details"]}
        assert named & {"segment_id", "campaign_id", "cursor"}, response.text
    _plain(response.json())


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/campaigns", {"name": "c", "message": "Hi", "segment_id": int(HUGE)}),
        ("/api/v1/ai/messages", {"goal": "win back", "segment_id": int(HUGE)}),
    ],
)
async def test_a_segment_id_beyond_int64_in_a_body_is_422(inline_api: Api, path: str, body: object) -> None:
    response = await inline_api.client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert ["body", "segment_id"] in [d["loc"] for d in response.json()["error"]["details"]]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/segments/{HUGE}"),
        ("GET", f"/campaigns/{HUGE}"),
        ("GET", f"/campaigns/{HUGE}/live"),
        ("GET", f"/campaigns/{HUGE}/log"),
        ("GET", f"/campaigns/1/log?after={HUGE}"),
        ("GET", f"/campaigns/new?segment_id={HUGE}"),
        ("GET", "/segments?cursor=abc"),
        ("GET", f"/segments?cursor={HUGE}"),
        ("GET", "/campaigns?cursor=abc"),
        ("POST", f"/segments/{HUGE}/delete"),
        ("POST", f"/campaigns/{HUGE}/pause"),
        ("POST", f"/settings/api-keys/{HUGE}/revoke"),
        ("POST", f"/settings/users/{HUGE}/activate"),
        ("GET", "/customers?q=%00"),
        ("GET", "/customers/a%00b"),
        ("GET", "/segments?q=%00"),
    ],
)
async def test_pages_answer_bad_ids_and_nul_with_a_4xx(web: Web, method: str, path: str) -> None:
    if method == "POST":
        response = await web.form(path)
    else:
        response = await web.client.get(path)
    assert response.status_code in (404, 422), response.text
    if response.status_code == 422:  # refused as a bad address, not "a value cannot be stored"
        assert "has a value this page can" in response.text, response.text


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/api/v1/customers?q=%00", ["query", "q"]),
        ("/api/v1/customers?q=a&sort=-created_at&q2=x%00", ["query", "q2"]),
        ("/api/v1/orders?customer=%00", ["query", "customer"]),
        ("/api/v1/segments?q=ab%00", ["query", "q"]),
        ("/api/v1/customers/a%00b", ["path", "external_id"]),
        ("/api/v1/customers/a%00b/unsubscribe", ["path", "external_id"]),
    ],
)
async def test_nul_in_a_query_or_path_is_422_naming_it(inline_api: Api, path: str, loc: list[str]) -> None:
    method = "POST" if path.endswith("unsubscribe") else "GET"
    response = await inline_api.client.request(method, path)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"][0]["loc"] == loc
    assert error["details"][0]["message"] == "must not contain a NUL character"


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/api/v1/segments", {"name": "a\x00", "rules": SPENDERS}, ["body", "name"]),
        (
            "/api/v1/segments",
            {"name": "a", "description": "\x00", "rules": SPENDERS},
            ["body", "description"],
        ),
        ("/api/v1/campaigns", {"name": "c\x00", "message": "Hi", "rules": SPENDERS}, ["body", "name"]),
        ("/api/v1/campaigns", {"name": "c", "message": "Hi\x00", "rules": SPENDERS}, ["body", "message"]),
        (
            "/api/v1/campaigns",
            {"name": "c", "channel": "email", "subject": "\x00", "message": "Hi", "rules": SPENDERS},
            ["body", "subject"],
        ),
        ("/api/v1/campaigns/preview-message", {"message": "Hi\x00"}, ["body", "message"]),
        (
            "/api/v1/campaigns/preview-message",
            {"message": "Hi", "customer_external_id": "\x00"},
            ["body", "customer_external_id"],
        ),
        ("/api/v1/ai/segment", {"prompt": "spent over 5k\x00"}, ["body", "prompt"]),
        ("/api/v1/ai/messages", {"goal": "win\x00 back"}, ["body", "goal"]),
    ],
)
async def test_nul_in_a_body_is_422_naming_the_field(
    inline_api: Api, path: str, body: object, loc: list[str]
) -> None:
    response = await inline_api.client.post(path, json=body)
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert {"loc": loc, "message": "must not contain a NUL character"} in [
        {"loc": d["loc"], "message": d["message"]} for d in details
    ]


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "record", "field"),
    [
        ("customers", customer(created_at="0001-01-01T00:00:00+05:30"), "created_at"),
        ("customers", customer(created_at="1899-12-31T23:59:59Z"), "created_at"),
        ("customers", customer(updated_at="9999-12-31T23:00:00-05:00"), "updated_at"),
        ("orders", order(ordered_at="9999-12-31T23:00:00-05:00"), "ordered_at"),
        ("orders", order(ordered_at="2200-01-01T00:00:00Z"), "ordered_at"),
        ("orders", order(updated_at="0001-01-01T00:00:00+00:00"), "updated_at"),
    ],
)
async def test_dates_outside_the_stored_range_are_422_naming_the_field(
    api: Api, kind: str, record: dict[str, object], field: str
) -> None:
    response = await api.client.post(f"/api/v1/{kind}", json=[record])
    assert response.status_code == 422, response.text
    detail = response.json()["error"]["details"][0]
    assert detail["loc"] == [0, field]
    assert "1900" in detail["message"] and "2199" in detail["message"]


async def test_dates_at_the_edges_of_the_range_are_kept(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/customers",
        json=[customer(created_at="1900-01-01T05:30:00+05:30", updated_at="2199-12-31T23:59:59Z")],
    )
    assert response.status_code in (201, 202), response.text
    await api.drain()
    body = (await api.client.get("/api/v1/customers/c1")).json()
    assert body["created_at"].startswith("1900-01-01T00:00:00")


# --- attribute numbers -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**26])
async def test_attribute_integers_beyond_int64_are_refused(api: Api, value: int) -> None:
    body = f'[{{"external_id": "c1", "name": "A", "attributes": {{"big": {value}}}}}]'
    response = await api.client.post(
        "/api/v1/customers", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    detail = response.json()["error"]["details"][0]
    assert detail["loc"][:3] == [0, "attributes", "big"]
    assert "between -9223372036854775808 and 9223372036854775807" in detail["message"]


async def test_attribute_integers_within_int64_are_kept_exact(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/customers", json=[customer(attributes={"big": 2**63 - 1, "small": -(2**63)})]
    )
    assert response.status_code in (201, 202), response.text
    await api.drain()
    attributes = (await api.client.get("/api/v1/customers/c1")).json()["attributes"]
    assert attributes == {"big": 2**63 - 1, "small": -(2**63)}


# --- error bodies ------------------------------------------------------------------------------


async def test_ingest_errors_list_at_most_100_problems_with_a_count(inline_api: Api) -> None:
    records = [{"external_id": "", "name": "x" * 300} for _ in range(5000)]
    response = await inline_api.client.post("/api/v1/customers", json=records)
    assert response.status_code == 422
    error = response.json()["error"]
    assert len(error["details"]) == 100
    assert error["count"] == 10_000
    assert "5000 of 5000 records" in error["message"]
    assert len(response.content) < 50_000
    _plain(response.json())
    messages = {d["message"] for d in error["details"]}
    assert "must be at most 200 characters" in messages
    assert "must not be empty" in messages


async def test_request_validation_errors_are_capped_and_plain(inline_api: Api) -> None:
    body = {"rules": SPENDERS, **{f"extra{i}": 1 for i in range(150)}}
    response = await inline_api.client.post("/api/v1/segments/preview", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (len(error["details"]), error["count"]) == (100, 150)
    assert error["details"][0]["message"] == "is not a known field"
    response = await inline_api.client.post("/api/v1/segments", json={"name": "x" * 201, "rules": SPENDERS})
    assert response.json()["error"]["details"][0]["message"] == "must be at most 200 characters"
    _plain(response.json())


async def test_a_number_is_not_a_date(inline_api: Api) -> None:
    # Pydantic alone reads 0 as 1970-01-01; the API documents ISO 8601 text.
    response = await inline_api.client.post("/api/v1/customers", json=[customer(updated_at=0)])
    assert response.status_code == 422, response.text
    detail = response.json()["error"]["details"][0]
    assert (detail["loc"], detail["message"]) == (
        [0, "updated_at"],
        "must be an ISO 8601 date-time with a UTC offset",
    )
