"""A customer's message history: every message newest first, what they did with it, the orders
credited to it, and the campaigns that held them out as control."""

from __future__ import annotations

import sqlalchemy as sa

from pulsecrm.auth import service as auth_service
from pulsecrm.customers.models import Customer
from pulsecrm.outcomes.models import CampaignHoldout
from tests.conftest import Api
from tests.engagement import EVERYONE, add_customers, build_world, send_campaign


async def messages(api: Api, customer: str, **params: str | int) -> dict[str, object]:
    response = await api.client.get(f"/api/v1/customers/{customer}/messages", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_each_message_with_what_the_customer_did(inline_api: Api) -> None:
    api = inline_api
    w = await build_world(api)
    c1 = (await messages(api, "c1"))["items"]
    assert isinstance(c1, list) and len(c1) == 1
    spring = c1[0]
    assert (spring["campaign_id"], spring["campaign_name"], spring["channel"]) == (
        w.spring,
        "Spring sale",
        "sms",
    )
    assert (spring["status"], spring["opens"], spring["clicks"], spring["orders"]) == ("delivered", 1, 1, [])
    assert spring["sent_at"] and spring["opened_at"] and spring["clicked_at"]

    c2 = (await messages(api, "c2"))["items"]
    assert isinstance(c2, list)
    assert (c2[0]["opens"], c2[0]["clicks"], c2[0]["clicked_at"]) == (1, 0, None)
    [credited] = c2[0]["orders"]
    assert (credited["external_id"], credited["amount"], credited["currency"]) == ("o-c2", "1499.50", "INR")
    assert credited["ordered_at"]

    # c4's message bounced: no credit for the order c4 placed after it.
    c4 = (await messages(api, "c4"))["items"]
    assert isinstance(c4, list)
    assert (c4[0]["status"], c4[0]["orders"], c4[0]["opened_at"]) == ("failed", [], None)

    # Newest first, a page at a time.
    first = await messages(api, "c3", limit=1)
    assert [m["campaign_name"] for m in first["items"]] == ["Recall"]  # type: ignore[attr-defined]
    assert first["items"][0]["opens"] == 1  # type: ignore[index]
    assert isinstance(first["next_cursor"], str)
    second = await messages(api, "c3", limit=1, cursor=first["next_cursor"])
    assert [m["campaign_name"] for m in second["items"]] == ["Spring sale"]  # type: ignore[attr-defined]
    assert second["next_cursor"] is None
    whole = await messages(api, "c3")
    assert [m["campaign_id"] for m in whole["items"]] == [w.recall, w.spring]  # type: ignore[attr-defined]

    assert await messages(api, "c6") == {"items": [], "next_cursor": None}


async def test_control_group_memberships_are_entries_of_their_own(inline_api: Api) -> None:
    api = inline_api
    people = [f"c{i}" for i in range(1, 21)]
    await add_customers(api, *people)
    cid, sent = await send_campaign(api, "Half and half", EVERYONE, holdout_percent=50)
    async with api.services.db.engine.connect() as conn:
        held = set(
            await conn.scalars(
                sa.select(Customer.external_id)
                .join(CampaignHoldout, CampaignHoldout.customer_id == Customer.id)
                .where(CampaignHoldout.campaign_id == cid)
            )
        )
    assert held and sent, "both groups have someone"
    assert held.isdisjoint(sent) and held | set(sent) == set(people)
    for customer in people:
        [entry] = (await messages(api, customer))["items"]  # type: ignore[misc]
        if customer in held:
            assert (entry["status"], entry["sent_at"], entry["opens"], entry["orders"]) == (
                "control",
                None,
                0,
                [],
            )
        else:
            assert entry["status"] == "sent" and entry["sent_at"]
        assert entry["campaign_id"] == cid


async def test_unknown_customers_bad_cursors_and_keys(inline_api: Api) -> None:
    api = inline_api
    await add_customers(api, "c1")
    missing = await api.client.get("/api/v1/customers/nobody/messages")
    assert missing.status_code == 404
    assert "nobody" in missing.json()["error"]["message"]
    bad = await api.client.get("/api/v1/customers/c1/messages", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    too_many = await api.client.get("/api/v1/customers/c1/messages", params={"limit": 501})
    assert too_many.status_code == 422
    anonymous = await api.client.get("/api/v1/customers/c1/messages", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    async with api.services.db.sessions() as session:
        ingest_only = (await auth_service.create_key(session, name="ingest", scopes=["ingest"])).secret
        await session.commit()
    refused = await api.client.get(
        "/api/v1/customers/c1/messages", headers={"Authorization": f"Bearer {ingest_only}"}
    )
    assert refused.status_code == 403
