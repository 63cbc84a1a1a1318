"""The audience engine through the API: it answers once built, follows writes within the lag
bound by itself, and hands over to SQL (saying why) when it is stale or lacks a field."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.conftest import running_api

SPENDERS = {"op": "and", "rules": [{"field": "total_spend", "cmp": "gte", "value": 100}]}


async def _preview(client: Any, rules: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/segments/preview", json={"rules": rules})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _until(predicate: Any, within: float = 10.0) -> float:
    started = time.monotonic()
    while not await predicate():
        assert time.monotonic() - started < within, "timed out"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_the_engine_builds_on_first_preview_then_follows_writes(database_url: str) -> None:
    async with running_api(database_url, audience_poll_seconds=0.05) as api:
        customers = [{"external_id": f"c{i}", "name": f"Name {i}", "city": "Pune"} for i in range(5)]
        assert (await api.client.post("/api/v1/customers", json=customers)).status_code == 201

        first = await _preview(api.client, SPENDERS)
        # The first preview starts the build and is answered by SQL meanwhile (or by memory,
        # if the build already finished).
        assert (first["answered_by"], first["fallback"]) in {("database", "building"), ("memory", None)}

        async def built() -> bool:
            return (await _preview(api.client, SPENDERS))["answered_by"] == "memory"

        await _until(built)

        # A write reaches the snapshot through the change feed, without anyone asking.
        orders = [
            {
                "external_id": "o1",
                "customer_external_id": "c3",
                "amount": "150.00",
                "ordered_at": "2026-11-01T10:00:00+00:00",
            }
        ]
        assert (await api.client.post("/api/v1/orders", json=orders)).status_code == 201

        async def applied() -> bool:
            body = await _preview(api.client, SPENDERS)
            return body["answered_by"] == "memory" and body["count"] == 1

        waited = await _until(applied)
        assert waited < api.services.settings.audience_max_lag_seconds
        body = await _preview(api.client, SPENDERS)
        assert [s["external_id"] for s in body["sample"]] == ["c3"]
        assert body["sample"][0]["total_spend"] == "150.00"
        assert body["lag_ms"] is not None and body["lag_ms"] <= 2000


async def test_a_stale_snapshot_hands_over_to_sql(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_api(database_url) as api:
        engine = api.services.audience
        await engine.rebuild()
        monkeypatch.setattr(engine, "start", lambda: None)  # no follower: this test moves the clock
        body = await _preview(api.client, SPENDERS)
        assert body["answered_by"] == "memory", body["fallback"]
        # As if the follower had last caught up 5 s ago.
        engine.status.caught_up_at -= 5
        body = await _preview(api.client, SPENDERS)
        assert (body["answered_by"], body["fallback"]) == ("database", "stale")
        await engine.catch_up()
        assert (await _preview(api.client, SPENDERS))["answered_by"] == "memory"


async def test_a_follower_under_writes_that_never_pause_stays_fresh(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read of the feed brings a batch committed while the one before was applied, so the
    follower never finds the feed empty until the writes stop; it is still caught up as of its
    latest read, not as of when it began."""
    from pulsecrm.segments import engine as engine_module

    async with running_api(database_url) as api:
        engine = api.services.audience
        await engine.rebuild()
        monkeypatch.setattr(engine, "start", lambda: None)  # this test drives the follower
        real = engine_module.changes.since
        reads: list[float] = []

        async def since(conn: Any, seq: int, *, limit: int) -> Any:
            reads.append(time.monotonic())
            rows = await real(conn, seq, limit=limit)
            if rows and len(reads) < 4:  # another batch commits while this one is applied
                new = [{"external_id": f"n{len(reads)}", "name": "New"}]
                assert (await api.client.post("/api/v1/customers", json=new)).status_code == 201
            await asyncio.sleep(0.2)
            return rows

        monkeypatch.setattr(engine_module.changes, "since", since)
        first = [{"external_id": "n0", "name": "First"}]
        assert (await api.client.post("/api/v1/customers", json=first)).status_code == 201
        await engine.catch_up()
        assert len(reads) == 5  # four batches, one at a time, then the feed's end
        assert engine.status.caught_up_at >= reads[-1] - 0.05
        assert engine.status.caught_up_at > reads[0]


async def test_a_field_the_snapshot_lacks_is_counted_in_sql_until_rebuilt(database_url: str) -> None:
    async with running_api(database_url, audience_poll_seconds=0.05) as api:
        engine = api.services.audience
        await engine.rebuild()
        customers = [{"external_id": "c1", "name": "A", "attributes": {"tier": "Gold"}}]
        assert (await api.client.post("/api/v1/customers", json=customers)).status_code == 201
        api.services.catalog.invalidate()
        gold = {"op": "and", "rules": [{"field": "attributes.tier", "cmp": "eq", "value": "gold"}]}
        body = await _preview(api.client, gold)
        assert (body["answered_by"], body["fallback"], body["count"]) == (
            "database",
            "field_not_in_memory",
            1,
        )

        async def rebuilt() -> bool:
            found = await _preview(api.client, gold)
            return found["answered_by"] == "memory" and found["count"] == 1

        await _until(rebuilt)


async def test_the_engine_can_be_turned_off(database_url: str) -> None:
    async with running_api(database_url, audience_engine=False) as api:
        body = await _preview(api.client, SPENDERS)
        assert (body["answered_by"], body["fallback"]) == ("database", "engine_off")
        assert api.services.audience.snapshot is None
