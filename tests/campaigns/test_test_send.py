"""Test sends: the message, filled in for a customer of the audience, through the campaign's
channel to the person preparing it, and never counted as a delivery of the campaign."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.conftest import Web
from tests.factories import customer

EVERYONE: dict[str, Any] = {"op": "and", "rules": []}


class Vendor:
    """The vendor's HTTP API as a MockTransport: records what it was handed, answers as told."""

    def __init__(self, answer: httpx.Response | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        messages = orjson.loads(request.content)["messages"]
        self.messages.extend(messages)
        if self.answer is not None:
            return self.answer
        results = [{"idempotency_key": m["idempotency_key"], "message_id": "vm-test"} for m in messages]
        return httpx.Response(200, json={"results": results})


def _vendor(web: Web, answer: httpx.Response | None = None) -> Vendor:
    vendor = Vendor(answer)
    web.api.services.channel_transport = httpx.MockTransport(vendor)
    return vendor


async def _post(web: Web, path: str, body: dict[str, Any]) -> httpx.Response:
    """As the pages' scripts call the API: the session cookie and the CSRF header."""
    return await web.client.post(path, json=body, headers={"X-CSRF-Token": await web.csrf()})


async def _people(web: Web) -> None:
    people = [
        customer(external_id="c1", name="Asha Rao", city="Pune", email="asha@example.com"),
        customer(external_id="c2", name="Ravi Iyer", city="Mumbai", email="ravi@example.com"),
    ]
    assert (await web.api.client.post("/api/v1/customers", json=people)).status_code == 201


async def test_an_email_test_goes_to_the_signed_in_user_and_counts_nowhere(web: Web) -> None:
    await _people(web)
    vendor = _vendor(web)
    body = {
        "name": "Diwali",
        "channel": "email",
        "rules": {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Mumbai"}]},
        "subject": "For you, {{ first_name }}",
        "message": "Hi {{ first_name }}, 10% off.",
    }
    created = await web.api.client.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]

    answer = await _post(web, f"/api/v1/campaigns/{cid}/test-send", {})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "channel": "email",
        "to": "marketer@example.com",
        "customer_name": "Ravi Iyer",  # a customer of the audience, not the store's first
        "message_id": "vm-test",
        "counted": False,
    }
    (sent,) = vendor.messages
    assert sent["to"] == "marketer@example.com" and sent["channel"] == "email"
    assert sent["subject"] == "[Test] For you, Ravi" and sent["body"] == "Hi Ravi, 10% off."
    assert sent["idempotency_key"].startswith("pulse-test-")

    again = await _post(web, f"/api/v1/campaigns/{cid}/test-send", {})
    assert again.status_code == 200
    assert vendor.messages[1]["idempotency_key"] != sent["idempotency_key"]  # each test is sent

    campaign = (await web.api.client.get(f"/api/v1/campaigns/{cid}")).json()
    assert campaign["status"] == "draft" and campaign["stats"]["sent"] == campaign["stats"]["pending"] == 0
    deliveries = (await web.api.client.get(f"/api/v1/campaigns/{cid}/deliveries")).json()
    assert deliveries["items"] == []


async def test_an_unsaved_sms_test_goes_to_the_number_typed(web: Web) -> None:
    await _people(web)
    vendor = _vendor(web)
    body = {"channel": "sms", "message": "Hi {{ first_name }}", "rules": EVERYONE, "phone": "+91 98765 43210"}
    answer = await _post(web, "/api/v1/campaigns/test-send", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["to"] == "+91 98765 43210" and answer.json()["customer_name"] == "Asha Rao"
    assert vendor.messages[0]["body"] == "Hi Asha" and vendor.messages[0]["subject"] is None


async def test_bad_test_sends_are_refused_naming_the_field(web: Web) -> None:
    await _people(web)
    _vendor(web)
    sms = {"channel": "sms", "message": "Hi", "rules": EVERYONE}
    for phone, words in (
        (None, "enter the phone number"),
        ("  ", "enter the phone number"),
        ("call me", "is not a phone number"),
    ):
        answer = await _post(web, "/api/v1/campaigns/test-send", {**sms, "phone": phone})
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["details"][0]["loc"] == ["body", "phone"] and words in error["message"]
    broken = await _post(
        web,
        "/api/v1/campaigns/test-send",
        {**sms, "phone": "+91 98765 43210", "message": "Hi {{ password }}"},
    )
    assert broken.status_code == 422 and broken.json()["error"]["details"][0]["path"] == "$.message"
    assert (await _post(web, "/api/v1/campaigns/99999/test-send", {})).status_code == 404

    # An API key is nobody's mailbox: an e-mail test needs a signed-in person.
    by_key = await web.api.client.post(
        "/api/v1/campaigns/test-send", json={"channel": "email", "message": "Hi", "rules": EVERYONE}
    )
    assert by_key.status_code == 400 and "signed-in user" in by_key.json()["error"]["message"]


async def test_the_vendor_refusing_or_failing_is_said_plainly(web: Web) -> None:
    await _people(web)
    sms = {"channel": "sms", "message": "Hi", "rules": EVERYONE, "phone": "+91 98765 43210"}
    refusal = {
        "error": {"message": "bad", "details": [{"loc": ["messages", 0, "to"], "message": "not a mobile"}]}
    }
    _vendor(web, httpx.Response(422, json=refusal))
    refused = await _post(web, "/api/v1/campaigns/test-send", sms)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0] == {
        "loc": ["body", "phone"],
        "message": "vendor answered 422: to: not a mobile",
    }
    _vendor(web, httpx.Response(500, json={}))
    down = await _post(web, "/api/v1/campaigns/test-send", sms)
    assert down.status_code == 503 and "the test was not sent, try again" in down.json()["error"]["message"]
