"""The campaign timeline: buckets by the span, what each series counts, who may read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from pulsecrm.auth import service as auth_service
from pulsecrm.campaigns.models import Campaign
from pulsecrm.customers.models import Order
from pulsecrm.db import utcnow
from pulsecrm.delivery.models import Delivery, EngagementEvent
from pulsecrm.outcomes import service as outcomes_service
from pulsecrm.outcomes.models import OrderAttribution
from tests.conftest import Api
from tests.factories import customer, order

RULES = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Pune"}]}


async def _launched(api: Api, n: int = 6) -> dict[str, Any]:
    people = [
        customer(external_id=f"c{i}", name=f"P {i}", city="Pune", phone=f"+9198{i:08}") for i in range(n)
    ]
    orders = [order(external_id=f"o{i}", customer_external_id=f"c{i}") for i in range(2)]
    assert (await api.client.post("/api/v1/customers", json=people)).status_code == 201
    assert (await api.client.post("/api/v1/orders", json=orders)).status_code == 201
    created = await api.client.post("/api/v1/campaigns", json={"name": "T", "rules": RULES, "message": "Hi"})
    assert created.status_code == 201, created.text
    campaign: dict[str, Any] = created.json()
    assert (await api.client.post(f"/api/v1/campaigns/{campaign['id']}/launch")).status_code == 202
    return campaign


def test_the_bucket_follows_the_span() -> None:
    assert outcomes_service.bucket_seconds(timedelta(minutes=3)) == 300
    assert outcomes_service.bucket_seconds(timedelta(hours=2)) == 300
    assert outcomes_service.bucket_seconds(timedelta(hours=5)) == 3600
    assert outcomes_service.bucket_seconds(timedelta(hours=48)) == 3600
    assert outcomes_service.bucket_seconds(timedelta(days=6)) == 86_400
    assert outcomes_service.bucket_seconds(timedelta(days=150)) == 3 * 86_400  # at most 60 buckets


async def test_hourly_buckets_count_sends_engagement_and_orders(
    inline_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = await _launched(inline_api)
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    t0 = hour - timedelta(hours=5) + timedelta(minutes=10)
    at = {
        k: t0 + timedelta(minutes=m) for k, m in (("first", 1), ("second", 70), ("open", 75), ("click", 120))
    }
    async with inline_api.services.db.write_session() as session:
        await session.execute(sa.update(Campaign).where(Campaign.id == campaign["id"]).values(launched_at=t0))
        ids = (
            await session.scalars(
                sa.select(Delivery.id).where(Delivery.campaign_id == campaign["id"]).order_by(Delivery.id)
            )
        ).all()
        assert len(ids) == 6
        for i, delivery_id in enumerate(ids[:5]):  # the sixth is still pending
            sent_at = at["first"] if i < 3 else at["second"]
            await session.execute(
                sa.update(Delivery).where(Delivery.id == delivery_id).values(status="sent", sent_at=sent_at)
            )
        session.add_all(
            [
                EngagementEvent(
                    delivery_id=ids[0],
                    campaign_id=campaign["id"],
                    kind="opened",
                    occurred_at=at["open"],
                    received_at=at["open"],
                ),
                EngagementEvent(
                    delivery_id=ids[1],
                    campaign_id=campaign["id"],
                    kind="opened",
                    occurred_at=at["open"],
                    received_at=at["open"],
                ),
                EngagementEvent(
                    delivery_id=ids[1],
                    campaign_id=campaign["id"],
                    kind="clicked",
                    link_id=1,
                    occurred_at=at["click"],
                    received_at=at["click"],
                ),
            ]
        )
        order_ids = (await session.scalars(sa.select(Order.id).order_by(Order.id))).all()
        for order_id, amount, minutes in zip(order_ids, ("150.50", "49.50"), (130, 140), strict=True):
            session.add(
                OrderAttribution(
                    order_id=order_id,
                    delivery_id=ids[0],
                    campaign_id=campaign["id"],
                    customer_external_id="c0",
                    amount=Decimal(amount),
                    ordered_at=t0 + timedelta(minutes=minutes),
                )
            )
        await session.commit()

    response = await inline_api.client.get(f"/api/v1/campaigns/{campaign['id']}/timeline")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["bucket_seconds"] == 3600 and body["sent_charted"] is True
    buckets = body["buckets"]
    assert len(buckets) == 6  # the launch hour to the current one
    assert datetime.fromisoformat(buckets[0]["starts"]) == t0.replace(minute=0)
    assert datetime.fromisoformat(body["starts"]) == t0.replace(minute=0)
    assert datetime.fromisoformat(body["ends"]) == hour + timedelta(hours=1)
    series = {k: [b[k] for b in buckets] for k in ("sent", "opened", "clicked", "orders", "revenue")}
    assert series == {
        "sent": [3, 2, 0, 0, 0, 0],
        "opened": [0, 2, 0, 0, 0, 0],
        "clicked": [0, 0, 1, 0, 0, 0],
        "orders": [0, 0, 2, 0, 0, 0],
        "revenue": ["0.00", "0.00", "200.00", "0.00", "0.00", "0.00"],
    }

    # Above the limit, sends are not bucketed (it would read every delivery); the rest still is.
    monkeypatch.setattr(outcomes_service, "SENT_CHART_LIMIT", 5)
    capped = (await inline_api.client.get(f"/api/v1/campaigns/{campaign['id']}/timeline")).json()
    assert capped["sent_charted"] is False and {b["sent"] for b in capped["buckets"]} == {None}
    assert [b["orders"] for b in capped["buckets"]] == series["orders"]


async def test_the_span_stops_when_nothing_more_can_be_credited(inline_api: Api) -> None:
    campaign = await _launched(inline_api, n=1)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    async with inline_api.services.db.write_session() as session:
        c = await session.get_one(Campaign, campaign["id"])
        c.launched_at, c.completed_at = now - timedelta(days=20), now - timedelta(days=19)
        assert c.attribution_days == 5
        body = await outcomes_service.timeline(session, c, now=now)
    assert body.bucket_seconds == 86_400 and len(body.buckets) == 7  # launch day + 5 days after sending
    assert body.starts == datetime(2026, 11, 11, tzinfo=UTC)


async def test_a_draft_has_no_timeline_and_unknown_campaigns_are_404(inline_api: Api) -> None:
    created = await inline_api.client.post(
        "/api/v1/campaigns", json={"name": "D", "rules": RULES, "message": "Hi"}
    )
    draft = (await inline_api.client.get(f"/api/v1/campaigns/{created.json()['id']}/timeline")).json()
    assert draft["buckets"] == [] and draft["starts"] is None
    missing = await inline_api.client.get("/api/v1/campaigns/999999/timeline")
    assert missing.status_code == 404 and missing.json()["error"]["code"]


async def test_the_timeline_needs_the_campaigns_scope(inline_api: Api) -> None:
    campaign = await _launched(inline_api, n=1)
    path = f"/api/v1/campaigns/{campaign['id']}/timeline"
    transport = httpx.ASGITransport(app=inline_api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anonymous:
        assert (await anonymous.get(path)).status_code == 401
        async with inline_api.services.db.write_session() as session:
            reader = (await auth_service.create_key(session, name="reader", scopes=["read"])).secret
            await session.commit()
        refused = await anonymous.get(path, headers={"Authorization": f"Bearer {reader}"})
        assert refused.status_code == 403
