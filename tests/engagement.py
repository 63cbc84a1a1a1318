"""A small world of messages and what their customers did with them, built through the API:
customers ingested, campaigns launched and sent by the dispatcher (a fake vendor behind the
real channel), receipts posted to the signed webhook, orders ingested and attributed."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pulsecrm.db import utcnow
from pulsecrm.delivery.models import Delivery
from pulsecrm.outcomes import attribution
from tests.conftest import Api
from tests.delivery.test_dispatcher import FakeVendor, dispatcher
from tests.delivery.test_receipts import post

EVERYONE: dict[str, Any] = {"op": "and", "rules": []}
_VENDOR_IDS = itertools.count(1)  # message ids unique across every campaign the tests send


def rules(*conditions: dict[str, Any], op: str = "and", negate: bool = False) -> dict[str, Any]:
    tree: dict[str, Any] = {"version": 1, "op": op, "rules": list(conditions)}
    if negate:
        tree["not"] = True
    return tree


def group(*conditions: dict[str, Any], op: str = "or") -> dict[str, Any]:
    return {"op": op, "rules": list(conditions)}


def cond(field: str, cmp: str, value: Any) -> dict[str, Any]:
    return {"field": field, "cmp": cmp, "value": value}


async def add_customers(api: Api, *ids: str) -> None:
    people = [
        {"external_id": c, "name": f"Person {c.upper()}", "phone": f"+91 90000 3{n:04d}", "city": "Pune"}
        for n, c in enumerate(ids, start=1)
    ]
    assert (await api.client.post("/api/v1/customers", json=people)).status_code in (201, 202)
    await api.drain()


async def send_campaign(
    api: Api, name: str, audience: dict[str, Any], **fields: Any
) -> tuple[int, dict[str, str]]:
    """Create, launch and send a campaign; returns its id and customer -> vendor message id."""
    body = {"name": name, "message": "Hi {{ first_name }}", "rules": audience, **fields}
    created = await api.client.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    cid = int(created.json()["id"])
    launched = await api.client.post(f"/api/v1/campaigns/{cid}/launch")
    assert launched.status_code == 202, launched.text
    vendor = FakeVendor()
    vendor._n = _VENDOR_IDS
    d = dispatcher(api, vendor)
    try:
        while await d.run_once():
            pass
    finally:
        await d.close()
    log = (await api.client.get(f"/api/v1/campaigns/{cid}/deliveries", params={"limit": 500})).json()["items"]
    return cid, {row["customer_external_id"]: row["vendor_message_id"] for row in log}


async def receipts(api: Api, sent: dict[str, str], **statuses: list[str]) -> None:
    """Post receipts through the signed webhook: `opened=["c1"]`, `failed=["c4"]`, ..."""
    now = datetime.now(UTC).isoformat()
    batch = [
        {"message_id": sent[customer], "status": status, "occurred_at": now}
        for status, customers in statuses.items()
        for customer in customers
    ]
    response = await post(api, batch)
    assert response.status_code in (200, 202), response.text


async def order(api: Api, external_id: str, customer: str, amount: str) -> None:
    body = {
        "external_id": external_id,
        "customer_external_id": customer,
        "amount": amount,
        "ordered_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
    }
    assert (await api.client.post("/api/v1/orders", json=body)).status_code in (201, 202)
    await api.drain()


async def attribute(api: Api) -> None:
    """What the outcomes worker does: the first pass ever only places the cursor, the next
    credits the orders placed since the launches."""
    for _ in range(2):
        async with api.services.db.engine.begin() as conn:
            await attribution.catch_up(conn, now=utcnow())


async def sent_days_ago(api: Api, campaign_id: int, days: int) -> None:
    """Time passing: the campaign's messages went out `days` ago."""
    async with api.services.db.engine.begin() as conn:
        await conn.execute(
            sa.update(Delivery)
            .where(Delivery.campaign_id == campaign_id)
            .values(sent_at=utcnow() - timedelta(days=days))
        )


@dataclass(frozen=True)
class World:
    spring: int  # campaign ids
    recall: int


async def build_world(api: Api) -> World:
    """c1..c6. "Spring" goes to c1..c5: c1 opens and clicks, c2 opens and buys, c3 is
    delivered, c4's bounces (c4 buys anyway), c5's is sent and never heard of; c6 gets
    nothing. "Recall" goes to c3 only, 40 days ago, and c3 opens it."""
    await add_customers(api, "c1", "c2", "c3", "c4", "c5", "c6")
    spring, sent = await send_campaign(api, "Spring sale", rules(cond("external_id", "ne", "c6")))
    assert set(sent) == {"c1", "c2", "c3", "c4", "c5"}
    await receipts(
        api, sent, delivered=["c1", "c2", "c3"], failed=["c4"], opened=["c1", "c2"], clicked=["c1"]
    )
    await order(api, "o-c2", "c2", "1499.50")
    await order(api, "o-c4", "c4", "200")
    await attribute(api)
    recall, sent = await send_campaign(api, "Recall", rules(cond("external_id", "eq", "c3")))
    await receipts(api, sent, delivered=["c3"], opened=["c3"])
    await sent_days_ago(api, recall, 40)
    return World(spring, recall)
