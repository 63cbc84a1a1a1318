"""The receipt queue: a Redis Stream consumed in batches by workers, or applied in-request."""

from __future__ import annotations

import logging

import orjson
import redis.asyncio as aioredis
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm import broker
from pulsecrm.config import Settings
from pulsecrm.db import Database
from pulsecrm.delivery import receipts as receipt_lang
from pulsecrm.delivery.receipts import Applied, Receipt

log = logging.getLogger(__name__)
_RECEIPTS = TypeAdapter(list[Receipt])


class ReceiptQueue:
    def __init__(self, db: Database, redis: aioredis.Redis | None, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings
        self.stream = f"{settings.redis_prefix}receipts"

    async def apply_now(self, receipts: list[Receipt]) -> Applied:
        async def work(conn: AsyncConnection) -> Applied:
            return await receipt_lang.apply(conn, receipts)

        return await self.db.write(work)

    async def enqueue(self, receipts: list[Receipt]) -> None:
        assert self.redis is not None
        await broker.append(self.redis, self.stream, [{"v": b"1", "receipts": _RECEIPTS.dump_json(receipts)}])

    def consumer(self, *, name: str | None = None, block_ms: int = 1000) -> broker.StreamConsumer:
        assert self.redis is not None, "the receipt consumer needs Redis"
        return broker.StreamConsumer(
            self.redis,
            stream=self.stream,
            group="appliers",
            consume_batch=self.consume_batch,
            batch_entries=100,
            reclaim_idle_ms=self.settings.ingest_reclaim_idle_ms,
            block_ms=block_ms,
            name=name,
        )

    async def consume_batch(self, messages: list[broker.StreamMessage]) -> list[str]:
        """Apply every receipt of the batch in one transaction; ack after commit."""
        batch: list[Receipt] = []
        for message in messages:
            try:
                batch += _RECEIPTS.validate_json(message.fields[b"receipts"])
            except (KeyError, ValidationError, orjson.JSONDecodeError):
                # Validated before it was queued, so only a foreign writer gets here: log, skip.
                log.error("skipping malformed receipts entry %s", message.id)
        if batch:
            await self.apply_now(batch)
        return [m.id for m in messages]
