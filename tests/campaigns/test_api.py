"""Campaigns through the API: checked templates, frozen audiences, state changes, the log."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from pulsecrm.customers.models import Customer
from tests.conftest import Api

SPENDERS = {"op": "and", "rules": [{"field": "total_spend", "cmp": "gte", "value": 100}]}


async def _seed(api: Api) -> None:
    customers = [
        {
            "external_id": f"c{i}",
            "name": f"Person{i} Test",
            "city": "Pune",
            "phone": f"+91 90000 1000{i}",
            "attributes": {"tier": "gold"},
        }
        for i in range(1, 7)
    ]
    assert (await api.client.post("/api/v1/customers", json=customers)).status_code in (201, 202)
    orders = [
        {
            "external_id": f"o{i}",
            "customer_external_id": f"c{i}",
            "amount": str(50 * i),
            "ordered_at": "2026-10-01T10:00:00Z",
        }
        for i in range(1, 7)
    ]  # c2..c6 have spent 100 or more
    assert (await api.client.post("/api/v1/orders", json=orders)).status_code in (201, 202)
    await api.drain()


async def _create(api: Api, **fields: Any) -> Any:
    body = {
        "name": "Win back",
        "message": "Hi {{ first_name | default('there') }}!",
        "rules": SPENDERS,
    } | fields
    return await api.client.post("/api/v1/campaigns", json=body)


@pytest.mark.parametrize(
    ("message", "needle", "line"),
    [
        ("Hi {{ first_name ", "has a mistake: a {{ … }} is not closed", 1),
        ("Hello\n{% if %}x{% endif %}", "has a mistake: a {% … %} tag is missing its condition", 2),
        ("Hi {{ password }}", "unknown variable", 1),
        ("Hi {{ first_name }}\nYour {{ coupon_code }}", "unknown variable", 2),
    ],
)
async def test_bad_templates_are_422_with_the_line(
    inline_api: Api, message: str, needle: str, line: int
) -> None:
    response = await _create(inline_api, message=message)
    assert response.status_code == 422
    error = response.json()["error"]
    assert needle in error["message"]
    assert error["details"][0]["path"] == "$.message"
    assert error["details"][0]["line"] == line


@pytest.mark.parametrize(
    "message",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ name.__init__.__globals__ }}",
        "{{ attributes.__class__ }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    ],
)
async def test_templates_cannot_reach_python_objects(inline_api: Api, message: str) -> None:
    response = await _create(inline_api, message=message)
    assert response.status_code == 422, response.text


async def test_create_needs_exactly_one_audience_and_a_subject_for_email(inline_api: Api) -> None:
    await _seed(inline_api)
    assert (await _create(inline_api, rules=None)).status_code == 422
    segment = (await inline_api.client.post("/api/v1/segments", json={"name": "s", "rules": SPENDERS})).json()
    both = await _create(inline_api, segment_id=segment["id"])
    assert both.status_code == 422
    no_subject = await _create(inline_api, channel="email")
    assert no_subject.status_code == 422
    assert no_subject.json()["error"]["details"][0]["loc"] == ["body", "subject"]
    bad_rules = await _create(
        inline_api, rules={"op": "and", "rules": [{"field": "x", "cmp": "eq", "value": 1}]}
    )
    assert bad_rules.status_code == 422
    assert bad_rules.json()["error"]["details"][0]["path"] == "$.rules.rules[0].field"
    from_segment = await _create(inline_api, rules=None, segment_id=segment["id"])
    assert from_segment.status_code == 201
    assert from_segment.json()["rules"]["rules"] == SPENDERS["rules"]  # copied, frozen
    assert (await _create(inline_api, rules=None, segment_id=999)).status_code == 404


async def test_launch_freezes_the_audience_without_the_unsubscribed(api: Api) -> None:
    await _seed(api)
    client = api.client
    unsubscribed = await client.post("/api/v1/customers/c3/unsubscribe")
    assert unsubscribed.status_code == 200
    first_time = unsubscribed.json()["unsubscribed_at"]
    again = await client.post("/api/v1/customers/c3/unsubscribe")
    assert again.json()["unsubscribed_at"] == first_time
    # Re-ingesting the customer does not resubscribe them.
    await client.post("/api/v1/customers", json={"external_id": "c3", "name": "Person3 Renamed"})
    await api.drain()
    assert (await client.get("/api/v1/customers/c3")).json()["unsubscribed_at"] == first_time

    created = await _create(api)
    assert created.status_code == 201
    campaign = created.json()
    assert (campaign["status"], campaign["stats"]["audience"]) == ("draft", 0)

    launched = await client.post(f"/api/v1/campaigns/{campaign['id']}/launch")
    assert launched.status_code == 202
    stats = launched.json()["stats"]
    assert launched.json()["status"] == "running"
    assert (stats["audience"], stats["pending"], stats["unsubscribed_excluded"]) == (4, 4, 1)
    log = (await client.get(f"/api/v1/campaigns/{campaign['id']}/deliveries")).json()["items"]
    assert sorted(d["customer_external_id"] for d in log) == ["c2", "c4", "c5", "c6"]
    assert {d["status"] for d in log} == {"pending"}

    # Customers arriving after launch are not added: the audience is frozen.
    await client.post("/api/v1/customers", json={"external_id": "late", "name": "Late"})
    await client.post(
        "/api/v1/orders",
        json={
            "external_id": "ol",
            "customer_external_id": "late",
            "amount": "999",
            "ordered_at": "2026-10-02T10:00:00Z",
        },
    )
    await api.drain()
    assert (await client.post(f"/api/v1/campaigns/{campaign['id']}/launch")).status_code == 409
    assert (await client.get(f"/api/v1/campaigns/{campaign['id']}")).json()["stats"]["audience"] == 4


async def test_an_empty_audience_completes_at_once(inline_api: Api) -> None:
    nobody = {"op": "and", "rules": [{"field": "total_spend", "cmp": "gt", "value": 10**9}]}
    campaign = (await _create(inline_api, rules=nobody)).json()
    launched = (await inline_api.client.post(f"/api/v1/campaigns/{campaign['id']}/launch")).json()
    assert (launched["status"], launched["stats"]["audience"]) == ("completed", 0)
    assert launched["completed_at"] is not None


async def test_pause_resume_cancel_and_what_is_refused(inline_api: Api) -> None:
    await _seed(inline_api)
    client = inline_api.client
    cid = (await _create(inline_api)).json()["id"]

    async def act(action: str) -> Any:
        return await client.post(f"/api/v1/campaigns/{cid}/{action}")

    assert (await act("pause")).status_code == 409  # a draft cannot be paused
    assert (await act("resume")).status_code == 409
    assert (await act("launch")).status_code == 202
    assert (await act("pause")).json()["status"] == "paused"
    assert (await act("pause")).status_code == 409
    assert (await act("resume")).json()["status"] == "running"
    cancelled = (await act("cancel")).json()
    assert cancelled["status"] == "cancelled"
    assert (cancelled["stats"]["pending"], cancelled["stats"]["cancelled"]) == (0, 5)
    assert (await act("resume")).status_code == 409
    assert (await act("cancel")).status_code == 409
    statuses = {
        d["status"] for d in (await client.get(f"/api/v1/campaigns/{cid}/deliveries")).json()["items"]
    }
    assert statuses == {"cancelled"}
    assert (await client.post("/api/v1/campaigns/999/launch")).status_code == 404


async def test_history_is_newest_first_and_the_log_paginates(inline_api: Api) -> None:
    await _seed(inline_api)
    client = inline_api.client
    ids = [(await _create(inline_api, name=f"C{i}")).json()["id"] for i in range(3)]
    await client.post(f"/api/v1/campaigns/{ids[0]}/launch")
    page = (await client.get("/api/v1/campaigns", params={"limit": 2})).json()
    assert [c["name"] for c in page["items"]] == ["C2", "C1"]
    rest = (await client.get("/api/v1/campaigns", params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert [c["name"] for c in rest["items"]] == ["C0"]
    assert rest["items"][0]["stats"]["audience"] == 5
    running = (await client.get("/api/v1/campaigns", params={"status": "running"})).json()["items"]
    assert [c["id"] for c in running] == [ids[0]]

    first = (await client.get(f"/api/v1/campaigns/{ids[0]}/deliveries", params={"limit": 3})).json()
    second = (
        await client.get(
            f"/api/v1/campaigns/{ids[0]}/deliveries", params={"limit": 3, "cursor": first["next_cursor"]}
        )
    ).json()
    assert len(first["items"]) == 3
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None
    pending = (
        await client.get(f"/api/v1/campaigns/{ids[0]}/deliveries", params={"status": "pending"})
    ).json()
    assert len(pending["items"]) == 5
    assert (
        await client.get(f"/api/v1/campaigns/{ids[0]}/deliveries", params={"status": "lost"})
    ).status_code == 422


async def test_message_preview_renders_for_a_customer(inline_api: Api) -> None:
    await _seed(inline_api)
    body = {
        "message": "Hi {{ first_name }} from {{ city }}, {{ attributes.tier }} member; "
        "spent {{ total_spend }} over {{ order_count }} orders. {{ nickname | default('') }}",
        "customer_external_id": "c6",
    }
    response = await inline_api.client.post("/api/v1/campaigns/preview-message", json=body)
    assert response.status_code == 422  # nickname is not a variable
    body["message"] = body["message"].replace(" {{ nickname | default('') }}", "")
    rendered = (await inline_api.client.post("/api/v1/campaigns/preview-message", json=body)).json()
    assert rendered["message"] == "Hi Person6 from Pune, gold member; spent ₹300 over 1 orders."
    assert (rendered["sms_segments"], rendered["customer_external_id"]) == (1, "c6")
    default = await inline_api.client.post(
        "/api/v1/campaigns/preview-message",
        json={
            "message": "Hi {{ first_name | default('there') }}, "
            "last order {{ last_order_at | default('never') }}"
        },
    )
    assert default.json()["message"].startswith("Hi Person")
    hostile = await inline_api.client.post(
        "/api/v1/customers", json={"external_id": "evil", "name": "{{ 7*7 }} <script>"}
    )
    assert hostile.status_code == 201
    evil = (
        await inline_api.client.post(
            "/api/v1/campaigns/preview-message",
            json={"message": "Hi {{ name }}", "customer_external_id": "evil"},
        )
    ).json()
    assert evil["message"] == "Hi {{ 7*7 }} <script>"  # customer data is data, never template code


async def test_reach_and_launch_leave_out_the_unreachable_and_count_each_reason(api: Api) -> None:
    people = [
        {"external_id": "r1", "name": "Opted In", "phone": "+91 90000 40001"},
        {"external_id": "r2", "name": "Never Asked", "phone": "+91 90000 40002"},
        {"external_id": "r3", "name": "Unsubscribed", "phone": "+91 90000 40003"},
        {"external_id": "r4", "name": "No Phone", "email": "r4@example.com"},
        {"external_id": "r5", "name": "Opted Out", "phone": "+91 90000 40005"},
    ]
    assert (await api.client.post("/api/v1/customers", json=people)).status_code in (201, 202)
    await api.drain()
    assert (await api.client.post("/api/v1/customers/r3/unsubscribe")).status_code == 200
    # Consent as ingestion records it (its own tests cover the ingest, import and unsubscribe paths).
    async with api.services.db.engine.begin() as conn:
        for external_id, state in (("r1", "opted_in"), ("r5", "opted_out")):
            await conn.execute(
                sa.update(Customer).where(Customer.external_id == external_id).values(sms_consent=state)
            )
    everyone = {"op": "and", "rules": []}

    async def reach(channel: str = "sms") -> Any:
        response = await api.client.post(
            "/api/v1/campaigns/reach", json={"channel": channel, "rules": everyone}
        )
        assert response.status_code == 200, response.text
        return response.json()

    settings = api.services.settings
    assert await reach() == {
        "matched": 5,
        "reachable": 2,
        "excluded": {"unsubscribed": 1, "no_consent": 1, "no_address": 1},
    }
    settings.message_unknown_consent = False
    try:
        # Unknown consent no longer counts as yes; r4 is left out for that before its address.
        assert (await reach())["excluded"] == {"unsubscribed": 1, "no_consent": 3, "no_address": 0}
    finally:
        settings.message_unknown_consent = True
    assert (await reach("email"))["reachable"] == 1  # only r4 has an address

    created = (
        await api.client.post("/api/v1/campaigns", json={"name": "r", "message": "Hi", "rules": everyone})
    ).json()
    launched = (await api.client.post(f"/api/v1/campaigns/{created['id']}/launch")).json()["stats"]
    assert (
        launched["audience"],
        launched["unsubscribed_excluded"],
        launched["no_consent_excluded"],
        launched["unreachable_excluded"],
    ) == (2, 1, 1, 1)
    log = (await api.client.get(f"/api/v1/campaigns/{created['id']}/deliveries")).json()["items"]
    assert sorted(d["customer_external_id"] for d in log) == ["r1", "r2"]
    missing = await api.client.post("/api/v1/campaigns/reach", json={"channel": "fax", "rules": everyone})
    assert missing.status_code == 422 and missing.json()["error"]["details"][0]["loc"][-1] == "channel"
