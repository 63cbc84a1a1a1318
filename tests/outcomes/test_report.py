"""The campaign report through the API: engagement receipts, attributed orders, the control group
and the lift; and the lift's interval against statsmodels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection
from statsmodels.stats.proportion import confint_proportions_2indep

from pulsecrm.delivery import store
from pulsecrm.delivery.channels import Sent
from pulsecrm.outcomes import attribution
from pulsecrm.outcomes.lift import lift, sentence
from pulsecrm.outcomes.models import CampaignHoldout
from tests.conftest import Api
from tests.delivery.test_receipts import post, receipt

EVERYONE = {"op": "and", "rules": []}


@given(
    n1=st.integers(1, 1_000_000),
    n2=st.integers(1, 1_000_000),
    f1=st.floats(0, 1),
    f2=st.floats(0, 1),
)
def test_the_interval_is_newcombes_as_statsmodels_computes_it(n1: int, n2: int, f1: float, f2: float) -> None:
    x1, x2 = round(n1 * f1), round(n2 * f2)
    ours = lift(x1, n1, x2, n2)
    assert ours is not None
    low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    assert ours.low == pytest.approx(float(low), abs=1e-9)
    assert ours.high == pytest.approx(float(high), abs=1e-9)
    assert ours.absolute == pytest.approx(x1 / n1 - x2 / n2, abs=1e-12)
    assert ours.significant == (float(low) > 0 or float(high) < 0)


def test_the_sentence_reads_like_the_brief() -> None:
    result = lift(300, 1000, 200, 1000)
    assert result is not None
    assert sentence(result) == "+10.0 pts conversion, 95% CI 6.2\u201313.7, significant"
    small = lift(3, 10, 2, 10)
    assert small is not None and sentence(small).endswith("not significant")
    assert lift(1, 10, 0, 0) is None


async def _launch(api: Api, people: int, **fields: Any) -> dict[str, Any]:
    customers = [
        {"external_id": f"r{i:03d}", "name": f"R {i}", "phone": f"+91 90000 3{i:04d}"} for i in range(people)
    ]
    assert (await api.client.post("/api/v1/customers", json=customers)).status_code in (201, 202)
    await api.drain()
    body = {"name": "Report", "message": "Hi", "rules": EVERYONE} | fields
    created = (await api.client.post("/api/v1/campaigns", json=body)).json()
    launched = await api.client.post(f"/api/v1/campaigns/{created['id']}/launch")
    assert launched.status_code == 202, launched.text
    result: dict[str, Any] = launched.json()
    return result


async def _send_all(api: Api, campaign_id: int, at: datetime) -> dict[int, str]:
    """Record every delivery as sent at `at`, through the store as the dispatcher would;
    returns customer id -> vendor message id."""

    async def work(conn: AsyncConnection) -> dict[int, str]:
        claimed = await store.claim(
            conn,
            campaign_id=campaign_id,
            limit=10_000,
            lease_until=at + timedelta(minutes=1),
            now=at,
            idempotent=True,
        )
        await store.record(
            conn,
            claimed,
            [Sent(c.delivery_id, f"rep-{c.delivery_id}") for c in claimed],
            idempotent=True,
            max_attempts=3,
            now=at,
            withdrawn={},
        )
        return {c.customer_id: f"rep-{c.delivery_id}" for c in claimed}

    return await api.services.db.write(work)


async def _catch_up(api: Api) -> None:
    async def work(conn: AsyncConnection) -> int:
        return (await attribution.catch_up(conn, now=datetime.now(UTC))).customers

    for _ in range(20):
        if not await api.services.db.write(work):
            return


async def test_report_funnel_revenue_and_lift(api: Api) -> None:
    await _catch_up(api)  # the pass's cursor starts before this test's orders
    campaign = await _launch(api, 40, holdout_percent=50, attribution_days=3)
    cid = campaign["id"]
    sent_at = datetime.now(UTC) - timedelta(hours=1)
    messages = await _send_all(api, cid, sent_at)
    async with api.services.db.engine.connect() as conn:
        control = set(
            (
                await conn.execute(
                    sa.select(CampaignHoldout.customer_id).where(CampaignHoldout.campaign_id == cid)
                )
            ).scalars()
        )
        external = dict(
            (
                await conn.execute(
                    sa.text("SELECT id, external_id FROM customers WHERE external_id LIKE 'r%'")
                )
            ).all()
        )
    assert len(messages) + len(control) == 40 and control and messages

    # Engagement: everyone delivered; two open, one of them clicks; duplicates and a click
    # arriving before its open change nothing twice.
    treated = sorted(messages)
    ids = [messages[c] for c in treated]
    later = (sent_at + timedelta(minutes=5)).isoformat()
    assert (await post(api, [receipt(m) for m in ids])).status_code in (200, 202)
    engagement = [
        receipt(ids[0], "clicked", occurred_at=later),
        receipt(ids[0], "opened", occurred_at=later),
        receipt(ids[1], "opened", occurred_at=later),
    ]
    assert (await post(api, engagement)).status_code in (200, 202)
    assert (await post(api, engagement)).status_code in (200, 202)

    # Orders: three treated customers buy (one twice), one control customer buys; one order
    # comes before the send and counts for neither.
    at = (sent_at + timedelta(hours=2)).isoformat()
    before = (sent_at - timedelta(days=1)).isoformat()
    orders = [
        {
            "external_id": "ro1",
            "customer_external_id": external[treated[0]],
            "amount": "100.00",
            "ordered_at": at,
        },
        {
            "external_id": "ro2",
            "customer_external_id": external[treated[0]],
            "amount": "50.50",
            "ordered_at": at,
        },
        {
            "external_id": "ro3",
            "customer_external_id": external[treated[1]],
            "amount": "20.00",
            "ordered_at": at,
        },
        {
            "external_id": "ro4",
            "customer_external_id": external[treated[2]],
            "amount": "9.99",
            "ordered_at": at,
        },
        {
            "external_id": "ro5",
            "customer_external_id": external[min(control)],
            "amount": "70.00",
            "ordered_at": at,
        },
        {
            "external_id": "ro6",
            "customer_external_id": external[treated[3]],
            "amount": "5.00",
            "ordered_at": before,
        },
    ]
    assert (await api.client.post("/api/v1/orders", json=orders)).status_code in (201, 202)
    await api.drain()
    await _catch_up(api)

    stats = (await api.client.get(f"/api/v1/campaigns/{cid}")).json()["stats"]
    assert (stats["opened"], stats["clicked"]) == (2, 1)
    assert (stats["converted"], stats["orders"], stats["revenue"]) == (3, 4, "180.49")
    assert stats["conversion_rate"] == round(3 / len(messages), 4)

    report = (await api.client.get(f"/api/v1/campaigns/{cid}/report")).json()
    assert report["funnel"] == {
        "audience": 40,
        "reachable": 40,
        "sent": len(messages),
        "delivered": len(messages),
        "opened": 2,
        "clicked": 1,
        "converted": 3,
    }
    assert report["treatment"] | {"conversion_rate": None, "revenue_per_customer": None} == {
        "customers": len(messages),
        "converted": 3,
        "conversion_rate": None,
        "orders": 4,
        "revenue": "180.49",
        "revenue_per_customer": None,
    }
    assert report["control"]["customers"] == len(control)
    assert (report["control"]["converted"], report["control"]["revenue"]) == (1, "70.00")
    expected = lift(3, len(messages), 1, len(control))
    assert expected is not None
    assert report["lift"]["absolute"] == pytest.approx(expected.absolute, abs=1e-6)
    assert report["lift"]["ci95"] == pytest.approx([expected.low, expected.high], abs=1e-6)
    assert report["lift"]["sentence"] == sentence(expected)
    assert report["window"]["closed"] is False

    # An amendment moves a treated customer's order to a control customer: both groups follow.
    moved = orders[3] | {
        "customer_external_id": external[max(control)],
        "updated_at": datetime.now(UTC).isoformat(),
    }
    assert (await api.client.post("/api/v1/orders", json=[moved])).status_code in (201, 202)
    await api.drain()
    await _catch_up(api)
    report = (await api.client.get(f"/api/v1/campaigns/{cid}/report")).json()
    assert (report["treatment"]["converted"], report["control"]["converted"]) == (2, 2)
    assert report["funnel"]["converted"] == 2


async def test_report_needs_auth_and_an_existing_campaign(inline_api: Api) -> None:
    assert (await inline_api.client.get("/api/v1/campaigns/999999/report")).status_code == 404
    response = await inline_api.client.get("/api/v1/campaigns/1/report", headers={"Authorization": ""})
    assert response.status_code == 401
