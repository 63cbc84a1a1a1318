"""A record that keeps failing is set aside with its error after N deliveries; the rest is written."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.conftest import running_api
from tests.factories import customer, order

pytestmark = pytest.mark.redis


async def test_poisoned_entry_is_retried_then_salvaged_and_dead_lettered(
    database_url: str, redis_prefix: str
) -> None:
    async with running_api(
        database_url, redis_prefix, ingest_max_attempts=2, ingest_reclaim_idle_ms=50
    ) as api:
        redis, stream = api.services.redis, api.services.ingestor.stream
        assert redis is not None
        await api.client.post("/api/v1/customers", json=customer(external_id="c1"))
        # What an older producer, or a corrupted write, might leave on the stream.
        poisoned = [order(external_id="good"), order(external_id="bad", amount="-3")]
        await redis.xadd(
            stream,
            {
                "v": "1",
                "kind": "orders",
                "received_at": "2026-01-01T00:00:00+00:00",
                "records": orjson.dumps(poisoned),
            },
        )
        await redis.xadd(stream, {"v": "1", "kind": "mystery", "received_at": "x", "records": b"{"})
        await api.client.post("/api/v1/orders", json=order(external_id="healthy"))

        consumer = api.services.ingestor.consumer(name="t", block_ms=1)
        assert await consumer.read_once() == 4
        # The healthy entries are written at once; the poisoned ones wait for their 2nd try.
        stored = {o["external_id"] for o in (await api.client.get("/api/v1/orders")).json()["items"]}
        assert stored == {"healthy"}
        pending = await redis.xpending(stream, "writers")
        assert pending["pending"] == 2

        await asyncio.sleep(0.1)
        assert await consumer.reclaim_once() == 2
        assert (await redis.xpending(stream, "writers"))["pending"] == 0
        assert await redis.xlen(stream) == 0

        stored = {o["external_id"] for o in (await api.client.get("/api/v1/orders")).json()["items"]}
        assert stored == {"healthy", "good"}
        letters = (await api.client.get("/api/v1/ingest/dead-letters")).json()["items"]
        by_kind = {d["kind"]: d for d in letters}
        assert set(by_kind) == {"orders", "mystery"}
        assert by_kind["orders"]["external_id"] == "bad"
        assert "amount" in by_kind["orders"]["error"]
        assert by_kind["orders"]["record"]["amount"] == "-3"
        assert by_kind["orders"]["attempts"] == 2
        assert by_kind["mystery"]["record"]["records"] == "{"
        c1 = (await api.client.get("/api/v1/customers/c1")).json()
        assert c1["order_count"] == 2  # healthy + good; the bad one never counted


async def test_dead_letter_list_paginates(database_url: str, redis_prefix: str) -> None:
    async with running_api(database_url, redis_prefix, ingest_max_attempts=1) as api:
        redis, stream = api.services.redis, api.services.ingestor.stream
        assert redis is not None
        bad = [order(external_id=f"b{i}", amount="-1") for i in range(5)]
        await redis.xadd(
            stream,
            {
                "v": "1",
                "kind": "orders",
                "received_at": "2026-01-01T00:00:00+00:00",
                "records": orjson.dumps(bad),
            },
        )
        await api.drain()
        first = (await api.client.get("/api/v1/ingest/dead-letters", params={"limit": 3})).json()
        assert len(first["items"]) == 3 and first["next_cursor"]
        rest = (
            await api.client.get(
                "/api/v1/ingest/dead-letters", params={"limit": 3, "cursor": first["next_cursor"]}
            )
        ).json()
        assert len(rest["items"]) == 2 and rest["next_cursor"] is None
        ids = [d["external_id"] for d in first["items"] + rest["items"]]
        assert sorted(ids) == [f"b{i}" for i in range(5)]
