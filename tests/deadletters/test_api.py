"""Dead letters of both streams: what a worker sets aside, listed and replayed through the API."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import Api, running_api
from tests.factories import customer, order

pytestmark = pytest.mark.redis


async def _xadd_orders(api: Api, records: list[object], **fields: str) -> None:
    assert api.services.redis is not None
    entry = {"v": "1", "kind": "orders", "received_at": "2026-01-01T00:00:00+00:00"} | fields
    await api.services.redis.xadd(api.services.ingestor.stream, {**entry, "records": orjson.dumps(records)})


async def _stored_orders(api: Api) -> set[str]:
    return {o["external_id"] for o in (await api.client.get("/api/v1/orders")).json()["items"]}


async def test_a_bad_record_is_set_aside_and_the_rest_of_its_entry_written_at_once(
    database_url: str, redis_prefix: str
) -> None:
    async with running_api(database_url, redis_prefix) as api:
        await api.client.post("/api/v1/customers", json=customer(external_id="c1"))
        # What an older producer, or a corrupted write, might leave on the stream.
        await _xadd_orders(api, [order(external_id="good"), order(external_id="bad", amount="-3")])
        assert api.services.redis is not None
        await api.services.redis.xadd(
            api.services.ingestor.stream, {"v": "1", "kind": "mystery", "received_at": "x", "records": b"{"}
        )
        await api.client.post("/api/v1/orders", json=order(external_id="healthy"))

        consumer = api.services.ingestor.consumer(name="t", block_ms=1)
        assert await consumer.read_once() == 4
        assert await _stored_orders(api) == {"healthy", "good"}
        redis, stream = api.services.redis, api.services.ingestor.stream
        assert (await redis.xpending(stream, "writers"))["pending"] == 0
        assert await redis.xlen(stream) == 0

        letters = (await api.client.get("/api/v1/dead-letters", params={"stream": "ingest"})).json()["items"]
        by_kind = {d["kind"]: d for d in letters}
        assert set(by_kind) == {"orders", "entry"}
        bad = by_kind["orders"]
        assert bad["external_id"] == "bad" and bad["stream"] == "ingest"
        assert "amount" in bad["error"] and bad["record"]["amount"] == "-3"
        assert bad["replayed_at"] is None and bad["stream_entry_id"]
        assert by_kind["entry"]["record"]["records"] == "{"
        assert "unknown entry kind" in by_kind["entry"]["error"]
        # The old address still lists ingestion's.
        old = (await api.client.get("/api/v1/ingest/dead-letters")).json()["items"]
        assert {d["id"] for d in old} == {d["id"] for d in letters}
        c1 = (await api.client.get("/api/v1/customers/c1")).json()
        assert c1["order_count"] == 2  # healthy + good; the bad one never counted


async def test_replay_a_corrected_record_once(database_url: str, redis_prefix: str) -> None:
    async with running_api(database_url, redis_prefix) as api:
        await _xadd_orders(api, [order(external_id="late", amount="-1")])
        await api.drain()
        [letter] = (await api.client.get("/api/v1/dead-letters")).json()["items"]

        still_bad = await api.client.post(f"/api/v1/dead-letters/{letter['id']}/replay")
        assert still_bad.status_code == 422, still_bad.text
        assert "amount" in still_bad.text

        # Someone fixes the data at the source; here, the stored payload (as an operator would).
        async with api.services.db.engine.begin() as conn:
            import sqlalchemy as sa

            from pulsecrm.deadletters.models import DeadLetter

            await conn.execute(
                sa.update(DeadLetter)
                .where(DeadLetter.id == letter["id"])
                .values(record=order(external_id="late"))
            )
        replayed = await api.client.post(f"/api/v1/dead-letters/{letter['id']}/replay")
        assert replayed.status_code == 200, replayed.text
        assert replayed.json() == {"id": letter["id"], "status": "queued"}
        await api.drain()
        assert await _stored_orders(api) == {"late"}
        again = await api.client.post(f"/api/v1/dead-letters/{letter['id']}/replay")
        assert again.status_code == 409
        [after] = (await api.client.get("/api/v1/dead-letters")).json()["items"]
        assert after["replayed_at"] is not None

        assert (await api.client.post("/api/v1/dead-letters/999999/replay")).status_code == 404
        huge = await api.client.post("/api/v1/dead-letters/99999999999999999999/replay")
        assert huge.status_code == 422


async def test_a_whole_undecodable_entry_cannot_be_replayed(database_url: str, redis_prefix: str) -> None:
    async with running_api(database_url, redis_prefix) as api:
        assert api.services.redis is not None
        await api.services.redis.xadd(api.services.ingestor.stream, {"v": "1", "kind": "orders"})
        await api.drain()
        [letter] = (await api.client.get("/api/v1/dead-letters")).json()["items"]
        assert letter["kind"] == "entry" and "missing field 'received_at'" in letter["error"]
        response = await api.client.post(f"/api/v1/dead-letters/{letter['id']}/replay")
        assert response.status_code == 422
        assert "whole stream entry" in response.json()["error"]["message"]


async def test_dead_letter_list_paginates_and_filters(database_url: str, redis_prefix: str) -> None:
    async with running_api(database_url, redis_prefix) as api:
        await _xadd_orders(api, [order(external_id=f"b{i}", amount="-1") for i in range(5)])
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
        receipts = (await api.client.get("/api/v1/dead-letters", params={"stream": "receipts"})).json()
        assert receipts == {"items": [], "next_cursor": None}
        assert (await api.client.get("/api/v1/dead-letters", params={"stream": "x"})).status_code == 422


async def test_receipts_entries_get_the_same_policy(database_url: str, redis_prefix: str) -> None:
    """A receipt with a year-1 time among good ones, and a malformed entry: the good receipts
    are applied (parked: no such messages yet), the rest dead-lettered, none dropped silently."""
    async with running_api(database_url, redis_prefix) as api:
        redis, stream = api.services.redis, api.services.receipts.stream
        assert redis is not None
        good = [
            {"message_id": f"m{i}", "status": "delivered", "occurred_at": "2026-11-20T10:00:00Z"}
            for i in range(3)
        ]
        poison = {"message_id": "m-old", "status": "delivered", "occurred_at": "0001-01-01T00:00:00+05:30"}
        await redis.xadd(stream, {"v": "1", "receipts": orjson.dumps([*good, poison])})
        await redis.xadd(stream, {"v": "1", "receipts": b"not json"})
        await redis.xadd(stream, {"v": "1"})
        await api.drain()
        assert await redis.xlen(stream) == 0

        import sqlalchemy as sa

        from pulsecrm.delivery.models import ParkedReceipt

        async with api.services.db.sessions() as session:
            parked = set(await session.scalars(sa.select(ParkedReceipt.message_id)))
        assert parked == {"m0", "m1", "m2"}
        letters = (await api.client.get("/api/v1/dead-letters", params={"stream": "receipts"})).json()[
            "items"
        ]
        assert len(letters) == 3
        by_label = {d["external_id"]: d for d in letters}
        assert by_label["m-old"]["kind"] == "receipt"
        assert "occurred_at: must be between 1900" in by_label["m-old"]["error"]
        entries = [d for d in letters if d["kind"] == "entry"]
        assert len(entries) == 2
        assert any("not json" in str(d["record"]) for d in entries)


async def test_engagement_entries_share_the_receipts_stream_and_its_policy(
    database_url: str, redis_prefix: str
) -> None:
    """Clicks and opens queued by the web process ride the receipts stream: the good ones are
    applied with the entry's receipts, a bad one is set aside as an `engagement` dead letter."""
    from tests.delivery.test_receipts import _sent_campaign, receipt, stats

    async with running_api(database_url, redis_prefix) as api:
        redis, stream = api.services.redis, api.services.receipts.stream
        assert redis is not None
        cid = await _sent_campaign(api, customers=2)
        async with api.services.db.engine.connect() as conn:
            import sqlalchemy as sa

            from pulsecrm.delivery.models import Delivery

            first = await conn.scalar(sa.select(sa.func.min(Delivery.id)).where(Delivery.campaign_id == cid))
        click = {"delivery_id": first, "kind": "clicked", "occurred_at": "2026-11-20T10:00:00Z", "link_id": 7}
        poison = {**click, "delivery_id": 0}
        entry = {
            "v": "1",
            "receipts": orjson.dumps([receipt("m2", "opened")]),
            "engagement": orjson.dumps([click, poison]),
            "n": "2",
        }
        await redis.xadd(stream, entry)
        await api.drain()
        s = await stats(api, cid)
        assert (s["opened"], s["clicked"]) == (2, 1)
        letters = (await api.client.get("/api/v1/dead-letters", params={"stream": "receipts"})).json()[
            "items"
        ]
        assert [(d["kind"], d["external_id"]) for d in letters] == [("engagement", "0")]
        replayed = await api.client.post(f"/api/v1/dead-letters/{letters[0]['id']}/replay")
        assert replayed.status_code == 422, replayed.text  # still no such delivery id
