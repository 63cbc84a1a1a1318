"""The receipt queue: a Redis Stream consumed in batches by workers, or applied in-request;
and the buffer that collects the clicks and opens a web process sees, to queue them in batches.

Entries (format `v` = 1) carry `receipts`, a JSON array of receipts as the webhook takes
them, and/or `engagement`, a JSON array of opens and clicks we saw ourselves (with `n`, how
many). Like ingestion, a worker validates them again, sets aside the ones that fail (a
malformed entry, one bad item) as dead letters, and applies the rest: receipts and engagement
of a batch in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm import broker
from pulsecrm.broker import Item, Reject, StreamMessage, raw_fields
from pulsecrm.config import Settings
from pulsecrm.db import Database, utcnow
from pulsecrm.deadletters import service as deadletter_service
from pulsecrm.delivery import store
from pulsecrm.delivery.receipts import Engagement, Receipt
from pulsecrm.delivery.store import Applied
from pulsecrm.errors import InvalidInput, plain_message, validation_text
from pulsecrm.failures import BadEntry, Failure, classify, describe

log = logging.getLogger(__name__)
_RECEIPTS = TypeAdapter(list[Receipt])
_ENGAGEMENT = TypeAdapter(list[Engagement])
VERSION = b"1"
# What a receipts entry carries: a vendor's receipt, or an open or click of our own.
Fact = Receipt | Engagement
# The most clicks and opens kept while they cannot be written (Redis or the database away).
MAX_BUFFERED = 200_000


class ReceiptCodec:
    def encode(self, receipts: list[Receipt]) -> list[dict[str, bytes]]:
        return [{"v": VERSION, "receipts": _RECEIPTS.dump_json(receipts)}]

    def encode_engagement(self, events: list[Engagement]) -> list[dict[str, bytes]]:
        return [{"v": VERSION, "engagement": _ENGAGEMENT.dump_json(events), "n": str(len(events)).encode()}]

    def weight(self, message: StreamMessage) -> int:
        # Receipts are not counted per entry; a webhook call carries up to 10,000, the vendor ~100.
        n = message.fields.get(b"n", b"")
        return int(n) if n.isdigit() and b"receipts" not in message.fields else 100

    def decode(self, message: StreamMessage) -> tuple[list[Item[Fact]], list[Reject]]:
        fields = message.fields
        if b"receipts" not in fields and b"engagement" not in fields:
            error = "BadEntry: missing field 'receipts'"
            return [], [Reject(message.id, "entry", None, raw_fields(message), error, 1)]
        items: list[Item[Fact]] = []
        rejects: list[Reject] = []
        for name, model, adapter in (
            (b"receipts", Receipt, _RECEIPTS),
            (b"engagement", Engagement, _ENGAGEMENT),
        ):
            body = fields.get(name)
            if body is None:
                continue
            good, bad = self._decode_list(message, name.decode(), body, model, adapter)
            if bad and bad[0].kind == "entry":
                return [], bad
            items += good
            rejects += bad
        return items, rejects

    def _decode_list(
        self,
        message: StreamMessage,
        name: str,
        body: bytes,
        model: type[Receipt] | type[Engagement],
        adapter: TypeAdapter[Any],
    ) -> tuple[list[Item[Fact]], list[Reject]]:
        try:
            return [Item(message.id, r) for r in adapter.validate_json(body)], []
        except ValidationError:
            pass
        try:
            raw = orjson.loads(body)
            if not isinstance(raw, list):
                raise BadEntry(f"{name} is not a JSON array")
        except (BadEntry, orjson.JSONDecodeError) as exc:
            return [], [Reject(message.id, "entry", None, raw_fields(message), f"BadEntry: {exc}", 1)]
        kind = "receipt" if model is Receipt else "engagement"
        items: list[Item[Fact]] = []
        rejects: list[Reject] = []
        for raw_item in raw:
            try:
                items.append(Item(message.id, model.model_validate(raw_item)))
            except ValidationError as exc:
                label_field = "message_id" if model is Receipt else "delivery_id"
                label = raw_item.get(label_field) if isinstance(raw_item, dict) else None
                error = validation_text(exc.errors(include_url=False, include_context=True), subject=kind)
                rejects.append(
                    Reject(message.id, kind, None if label is None else str(label), raw_item, error, 1)
                )
        return items, rejects

    def describe(self, value: Fact) -> tuple[str, str | None, Any]:
        if isinstance(value, Engagement):
            return "engagement", str(value.delivery_id), value.model_dump(mode="json")
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

    async def enqueue_engagement(self, events: list[Engagement]) -> None:
        assert self.redis is not None
        await broker.append(self.redis, self.stream, self.codec.encode_engagement(events))

    async def apply_engagement_now(self, events: list[Engagement]) -> int:
        async def work(conn: AsyncConnection) -> int:
            return await store.apply_engagement(conn, events, now=utcnow())

        return await self.db.write(work)

    async def replay(self, kind: str, record: Any) -> str:
        """A dead-lettered receipt (or open or click), submitted again as it first came."""
        model: type[BaseModel]
        if kind == "receipt":
            model = Receipt
        elif kind == "engagement":
            model = Engagement
        else:
            raise deadletter_service.not_replayable(kind)
        try:
            fact = model.model_validate(record)
        except ValidationError as exc:
            details = [
                {"loc": ["record", *e["loc"]], "message": plain_message(e)}
                for e in exc.errors(include_url=False, include_context=True)
            ]
            raise InvalidInput(f"the {kind} is still invalid", details=details) from None
        if self.redis is not None:
            if isinstance(fact, Engagement):
                await self.enqueue_engagement([fact])
            else:
                assert isinstance(fact, Receipt)
                await self.enqueue([fact])
            return "queued"
        await self.apply_items([fact])
        return "applied"

    def consumer(self, *, name: str | None = None, block_ms: int = 1000) -> broker.StreamConsumer[Fact]:
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

    async def apply_items(self, items: list[Fact]) -> None:
        """Every receipt, open and click of the batch in one transaction: the consumer's batch function."""
        receipts = [i for i in items if isinstance(i, Receipt)]
        events = [i for i in items if isinstance(i, Engagement)]
        now = utcnow()

        async def work(conn: AsyncConnection) -> None:
            if receipts:
                await store.apply_receipts(conn, receipts, now=now)
            if events:
                await store.apply_engagement(conn, events, now=now)

        await self.db.write(work)


