"""A/B variants through the API: even splits, deterministic assignment, and a test that picks its
winner by the stated metric and sends it only to the rest."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.campaigns import variants
from pulsecrm.campaigns.models import Campaign
from pulsecrm.customers.models import Customer
from pulsecrm.delivery import store
from pulsecrm.delivery.channels import Sent
from pulsecrm.delivery.models import Delivery
from pulsecrm.delivery.receipts import Engagement
from tests.conftest import Api

TOWN = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Splitpur"}]}
THREE = [{"message": "Hi A"}, {"message": "Hi B {{ first_name }}"}, {"message": "Hi C"}]


async def _customers(api: Api, n: int) -> None:
    """Setup only: n reachable customers written straight to the table."""
    now = datetime.now(UTC)
    rows = [
        {
            "external_id": f"v{i:06d}",
            "name": f"V {i}",
            "city": "Splitpur",
            "phone": f"+91 8{i:09d}",
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
    body = {"name": "A/B", "rules": TOWN, "variants": THREE} | fields
    created = await api.client.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    launched = await api.client.post(f"/api/v1/campaigns/{created.json()['id']}/launch")
    assert launched.status_code == 202, launched.text
    result: dict[str, Any] = launched.json()
    return result


async def _assignment(api: Api, campaign_id: int) -> dict[int, int | None]:
    async with api.services.db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(Delivery.customer_id, Delivery.variant).where(Delivery.campaign_id == campaign_id)
        )
        return {int(c): v for c, v in rows}


async def test_an_even_split_is_even_deterministic_and_one_variant_each(inline_api: Api) -> None:
    n = 30_000
    await _customers(inline_api, n)
    first = await _launch(inline_api)
    assert first["variants"] == [v | {"subject": None} for v in THREE]
    assignment = await _assignment(inline_api, first["id"])
    assert len(assignment) == n  # one delivery, so one variant, per customer
    shares = Counter(assignment.values())
    assert set(shares) == {0, 1, 2}
    for count in shares.values():
        assert abs(count / n - 1 / 3) <= 0.01, shares
    again = await _launch(inline_api, name="A/B again")
    assert await _assignment(inline_api, again["id"]) == assignment

    report = (await inline_api.client.get(f"/api/v1/campaigns/{first['id']}/report")).json()
    assert [(v["label"], v["customers"]) for v in report["variants"]] == [
        ("A", shares[0]),
        ("B", shares[1]),
        ("C", shares[2]),
    ]


async def test_the_test_picks_its_winner_by_the_metric_and_sends_it_to_the_rest(inline_api: Api) -> None:
    n = 5_000
    await _customers(inline_api, n)
    launched = await _launch(
        inline_api, variants=THREE[:2], variant_test={"percent": 20, "hours": 1, "metric": "clicked"}
    )
    cid = launched["id"]
    start = datetime.fromisoformat(launched["launched_at"])
    before = await _assignment(inline_api, cid)
    test = {c: v for c, v in before.items() if v is not None}
    assert abs(len(test) / n - 0.20) <= 0.01
    assert {v for v in test.values()} == {0, 1}

    async def send_due(conn: AsyncConnection, now: datetime) -> list[store.Claimed]:
        claimed = await store.claim(
            conn, campaign_id=cid, limit=n, lease_until=now + timedelta(minutes=1), now=now, idempotent=True
        )
        await store.record(
            conn,
            claimed,
            [Sent(c.delivery_id, f"ab-{c.delivery_id}") for c in claimed],
            idempotent=True,
            max_attempts=3,
            now=now,
            withdrawn={},
        )
        return claimed

    db = inline_api.services.db
    # Only the test goes out before the winner is known, even long after its time.
    claimed = await db.write(lambda conn: send_due(conn, start + timedelta(hours=5)))
    assert {c.customer_id for c in claimed} == set(test)
    # B's messages are clicked twice as often as A's.
    by_variant: dict[int, list[int]] = {0: [], 1: []}
    for c in claimed:
        by_variant[c.variant or 0].append(c.delivery_id)
    clicks = [
        Engagement(delivery_id=d, kind="clicked", occurred_at=start + timedelta(minutes=10))
        for variant, share in ((0, 10), (1, 5))
        for d in by_variant[variant][::share]
    ]
    await db.write(lambda conn: store.apply_engagement(conn, clicks, now=start + timedelta(minutes=10)))

    assert await db.write(lambda conn: variants.pick_winners(conn, now=start + timedelta(minutes=59))) == 0
    assert await db.write(lambda conn: variants.pick_winners(conn, now=start + timedelta(hours=1))) == 1
    assert await db.write(lambda conn: variants.pick_winners(conn, now=start + timedelta(hours=2))) == 0

    campaign = (await inline_api.client.get(f"/api/v1/campaigns/{cid}")).json()
    assert campaign["winner"]["label"] == "B"
    assert campaign["winner"]["reason"].startswith("B won on click rate: B ")
    after = await _assignment(inline_api, cid)
    assert {c: after[c] for c in test} == test  # the test's messages keep their variant
    assert {after[c] for c in before if before[c] is None} == {1}  # the rest get the winner
    rest = await db.write(lambda conn: send_due(conn, start + timedelta(hours=1, seconds=1)))
    assert {c.customer_id for c in rest} == set(before) - set(test)
    async with db.sessions() as session:
        row = await session.get(Campaign, cid)
    assert row is not None
    assert variants.variant_of(row, 1) == ("Hi B {{ first_name }}", None)

    report = (await inline_api.client.get(f"/api/v1/campaigns/{cid}/report")).json()
    assert [v["winner"] for v in report["variants"]] == [False, True]
    assert report["variants_note"] == campaign["winner"]["reason"]


async def test_variants_are_validated(inline_api: Api) -> None:
    cases = [
        ({"message": "Hi", "variants": THREE}, "message"),
        ({"variants": THREE[:1]}, "variants"),
        ({"variants": [*THREE, *THREE]}, "variants"),
        ({"message": "Hi", "variant_test": {"percent": 20}}, "variant_test"),
        ({"variants": THREE, "variant_test": {"percent": 90}}, "percent"),
        ({"variants": [{"message": "Hi {{ nope }}"}, {"message": "Hi"}]}, "variants[0].message"),
        ({"channel": "email", "variants": [{"message": "Hi", "subject": "S"}, {"message": "Hi"}]}, "subject"),
    ]
    for fields, needle in cases:
        body = {"name": "A/B", "rules": TOWN} | fields
        response = await inline_api.client.post("/api/v1/campaigns", json=body)
        assert response.status_code == 422, (fields, response.text)
        assert needle in response.text, (needle, response.text)
