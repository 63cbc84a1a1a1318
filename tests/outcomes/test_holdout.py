"""The control group through the API: its share, its determinism, and that nobody in it is messaged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pulsecrm.customers.models import Customer
from pulsecrm.delivery.models import Delivery
from pulsecrm.outcomes.holdout import bucket, seed_of
from pulsecrm.outcomes.models import CampaignHoldout
from tests.conftest import Api

TOWN = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Holdoutpur"}]}
N = 100_000


async def _many_customers(api: Api, n: int) -> None:
    """Setup only: n reachable customers written straight to the table (100k through the API
    would be most of this test's time and is covered by the ingestion tests)."""
    now = datetime.now(UTC)
    rows = [
        {
            "external_id": f"h{i:06d}",
            "name": f"H {i}",
            "city": "Holdoutpur",
            "phone": f"+91 9{i:09d}",
            "attributes": {},
            "created_at": now,
            "updated_at": now,
            "ingested_at": now,
        }
        for i in range(n)
    ]
    async with api.services.db.engine.begin() as conn:
        for start in range(0, n, 20_000):
            await conn.execute(sa.insert(Customer), rows[start : start + 20_000])


async def _launch(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "Holdout test", "message": "Hi", "rules": TOWN, "channel": "sms"} | fields
    created = await api.client.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    launched = await api.client.post(f"/api/v1/campaigns/{created.json()['id']}/launch")
    assert launched.status_code == 202, launched.text
    result: dict[str, Any] = launched.json()
    return result


async def _control(api: Api, campaign_id: int) -> set[int]:
    async with api.services.db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(CampaignHoldout.customer_id).where(CampaignHoldout.campaign_id == campaign_id)
        )
        return set(rows.scalars())


async def test_share_determinism_and_nobody_in_control_is_messaged(inline_api: Api) -> None:
    await _many_customers(inline_api, N)
    first = await _launch(inline_api, holdout_percent=10)
    stats = first["stats"]
    assert stats["audience"] + stats["control"] == N
    assert abs(stats["control"] / N - 0.10) <= 0.01, stats["control"]

    control = await _control(inline_api, first["id"])
    assert len(control) == stats["control"]
    async with inline_api.services.db.engine.connect() as conn:
        messaged = set(
            (
                await conn.execute(sa.select(Delivery.customer_id).where(Delivery.campaign_id == first["id"]))
            ).scalars()
        )
    assert len(messaged) == stats["audience"]
    assert not control & messaged  # no control customer has a message, so none can ever be sent one

    # The same audience launched again holds out exactly the same customers.
    again = await _launch(inline_api, name="Holdout test, again", holdout_percent=10)
    assert await _control(inline_api, again["id"]) == control
    # The split is the documented hash, computed the same in the database and in Python.
    seed = seed_of(first["rules"])
    assert {i for i in messaged | control if bucket(seed, i) < 1_000} == control


async def test_the_report_says_lift_cannot_be_measured_without_a_holdout(inline_api: Api) -> None:
    await _many_customers(inline_api, 50)
    plain = await _launch(inline_api)
    report = (await inline_api.client.get(f"/api/v1/campaigns/{plain['id']}/report")).json()
    assert report["control"] is None and report["lift"] is None
    assert "can't be measured" in report["lift_note"]
    assert report["funnel"]["reachable"] == 50


async def test_holdout_and_window_are_validated(inline_api: Api) -> None:
    for field, value in (
        ("holdout_percent", 51),
        ("holdout_percent", -1),
        ("attribution_days", 0),
        ("attribution_days", 31),
    ):
        response = await inline_api.client.post(
            "/api/v1/campaigns", json={"name": "x", "message": "Hi", "rules": TOWN, field: value}
        )
        assert response.status_code == 422, (field, value)
        assert field in response.text
