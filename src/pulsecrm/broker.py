"""Redis Streams plumbing shared by every consumer: append, read, ack, reclaim, and one failure policy.

A consumer is a codec (stream entry -> items) and one `handle(items)` that writes a batch in a
transaction of its own. Everything else is written here, once, for ingestion and receipts:

- entries are acked (and deleted) only after what they carried is committed;
- an outage (`failures.Failure.OUTAGE`: the database or Redis away) is waited out: the same
  batch is tried again with backoff, attempts are not counted, and the outage is logged once;
- a batch that fails because of its content is split in halves until the poison is isolated,
  so the good items beside it are written at once; the poison item is tried
  `max_attempts` times, then dead-lettered with its error and payload;
- an item our own code fails on (`Failure.BUG`) is not the data's fault: it is logged as
  critical, its entry is *held* (kept pending, not acked, not dead-lettered) and tried again
  every `hold_retry_seconds`, until code is fixed or `max_deliveries` is reached;
- entries a dead worker left unacked are taken over after `reclaim_idle_ms`;
- a group that vanished (Redis restarted empty) is re-created, and the loss recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from pulsecrm.failures import Failure, OutageLog, classify, describe

log = logging.getLogger(__name__)
T = TypeVar("T")


def connect(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=False, health_check_interval=30)


@dataclass(frozen=True)
class StreamMessage:
    id: str
    fields: dict[bytes, bytes]
    attempts: int  # deliveries so far, 1 on the first


@dataclass(frozen=True)
class Item(Generic[T]):
    """One unit of work decoded from an entry (a record, a receipt)."""

    entry_id: str
    value: T


@dataclass(frozen=True)
class Reject:
    """Something set aside: a record, a receipt, or a whole entry that could not be decoded."""

    entry_id: str
    kind: str
    label: str | None  # what a person would search for: an external id, a message id
    payload: Any  # JSON-able, enough to replay it
    error: str
    attempts: int


class Codec(Protocol[T]):
    def decode(self, message: StreamMessage) -> tuple[list[Item[T]], list[Reject]]:
        """Never raises: what cannot be decoded comes back as a reject."""
        ...

    def weight(self, message: StreamMessage) -> int:
        """How many items the entry holds, to size transactions before decoding it."""
        ...

    def describe(self, value: T) -> tuple[str, str | None, Any]:
        """(kind, label, payload) of an item, for its dead letter."""
        ...


Handle = Callable[[list[T]], Awaitable[None]]
DeadLetter = Callable[[list[Reject]], Awaitable[None]]
# How many entries to read next: fixed, or decided by the consumer from what it has seen.
ReadCount = int | Callable[[], int]


@dataclass(frozen=True)
class Policy:
    reclaim_idle_ms: int = 30_000
    max_attempts: int = 3  # tries of an isolated item before it is dead-lettered (or held)
    read_count: ReadCount = 100
    chunk_weight: int = 5_000  # most items per transaction
    hold_retry_seconds: float = 600.0
    max_deliveries: int = 10  # an entry delivered this often without an ack is dead-lettered whole
    backoff_max_seconds: float = 2.0


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def ensure_group(redis: aioredis.Redis, stream: str, group: str) -> None:
    try:
        # From id 0, so entries appended before any worker ever started are not skipped.
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def append(redis: aioredis.Redis, stream: str, entries: Sequence[dict[str, bytes]]) -> None:
    """Append entries in one round trip, atomically: all of them land or none does."""
    if len(entries) == 1:  # one XADD is atomic by itself; MULTI/EXEC would add two commands
        await redis.xadd(stream, entries[0])  # type: ignore[arg-type]
        return
    async with redis.pipeline(transaction=True) as pipe:
        for fields in entries:
            pipe.xadd(stream, fields)  # type: ignore[arg-type]
        await pipe.execute()


@dataclass(frozen=True)
class Persistence:
    """What Redis keeps across its own crash, read from its config at start."""

    appendonly: str  # "yes", "no", or "unknown" when CONFIG is not allowed
    appendfsync: str
    allowed_volatile: bool

    @property
    def durable(self) -> bool:
        return self.appendonly == "yes"

    @property
    def promise(self) -> str:
        if self.appendonly == "unknown":
            return "unknown: CONFIG GET is not allowed on this Redis; make sure appendonly is yes"
        if not self.durable:
            return "none: a Redis restart loses every entry acknowledged (202) but not yet written"
        return {
            "always": "every acknowledged entry survives a Redis crash and a power loss",
            "everysec": "every acknowledged entry survives a Redis crash; a power loss can lose ~1 s",
            "no": "every acknowledged entry survives a Redis crash; a power loss can lose ~30 s",
        }.get(self.appendfsync, f"appendfsync {self.appendfsync}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "appendonly": self.appendonly,
            "appendfsync": self.appendfsync,
            "durable": self.durable,
            "allowed_volatile": self.allowed_volatile,
            "promise": self.promise,
        }


class VolatileRedis(RuntimeError):
    """Stream mode on a Redis that would lose acknowledged entries, without being allowed to."""


async def persistence(redis: aioredis.Redis, *, allow_volatile: bool) -> Persistence:
    """Read Redis's persistence settings; raise VolatileRedis when they cannot keep a 202's promise."""
    try:
        config: Any = await redis.config_get("append*")
        values = {_str(k): _str(v) for k, v in config.items()}
        found = Persistence(
            values.get("appendonly", "unknown"), values.get("appendfsync", "unknown"), allow_volatile
        )
    except ResponseError:  # CONFIG renamed or denied, as managed services do
        found = Persistence("unknown", "unknown", allow_volatile)
    if found.appendonly == "no" and not allow_volatile:
        raise VolatileRedis(
            "Redis runs without AOF persistence (appendonly no): a Redis restart would lose "
            "records already acknowledged with 202. Turn it on (`CONFIG SET appendonly yes`, "
            "or `appendonly yes` in redis.conf), or set PULSECRM_REDIS_ALLOW_VOLATILE=true to "
            "accept that risk."
        )
    if not found.durable:
        log.warning("Redis persistence: %s", found.promise)
    return found


def lost_key(stream: str) -> str:
    """Where a consumer records when it found its group gone (Redis lost its state)."""
    return f"{stream}:lost-at"


def held_key(stream: str) -> str:
    return f"{stream}:held"


class Stopping(Exception):
    """The process is stopping during an outage: leave the entries pending for later."""


@dataclass
class _Outcome:
    poison: list[tuple[Item[Any], BaseException, int]] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # entry id -> error


class StreamConsumer(Generic[T]):
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        stream: str,
        group: str,
        codec: Codec[T],
        handle: Handle[T],
        dead_letter: DeadLetter,
        policy: Policy,
        block_ms: int = 1000,
        name: str | None = None,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.codec = codec
        self.handle = handle
        self.dead_letter = dead_letter
        self.policy = policy
        self.block_ms = block_ms
        self.name = name or consumer_name()
        self._stop: asyncio.Event | None = None
        self._inflight: list[str] = []
        self._group_seen = False
        self.redis_outage = OutageLog(log, f"stream {stream}: Redis")
        self.db_outage = OutageLog(log, f"stream {stream}: the database")

    # --- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        reclaim_every = max(self.policy.reclaim_idle_ms / 2000, 0.05)
        next_reclaim = 0.0
        loop = asyncio.get_running_loop()
        failures = 0
        while not stop.is_set():
            try:
                if loop.time() >= next_reclaim:
                    next_reclaim = loop.time() + reclaim_every
                    while await self.reclaim_once() and not stop.is_set():
                        pass
                await self.read_once()
                self.redis_outage.succeeded()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Stopping:
                return
            except Exception as exc:
                failures += 1
                if classify(exc) is Failure.OUTAGE:
                    self.redis_outage.failed(exc)
                else:
                    # Nothing was acked: the entries stay pending and come back after reclaim.
                    log.exception("stream %s: consumer loop failed; retrying", self.stream)
                await self._sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        return float(min(0.1 * 2 ** min(failures, 10), self.policy.backoff_max_seconds))

    async def _sleep(self, seconds: float) -> None:
        if self._stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def _count(self) -> int:
        count = self.policy.read_count
        return count() if callable(count) else count

    # --- the group ------------------------------------------------------------------------

    async def _ensure_group(self) -> None:
        if not self._group_seen:
            await ensure_group(self.redis, self.stream, self.group)
            self._group_seen = True

    async def _group_lost(self) -> None:
        """NOGROUP after we had a group: Redis restarted without our state. Start again."""
        await ensure_group(self.redis, self.stream, self.group)
        await self.redis.set(lost_key(self.stream), str(time.time()))
        log.error(
            "stream %s: consumer group %r was gone, so Redis lost its state (restarted without "
            "persistence?); re-created it. Entries acknowledged before the loss and not yet "
            "written may be lost: see `redis_persistence` in /readyz.",
            self.stream,
            self.group,
        )

    async def _redis(self, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await call()
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._group_lost()
            return await call()

    # --- reading --------------------------------------------------------------------------

    async def read_once(self, block_ms: int | None = None) -> int:
        """Read and consume up to one batch of new entries; returns how many were read."""
        await self._ensure_group()
        response: Any = await self._redis(
            lambda: self.redis.xreadgroup(
                self.group,
                self.name,
                {self.stream: ">"},
                count=self._count(),
                block=self.block_ms if block_ms is None else block_ms,
            )
        )
        if not response:
            return 0
        raw = response[0][1]
        messages = [StreamMessage(_str(mid), fields, 1) for mid, fields in raw if fields]
        await self.consume(messages)
        return len(raw)

    async def reclaim_once(self) -> int:
        """Take over entries idle longer than the reclaim time and consume them."""
        await self._ensure_group()
        held = await self._held()
        now = time.time()
        counts: dict[str, int] = {}
        start = "-"
        for _ in range(10):  # page past held entries, boundedly
            pending: Any = await self._redis(
                lambda s=start: self.redis.xpending_range(  # type: ignore[misc]
                    self.stream,
                    self.group,
                    min=s,
                    max="+",
                    count=self._count(),
                    idle=self.policy.reclaim_idle_ms,
                )
            )
            for p in pending:
                mid = _str(p["message_id"])
                if held.get(mid, 0.0) <= now:
                    counts[mid] = int(p["times_delivered"])
            if counts or len(pending) < self._count():
                break
            start = "(" + _str(pending[-1]["message_id"])
        if not counts:
            return 0
        claimed: Any = await self._redis(
            lambda: self.redis.xclaim(
                self.stream, self.group, self.name, self.policy.reclaim_idle_ms, list(counts)
            )
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
        worn = [m for m in messages if m.attempts > self.policy.max_deliveries]
        if worn:
            await self._give_up(worn)
        fresh = [m for m in messages if m.attempts <= self.policy.max_deliveries]
        if fresh:
            await self.consume(fresh)
        return len(messages) + len(vanished)

    async def _held(self) -> dict[str, float]:
        raw: Any = await self.redis.hgetall(held_key(self.stream))
        out = {}
        for mid, value in raw.items():
            try:
                out[_str(mid)] = float(orjson.loads(value)["retry_at"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                out[_str(mid)] = 0.0
        return out

    async def _give_up(self, messages: list[StreamMessage]) -> None:
        """Entries delivered `max_deliveries` times and never finished: a worker may be dying
        on them, or our code keeps failing. Set them aside whole, loudly."""
        rejects = [
            Reject(
                m.id,
                "entry",
                None,
                raw_fields(m),
                f"delivered {m.attempts} times and never finished (a worker crashing on it, "
                "or an error held too long)",
                m.attempts,
            )
            for m in messages
        ]
        log.critical(
            "stream %s: giving up on %d entries: %s", self.stream, len(messages), [m.id for m in messages]
        )
        await self._until_up(lambda: self.dead_letter(rejects), [m.id for m in messages])
        await self._ack([m.id for m in messages])

    # --- consuming ------------------------------------------------------------------------

    async def consume(self, messages: list[StreamMessage]) -> None:
        """Write entries in transactions of at most `chunk_weight` items; ack each after commit.

        The next chunk is decoded while the current one is in the database, so validation (CPU
        here) and writing (CPU there) overlap on two cores.
        """
        # Every entry of this read is ours until acked: an outage keeps all of them fresh.
        self._inflight = [m.id for m in messages]
        chunks: list[list[StreamMessage]] = [[]]
        weight = 0
        for message in messages:
            size = self.codec.weight(message)
            if chunks[-1] and weight + size > self.policy.chunk_weight:
                chunks.append([])
                weight = 0
            chunks[-1].append(message)
            weight += size
        decoding = asyncio.ensure_future(self._decode(chunks[0]))
        try:
            for i, chunk in enumerate(chunks):
                items, rejects = await decoding
                if i + 1 < len(chunks):
                    decoding = asyncio.ensure_future(self._decode(chunks[i + 1]))
                await self._consume_chunk(chunk, items, rejects)
        finally:
            decoding.cancel()

    async def _decode(self, messages: list[StreamMessage]) -> tuple[list[Item[T]], list[Reject]]:
        items: list[Item[T]] = []
        rejects: list[Reject] = []
        for message in messages:
            good, bad = self.codec.decode(message)
            items += good
            rejects += bad
        return items, rejects

    async def _consume_chunk(
        self, messages: list[StreamMessage], items: list[Item[T]], rejects: list[Reject]
    ) -> None:
        ids = [m.id for m in messages]
        outcome = _Outcome()
        if items:
            await self._isolate(items, ids, outcome)
        for item, exc, attempts in outcome.poison:
            kind, label, payload = self.codec.describe(item.value)
            rejects.append(Reject(item.entry_id, kind, label, payload, describe(exc), attempts))
        if rejects:
            log.warning("stream %s: dead-lettering %d items: %s", self.stream, len(rejects), rejects[0].error)
            await self._until_up(lambda: self.dead_letter(rejects), ids)
        if outcome.held:
            await self._hold(outcome.held)
        await self._ack([i for i in ids if i not in outcome.held])

    async def _isolate(self, items: list[Item[T]], ids: list[str], outcome: _Outcome) -> None:
        """Write `items`; on a failure that is not an outage, split until the culprit is alone.

        Bad data is isolated down to the item, so every good record beside it is written. A
        failure of our own code is isolated down to the entry only: it may fail on every
        item, and thousands of one-item transactions would stall the stream for nothing.
        """
        error = await self._attempt(items, ids)
        if error is None:
            return
        if classify(error) is Failure.DATA and len(items) > 1:
            middle = len(items) // 2
            await self._isolate(items[:middle], ids, outcome)
            await self._isolate(items[middle:], ids, outcome)
            return
        entries = list(dict.fromkeys(i.entry_id for i in items))
        if len(entries) > 1:
            first = set(entries[: len(entries) // 2])
            await self._isolate([i for i in items if i.entry_id in first], ids, outcome)
            await self._isolate([i for i in items if i.entry_id not in first], ids, outcome)
            return
        attempts = 1
        while attempts < self.policy.max_attempts:
            attempts += 1
            await self._sleep(0.05 * attempts)
            error = await self._attempt(items, ids)
            if error is None:
                return
        if classify(error) is Failure.DATA:
            if len(items) > 1:  # it turned into bad data on a retry: find the record
                middle = len(items) // 2
                await self._isolate(items[:middle], ids, outcome)
                await self._isolate(items[middle:], ids, outcome)
                return
            outcome.poison.append((items[0], error, attempts))
            return
        log.critical(
            "stream %s: entry %s fails in our code (%s); holding it (not acked, not dead-lettered), "
            "retried every %.0f s. This is a bug: fix it and restart the workers.",
            self.stream,
            entries[0],
            describe(error),
            self.policy.hold_retry_seconds,
            exc_info=error,
        )
        outcome.held[entries[0]] = describe(error)

    async def _attempt(self, items: list[Item[T]], ids: list[str]) -> Exception | None:
        try:
            await self._until_up(lambda: self.handle([i.value for i in items]), ids)
        except Stopping:
            raise
        except Exception as exc:
            return exc
        return None

    async def _until_up(self, call: Callable[[], Awaitable[None]], ids: list[str]) -> None:
        """Run `call`; while it fails with an outage, wait and run it again (attempts not
        counted). Meanwhile keep our claim on `ids` fresh so no other worker takes them over."""
        failures = 0
        last_touch = time.monotonic()
        while True:
            try:
                await call()
                self.db_outage.succeeded()
                return
            except Exception as exc:
                if classify(exc) is not Failure.OUTAGE:
                    raise
                self.db_outage.failed(exc)
            if self._stop is not None and self._stop.is_set():
                raise Stopping
            failures += 1
            await self._sleep(self._backoff(failures))
            if time.monotonic() - last_touch > self.policy.reclaim_idle_ms / 3000:
                last_touch = time.monotonic()
                await self._touch(list(dict.fromkeys([*ids, *self._inflight])))

    async def _touch(self, ids: list[str]) -> None:
        # JUSTID resets the idle time without counting a delivery.
        try:
            await self.redis.xclaim(self.stream, self.group, self.name, 0, ids, justid=True)  # type: ignore[arg-type]
        except Exception as exc:
            if classify(exc) is not Failure.OUTAGE:
                raise

    async def _hold(self, held: dict[str, str]) -> None:
        retry_at = time.time() + self.policy.hold_retry_seconds
        values = {mid: orjson.dumps({"error": error, "retry_at": retry_at}) for mid, error in held.items()}
        await self.redis.hset(held_key(self.stream), mapping=values)  # type: ignore[arg-type]

    async def _ack(self, ids: list[str]) -> None:
        if not ids:
            return
        failures = 0
        while True:
            try:
                # Deleting as well as acking keeps the stream holding only unwritten work, so it
                # never needs a MAXLEN trim (which could drop entries nobody has written yet).
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.xack(self.stream, self.group, *ids)
                    pipe.xdel(self.stream, *ids)
                    pipe.hdel(held_key(self.stream), *ids)
                    await pipe.execute()
                return
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                # Redis lost everything, these entries included; what was written is kept.
                await self._group_lost()
                return
            except Exception as exc:
                if classify(exc) is not Failure.OUTAGE:
                    raise
                self.redis_outage.failed(exc)
                if self._stop is not None and self._stop.is_set():
                    raise Stopping from None  # written, not acked: redelivered, rewritten as a no-op
                failures += 1
                await self._sleep(self._backoff(failures))


async def held_entries(redis: aioredis.Redis, stream: str) -> dict[str, Any]:
    """Entries held because our code failed on them: id -> {"error", "retry_at"}."""
    raw: Any = await redis.hgetall(held_key(stream))
    out: dict[str, Any] = {}
    for mid, value in raw.items():
        try:
            out[_str(mid)] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[_str(mid)] = {"error": _str(value)}
    return out


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def raw_fields(message: StreamMessage) -> dict[str, str]:
    """An entry's fields as text, for a dead letter of an entry that could not be decoded."""
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in message.fields.items()}
