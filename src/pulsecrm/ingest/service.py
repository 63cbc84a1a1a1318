"""Ingestion service: queue validated records or write them; consume the queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from pulsecrm import broker
from pulsecrm.config import Settings
from pulsecrm.customers.schemas import CustomerIn, OrderIn
from pulsecrm.db import Database, utcnow
from pulsecrm.ingest.models import DeadLetter
from pulsecrm.ingest.parsing import LIST_ADAPTERS as _LIST_ADAPTERS
from pulsecrm.ingest.parsing import MODELS
from pulsecrm.ingest.writer import Entry, Kind, write_batch
from pulsecrm.pagination import newest_first

log = logging.getLogger(__name__)

STREAM_GROUP = "writers"
# Errors that a record itself causes: retrying will not help, so after N tries it is set aside.
RECORD_ERRORS = (
    ValidationError,
    orjson.JSONDecodeError,
    DataError,
    IntegrityError,
    ProgrammingError,
    KeyError,
    ValueError,
)


# --- accepting ------------------------------------------------------------------------------


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
        # Running average of records per stream entry, to size reads (see read_count).
        self._records_per_entry = float(settings.ingest_entry_records)

    async def _write(self, entries: Sequence[Entry]) -> int:
        return await write_batch(self.db, entries, default_currency=self.settings.default_currency)

    async def accept(self, kind: Kind, records: Sequence[CustomerIn | OrderIn]) -> Accepted:
        received_at = utcnow()
        if self.redis is None:
            return Accepted("written", await self._write([Entry(kind, received_at, records)]))
        size = self.settings.ingest_entry_records
        adapter = _LIST_ADAPTERS[kind]
        entries = [
            {
                "v": b"1",
                "kind": kind.encode(),
                "received_at": received_at.isoformat().encode(),
                "n": str(len(records[i : i + size])).encode(),
                "records": adapter.dump_json(list(records[i : i + size]), exclude_none=True),
            }
            for i in range(0, len(records), size)
        ]
        await broker.append(self.redis, self.stream, entries)  # type: ignore[arg-type]
        return Accepted("queued", len(records))

    async def backlog(self) -> int | None:
        """Stream entries not yet written (acked entries are deleted); None without Redis."""
        if self.redis is None:
            return None
        return int(await self.redis.xlen(self.stream))

    # --- the stream side ------------------------------------------------------------------

    def consumer(self, *, name: str | None = None, block_ms: int = 1000) -> broker.StreamConsumer:
        assert self.redis is not None, "the stream consumer needs Redis"
        return broker.StreamConsumer(
            self.redis,
            stream=self.stream,
            group=STREAM_GROUP,
            consume_batch=self.consume_batch,
            batch_entries=self.read_count,
            reclaim_idle_ms=self.settings.ingest_reclaim_idle_ms,
            block_ms=block_ms,
            name=name,
        )

    def read_count(self) -> int:
        """Entries to read next: a few transactions' worth, so decoding can overlap writing."""
        wanted = int(4 * self.settings.ingest_batch_records / max(self._records_per_entry, 1.0))
        return max(1, min(wanted, self.settings.ingest_batch_entries))

    async def consume_batch(self, messages: list[broker.StreamMessage]) -> list[str]:
        """Write entries in transactions of at most `ingest_batch_records` records; ids to ack.

        The next chunk is decoded while the current one's statements are in the database, so
        validation (CPU here) and writing (CPU there) overlap on two cores.
        """
        sizes = [_entry_size(m) for m in messages]
        if sizes:
            self._records_per_entry = 0.5 * self._records_per_entry + 0.5 * (sum(sizes) / len(sizes))
        chunks: list[list[broker.StreamMessage]] = [[]]
        weight = 0
        for message, size in zip(messages, sizes, strict=True):
            if chunks[-1] and weight + size > self.settings.ingest_batch_records:
                chunks.append([])
                weight = 0
            chunks[-1].append(message)
            weight += size
        done: list[str] = []
        decoding = asyncio.ensure_future(_decode_all(chunks[0]))
        for i, chunk in enumerate(chunks):
            decoded = await decoding
            if i + 1 < len(chunks):
                decoding = asyncio.ensure_future(_decode_all(chunks[i + 1]))
            done += await self._consume_chunk(chunk, decoded)
        return done

    async def _consume_chunk(
        self, messages: list[broker.StreamMessage], decoded: list[Entry] | Exception
    ) -> list[str]:
        """Write stream entries in one transaction; returns the ids to ack.

        If the batch fails because of its content, each entry is tried alone; an entry that
        still fails stays pending until it has been delivered `ingest_max_attempts` times,
        then its good records are written and its bad ones dead-lettered, one by one.
        """
        try:
            if isinstance(decoded, Exception):
                raise decoded
            await self._write(decoded)
            return [m.id for m in messages]
        except RECORD_ERRORS:
            if len(messages) == 1 and messages[0].attempts < self.settings.ingest_max_attempts:
                log.warning("stream entry %s failed (attempt %d)", messages[0].id, messages[0].attempts)
                return []
        done = []
        for message in messages:
            if len(messages) > 1:
                try:
                    await self._write([decode_entry(message)])
                    done.append(message.id)
                    continue
                except RECORD_ERRORS:
                    if message.attempts < self.settings.ingest_max_attempts:
                        continue
            await self._salvage(message)
            done.append(message.id)
        return done

    async def _salvage(self, message: broker.StreamMessage) -> None:
        """Write what can be written of a poisoned entry, record by record; dead-letter the rest."""
        kind_raw = message.fields.get(b"kind", b"").decode(errors="replace")
        kind: Kind | None = (
            "customers" if kind_raw == "customers" else "orders" if kind_raw == "orders" else None
        )
        try:
            received_at = datetime.fromisoformat(message.fields[b"received_at"].decode())
            records = orjson.loads(message.fields[b"records"])
            if kind is None or not isinstance(records, list):
                raise ValueError(f"unknown entry kind {kind_raw!r} or records not a list")
        except (KeyError, ValueError, orjson.JSONDecodeError) as exc:
            await self._dead_letter(message, kind_raw or "unknown", None, _raw_fields(message), exc)
            return
        for raw in records:
            external_id = raw.get("external_id") if isinstance(raw, dict) else None
            try:
                await self._write([Entry(kind, received_at, [MODELS[kind].model_validate(raw)])])
            except RECORD_ERRORS as exc:
                await self._dead_letter(message, kind, external_id, raw, exc)

    async def _dead_letter(
        self,
        message: broker.StreamMessage,
        kind: str,
        external_id: Any,
        record: Any,
        exc: Exception,
    ) -> None:
        log.error("dead-lettering a %s record from %s: %s", kind, message.id, exc)
        row = {
            "kind": kind[:20],
            "external_id": str(external_id)[:128] if external_id is not None else None,
            "record": record,
            "error": f"{type(exc).__name__}: {exc}"[:4000],
            "attempts": message.attempts,
            "stream_entry_id": message.id,
            "created_at": utcnow(),
        }

        async def insert(conn: AsyncConnection) -> None:
            await conn.execute(sa.insert(DeadLetter), [row])

        await self.db.write(insert)


async def _decode_all(messages: list[broker.StreamMessage]) -> list[Entry] | Exception:
    try:
        return [decode_entry(m) for m in messages]
    except RECORD_ERRORS as exc:
        return exc


def decode_entry(message: broker.StreamMessage) -> Entry:
    fields = message.fields
    kind: Kind = "customers" if fields[b"kind"] == b"customers" else "orders"
    if fields[b"kind"] not in (b"customers", b"orders"):
        raise ValueError(f"unknown entry kind {fields[b'kind']!r}")
    records = _LIST_ADAPTERS[kind].validate_json(fields[b"records"])
    return Entry(kind, datetime.fromisoformat(fields[b"received_at"].decode()), records)


def _entry_size(message: broker.StreamMessage) -> int:
    raw = message.fields.get(b"n", b"1")
    return int(raw) if raw.isdigit() else 1


def _raw_fields(message: broker.StreamMessage) -> dict[str, str]:
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in message.fields.items()}


async def list_dead_letters(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[DeadLetter], str | None]:
    """Newest first."""
    return await newest_first(session, sa.select(DeadLetter), DeadLetter.id, limit=limit, cursor=cursor)
