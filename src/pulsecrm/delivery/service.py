"""The receipt queue: a Redis Stream consumed in batches by workers, or applied in-request.

Entries (format `v` = 1) carry `receipts`, a JSON array of receipts as the webhook takes
them. Like ingestion, a worker validates them again, sets aside the ones that fail (a
malformed entry, one bad receipt) as dead letters, and applies the rest.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import redis.asyncio as aioredis
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm import broker
from pulsecrm.broker import Item, Reject, StreamMessage, raw_fields
from pulsecrm.config import Settings
from pulsecrm.db import Database, utcnow
from pulsecrm.deadletters import service as deadletter_service
from pulsecrm.delivery import store
from pulsecrm.delivery.receipts import Receipt
from pulsecrm.delivery.store import Applied
from pulsecrm.errors import InvalidInput, plain_message, validation_text
from pulsecrm.failures import BadEntry

log = logging.getLogger(__name__)
_RECEIPTS = TypeAdapter(list[Receipt])
VERSION = b"1"


class ReceiptCodec:
    def encode(self, receipts: list[Receipt]) -> list[dict[str, bytes]]:
        return [{"v": VERSION, "receipts": _RECEIPTS.dump_json(receipts)}]

    def weight(self, message: StreamMessage) -> int:
        # Not stored per entry; a webhook call carries up to 10,000, the vendor sends ~100.
        return 100

    def decode(self, message: StreamMessage) -> tuple[list[Item[Receipt]], list[Reject]]:
        body = message.fields.get(b"receipts")
        try:
            if body is None:
                raise BadEntry("missing field 'receipts'")
            return [Item(message.id, r) for r in _RECEIPTS.validate_json(body)], []
        except ValidationError:
            pass
        except BadEntry as exc:
            return [], [Reject(message.id, "entry", None, raw_fields(message), f"BadEntry: {exc}", 1)]
        try:
            raw = orjson.loads(body or b"")
            if not isinstance(raw, list):
                raise BadEntry("receipts is not a JSON array")
        except (BadEntry, orjson.JSONDecodeError) as exc:
            return [], [Reject(message.id, "entry", None, raw_fields(message), f"BadEntry: {exc}", 1)]
        items: list[Item[Receipt]] = []
        rejects: list[Reject] = []
        for raw_receipt in raw:
            try:
                items.append(Item(message.id, Receipt.model_validate(raw_receipt)))
            except ValidationError as exc:
                label = raw_receipt.get("message_id") if isinstance(raw_receipt, dict) else None
                error = validation_text(
                    exc.errors(include_url=False, include_context=True), subject="receipt"
                )
                rejects.append(
                    Reject(
                        message.id, "receipt", None if label is None else str(label), raw_receipt, error, 1
                    )
                )
        return items, rejects

    def describe(self, value: Receipt) -> tuple[str, str | None, Any]:
        return "receipt", value.message_id, value.model_dump(mode="json", exclude_none=True)


class ReceiptQueue:
    def __init__(self, db: Database, redis: aioredis.Redis | None, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings
        self.stream = f"{settings.redis_prefix}receipts"
        self.codec = ReceiptCodec()

    async def apply_now(self, receipts: list[Receipt]) -> Applied:
        async def work(conn: AsyncConnection) -> Applied:
            return await store.apply_receipts(conn, receipts, now=utcnow())

        return await self.db.write(work)

    async def enqueue(self, receipts: list[Receipt]) -> None:
        assert self.redis is not None
        await broker.append(self.redis, self.stream, self.codec.encode(receipts))

    async def replay(self, kind: str, record: Any) -> str:
        """A dead-lettered receipt, submitted again as the webhook would take it."""
        if kind != "receipt":
            raise deadletter_service.not_replayable(kind)
        try:
            receipt = Receipt.model_validate(record)
        except ValidationError as exc:
            details = [
                {"loc": ["record", *e["loc"]], "message": plain_message(e)}
                for e in exc.errors(include_url=False, include_context=True)
            ]
            raise InvalidInput("the receipt is still invalid", details=details) from None
        if self.redis is not None:
            await self.enqueue([receipt])
            return "queued"
        await self.apply_now([receipt])
        return "applied"

    def consumer(self, *, name: str | None = None, block_ms: int = 1000) -> broker.StreamConsumer[Receipt]:
        assert self.redis is not None, "the receipt consumer needs Redis"
        settings = self.settings
        return broker.StreamConsumer(
            self.redis,
            stream=self.stream,
            group="appliers",
            codec=self.codec,
            handle=self.apply_items,
            dead_letter=deadletter_service.recorder(self.db, "receipts"),
            policy=broker.Policy(
                reclaim_idle_ms=settings.receipts_reclaim_idle_ms,
                max_attempts=settings.receipts_max_attempts,
                read_count=100,
                chunk_weight=10_000,
                hold_retry_seconds=settings.stream_hold_retry_seconds,
                max_deliveries=settings.stream_max_deliveries,
            ),
            block_ms=block_ms,
            name=name,
        )

    async def apply_items(self, receipts: list[Receipt]) -> None:
        """Every receipt of the batch in one transaction: the consumer's batch function."""
        await self.apply_now(receipts)
