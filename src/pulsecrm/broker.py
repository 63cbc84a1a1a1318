"""Redis Streams plumbing shared by every consumer: append, read, ack, reclaim.

A consumer implements one `consume_batch(messages) -> ids to ack`; this module reads the
stream through a consumer group, acks (and deletes) only what the batch function returns,
after it has committed, and takes over entries another consumer left unacked for too long.
An entry the batch function does not return stays pending and comes back later with a
higher delivery count, which the batch function sees as `attempts`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)


def connect(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=False, health_check_interval=30)


@dataclass(frozen=True)
class StreamMessage:
    id: str
    fields: dict[bytes, bytes]
    attempts: int  # 1 on first delivery


ConsumeBatch = Callable[[list[StreamMessage]], Awaitable[Sequence[str]]]
# How many entries to read next: fixed, or decided by the consumer from what it has seen.
ReadCount = int | Callable[[], int]


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def ensure_group(redis: aioredis.Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def append(redis: aioredis.Redis, stream: str, entries: Sequence[dict[str, bytes | str]]) -> None:
    """Append entries in one round trip, atomically: all of them land or none does."""
    if len(entries) == 1:  # one XADD is atomic by itself; MULTI/EXEC would add two commands
        await redis.xadd(stream, entries[0])  # type: ignore[arg-type]
        return
    async with redis.pipeline(transaction=True) as pipe:
        for fields in entries:
            pipe.xadd(stream, fields)  # type: ignore[arg-type]
        await pipe.execute()


class StreamConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        stream: str,
        group: str,
        consume_batch: ConsumeBatch,
        batch_entries: ReadCount,
        reclaim_idle_ms: int,
        block_ms: int = 1000,
        name: str | None = None,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.consume_batch = consume_batch
        self.batch_entries = batch_entries
        self.reclaim_idle_ms = reclaim_idle_ms
        self.block_ms = block_ms
        self.name = name or consumer_name()
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if not self._group_ready:
            # From id 0, so entries appended before any worker ever started are not skipped.
            await ensure_group(self.redis, self.stream, self.group)
            self._group_ready = True

    async def run(self, stop: asyncio.Event) -> None:
        reclaim_every = max(self.reclaim_idle_ms / 2000, 0.05)
        next_reclaim = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                if loop.time() >= next_reclaim:
                    next_reclaim = loop.time() + reclaim_every
                    while await self.reclaim_once():
                        pass
                await self.read_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Nothing was acked: the entries stay pending and are retried after reclaim.
                log.exception("stream %s: batch failed, retrying shortly", self.stream)
                await asyncio.sleep(1)

    def _count(self) -> int:
        return self.batch_entries() if callable(self.batch_entries) else self.batch_entries

    async def read_once(self, block_ms: int | None = None) -> int:
        """Read and consume up to one batch of new entries; returns how many were read."""
        await self._ensure_group()
        response: Any = await self.redis.xreadgroup(
            self.group,
            self.name,
            {self.stream: ">"},
            count=self._count(),
            block=self.block_ms if block_ms is None else block_ms,
        )
        if not response:
            return 0
        raw = response[0][1]
        messages = [StreamMessage(_str(mid), fields, 1) for mid, fields in raw]
        await self._consume(messages)
        return len(messages)

    async def reclaim_once(self) -> int:
        """Take over entries idle longer than the reclaim time and consume them."""
        await self._ensure_group()
        pending: Any = await self.redis.xpending_range(
            self.stream,
            self.group,
            min="-",
            max="+",
            count=self._count(),
            idle=self.reclaim_idle_ms,
        )
        if not pending:
            return 0
        counts = {_str(p["message_id"]): int(p["times_delivered"]) for p in pending}
        claimed: Any = await self.redis.xclaim(
            self.stream, self.group, self.name, self.reclaim_idle_ms, list(counts)
        )
        messages = [
            StreamMessage(_str(mid), cast(dict[bytes, bytes], fields), counts.get(_str(mid), 0) + 1)
            for mid, fields in claimed
            if fields
        ]
        # An id pending but gone from the stream has nothing left to write: ack it, or it
        # would sit at the head of the pending list and starve the reclaim of the rest.
        vanished = set(counts) - {m.id for m in messages}
        if vanished:
            await self.redis.xack(self.stream, self.group, *vanished)
        if messages:
            await self._consume(messages)
        return len(messages) + len(vanished)

    async def _consume(self, messages: list[StreamMessage]) -> None:
        done = list(await self.consume_batch(messages))
        if done:
            # Deleting as well as acking keeps the stream holding only unwritten work, so it
            # never needs a MAXLEN trim (which could drop entries nobody has written yet).
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, self.group, *done)
                pipe.xdel(self.stream, *done)
                await pipe.execute()


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
