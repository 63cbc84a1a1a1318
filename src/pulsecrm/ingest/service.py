"""Ingestion service: queue validated records or write them; consume the queue."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from pulsecrm import broker, logs, metrics
from pulsecrm.config import Settings
from pulsecrm.customers.schemas import CustomerIn, OrderIn
from pulsecrm.db import Database, utcnow
from pulsecrm.deadletters import service as deadletter_service
from pulsecrm.ingest import parsing
from pulsecrm.ingest.codec import IngestCodec
from pulsecrm.ingest.parsing import MODELS
from pulsecrm.ingest.writer import Entry, Kind, partition, write_batch

log = logging.getLogger(__name__)

STREAM_GROUP = "writers"
WRITERS = 2  # transactions a worker writes at once on PostgreSQL (see write_items)
# Smaller batches are written whole: splitting saves nothing there, and a batch written in one
# transaction numbers its new customers in arrival order.
SPLIT_FROM = 1_000


@dataclass(frozen=True)
class Accepted:
    status: str  # "queued" or "written"
    count: int


class Ingestor:
    """Takes validated records: onto the stream when Redis is configured, else into the database."""

    def __init__(self, db: Database, redis: aioredis.Redis | None, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings
        self.stream = f"{settings.redis_prefix}ingest"
        self.codec = IngestCodec(settings.ingest_entry_records)

    async def _write(self, entries: Sequence[Entry]) -> int:
        written = await write_batch(
            self.db,
            entries,
            default_currency=self.settings.default_currency,
            consent_attributes=self.settings.consent_attributes,
        )
        per_kind: Counter[str] = Counter()
        for entry in entries:
            per_kind[entry.kind] += len(entry.records)
        for kind, n in per_kind.items():
            metrics.records_written(kind, n)
        return written

    async def accept(self, kind: Kind, records: Sequence[CustomerIn | OrderIn]) -> Accepted:
        received_at = utcnow()
        rid = logs.request_id.get()
        if self.redis is None:
            accepted = Accepted(
                "written", await self._write([Entry(kind, received_at, records, request_id=rid)])
            )
        else:
            entries = self.codec.encode(kind, received_at, records, rid)
            await broker.append(self.redis, self.stream, entries)
            accepted = Accepted("queued", len(records))
        metrics.records_accepted(kind, len(records))
        return accepted

    async def replay(self, kind: str, record: Any) -> str:
        """A dead letter's record, submitted again as the API would take it."""
        if kind not in MODELS:
            raise deadletter_service.not_replayable(kind)
        checked = parsing.parse_records(kind, orjson.dumps(record), "application/json", max_records=1)
        return (await self.accept(kind, checked)).status

    async def backlog(self) -> int | None:
        """Stream entries not yet written (acked entries are deleted); None without Redis."""
        if self.redis is None:
            return None
        return int(await self.redis.xlen(self.stream))

    # --- the stream side ------------------------------------------------------------------

    def consumer(self, *, name: str | None = None, block_ms: int = 1000) -> broker.StreamConsumer[Entry]:
        assert self.redis is not None, "the stream consumer needs Redis"
        settings = self.settings
        return broker.StreamConsumer(
            self.redis,
            stream=self.stream,
            group=STREAM_GROUP,
            codec=self.codec,
            handle=self.write_items,
            dead_letter=deadletter_service.recorder(self.db, "ingest"),
            policy=broker.Policy(
                reclaim_idle_ms=settings.ingest_reclaim_idle_ms,
                max_attempts=settings.ingest_max_attempts,
                read_count=self.read_count,
                chunk_weight=settings.ingest_batch_records,
                hold_retry_seconds=settings.stream_hold_retry_seconds,
                max_deliveries=settings.stream_max_deliveries,
            ),
            block_ms=block_ms,
            name=name,
        )

    def read_count(self) -> int:
        """Entries to read next: a few transactions' worth, so decoding can overlap writing."""
        wanted = int(4 * self.settings.ingest_batch_records / max(self.codec.records_per_entry, 1.0))
        return max(1, min(wanted, self.settings.ingest_batch_entries))

    async def write_items(self, entries: list[Entry]) -> None:
        """The batch function the stream consumer calls: on PostgreSQL, WRITERS transactions
        with no customer in common, at once, so the database works on one while this process
        prepares the next; one transaction on SQLite, which has one writer."""
        split = not self.db.sqlite and len(entries) >= SPLIT_FROM
        parts = partition(entries, WRITERS) if split else [entries]
        done = await asyncio.gather(*(self._write(part) for part in parts), return_exceptions=True)
        # Both finished, committed or not, before the consumer splits or retries the batch:
        # writing a committed part again is a replay, which changes nothing.
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome
        # One line per transaction, naming the requests it came from (see pulsecrm.logs).
        requests = sorted({e.request_id for e in entries if e.request_id})
        records = sum(len(e.records) for e in entries)
        log.info(
            "wrote %d records from %d requests",
            records,
            len(requests),
            extra={"records": records, "request_ids": requests[:100]},
        )