class EngagementBuffer:
    """Clicks and opens seen by this web process, written in batches instead of per request.

    `add` only appends a tuple to a list (the redirect answers at once); `run` flushes every
    `engagement_flush_seconds`, or sooner once `engagement_flush_events` are waiting: one XADD
    onto the receipts stream with Redis, else one transaction (`store.apply_engagement`). A
    flush that fails keeps its events for the next one; a process that dies loses what it had
    not flushed yet (at most one interval's worth). Stopping flushes what is left.
    """

    def __init__(self, queue: ReceiptQueue, settings: Settings) -> None:
        self.queue = queue
        self.interval = settings.engagement_flush_seconds
        self.batch = settings.engagement_flush_events
        # (delivery id, kind, link id, unix time): models are built per batch, off the hot path.
        self._events: list[tuple[int, str, int, float]] = []
        self._full = asyncio.Event()
        self._lock = asyncio.Lock()
        self.dropped = 0

    def add(self, delivery_id: int, kind: str, link_id: int = 0) -> None:
        self._events.append((delivery_id, kind, link_id, time.time()))
        if len(self._events) >= self.batch:
            self._full.set()

    @property
    def waiting(self) -> int:
        return len(self._events)

    async def flush(self) -> int:
        """Write (or queue) what is waiting; returns how many. Raises if that failed (the
        events are kept)."""
        async with self._lock:
            events, self._events = self._events, []
            self._full.clear()
            total = len(events)
            try:
                while events:
                    chunk = events[:10_000]
                    await self._write(chunk)
                    del events[: len(chunk)]  # written: not to be tried again
            except BaseException:
                self._events[:0] = events
                if len(self._events) > MAX_BUFFERED:
                    over = len(self._events) - MAX_BUFFERED
                    self.dropped += over
                    del self._events[:over]
                    log.error("engagement buffer full: %d clicks and opens dropped", over)
                raise
            return total

    async def _write(self, chunk: list[tuple[int, str, int, float]]) -> None:
        if self.queue.redis is not None:
            # The entry as `ReceiptCodec.encode_engagement` writes it, without a model per event.
            body = orjson.dumps(
                [
                    {"delivery_id": d, "kind": k, "occurred_at": datetime.fromtimestamp(t, UTC), "link_id": n}
                    for d, k, n, t in chunk
                ]
            )
            entry = {"v": VERSION, "engagement": body, "n": str(len(chunk)).encode()}
            await broker.append(self.queue.redis, self.queue.stream, [entry])
        else:
            await self.queue.apply_engagement_now(
                [
                    Engagement(delivery_id=d, kind=k, link_id=n, occurred_at=datetime.fromtimestamp(t, UTC))
                    for d, k, n, t in chunk
                ]
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Flush until `stop`, then once more."""
        failures = 0
        while not stop.is_set():
            waiter = asyncio.ensure_future(self._full.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait([waiter, stopper], timeout=self.interval, return_when="FIRST_COMPLETED")
            finally:
                waiter.cancel()
                stopper.cancel()
            try:
                await self.flush()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1 or classify(exc) is not Failure.OUTAGE:
                    log.warning(
                        "could not write %d clicks and opens (%s); retrying", self.waiting, describe(exc)
                    )
                await asyncio.sleep(min(0.1 * 2**failures, 2.0))
        try:
            await self.flush()
        except Exception as exc:
            log.error("stopping with %d clicks and opens not written: %s", self.waiting, describe(exc))
