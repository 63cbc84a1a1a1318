"""The one failure policy every stream consumer shares, on a real Redis (a prefix per test).

A toy codec (one item per entry field `items`, comma-separated) and a batch function that
fails on purpose show each rule: bad data isolated and dead-lettered after N tries while the
rest is written; our own bug held, not acked and not dead-lettered; an outage waited out
without counting attempts and logged once; a vanished group re-created.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy.exc import DataError

from pulsecrm import broker
from pulsecrm.broker import Item, Reject, StreamMessage
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis


class Codec:
    def decode(self, message: StreamMessage) -> tuple[list[Item[str]], list[Reject]]:
        raw = message.fields.get(b"items")
        if raw is None:
            return [], [Reject(message.id, "entry", None, broker.raw_fields(message), "no items", 1)]
        return [Item(message.id, v) for v in raw.decode().split(",")], []

    def weight(self, message: StreamMessage) -> int:
        return 1

    def describe(self, value: str) -> tuple[str, str | None, Any]:
        return "toy", value, {"value": value}


@dataclass
class Sink:
    """The batch function: records what it was given; fails as told."""

    written: list[str] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)
    outages_left: int = 0
    bug: bool = True
    letters: list[Reject] = field(default_factory=list)

    async def handle(self, values: list[str]) -> None:
        self.calls.append(values)
        if self.outages_left:
            self.outages_left -= 1
            raise ConnectionRefusedError("connection refused")
        if "poison" in values:
            raise DataError("INSERT …", {}, ValueError("value out of range"))
        if "bug" in values and self.bug:
            raise KeyError("a key our code forgot")
        self.written += values

    async def dead_letter(self, rejects: list[Reject]) -> None:
        self.letters += rejects


@pytest.fixture
async def redis(redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = broker.connect(REDIS_URL)
    yield client
    await client.aclose()


def consumer(redis: aioredis.Redis, prefix: str, sink: Sink, **policy: Any) -> broker.StreamConsumer[str]:
    return broker.StreamConsumer(
        redis,
        stream=f"{prefix}toy",
        group="g",
        codec=Codec(),
        handle=sink.handle,
        dead_letter=sink.dead_letter,
        policy=broker.Policy(**({"reclaim_idle_ms": 50, "max_attempts": 3, "read_count": 50} | policy)),
        block_ms=1,
        name="c1",
    )


async def add(redis: aioredis.Redis, prefix: str, *entries: str) -> list[str]:
    return [(await redis.xadd(f"{prefix}toy", {"items": e})).decode() for e in entries]


async def test_bad_data_is_isolated_tried_n_times_then_dead_lettered(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    sink = Sink()
    c = consumer(redis, redis_prefix, sink)
    good = [f"g{i}" for i in range(40)]
    await add(redis, redis_prefix, ",".join([*good[:20], "poison", *good[20:]]), "h1,h2")
    assert await c.read_once() == 2
    assert sorted(sink.written) == sorted([*good, "h1", "h2"])
    [letter] = sink.letters
    assert (letter.label, letter.attempts, letter.kind) == ("poison", 3, "toy")
    assert "value out of range" in letter.error
    assert sum(1 for call in sink.calls if call == ["poison"]) == 3  # tried alone N times
    assert await redis.xlen(f"{redis_prefix}toy") == 0  # acked and deleted
    assert (await redis.xpending(f"{redis_prefix}toy", "g"))["pending"] == 0


async def test_an_undecodable_entry_is_dead_lettered_beside_good_ones(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    sink = Sink()
    c = consumer(redis, redis_prefix, sink)
    await redis.xadd(f"{redis_prefix}toy", {"other": "x"})
    await add(redis, redis_prefix, "a,b")
    await c.read_once()
    assert sink.written == ["a", "b"]
    assert [r.error for r in sink.letters] == ["no items"]
    assert sink.letters[0].payload == {"other": "x"}


async def test_our_own_bug_holds_the_entry_without_dead_lettering_it(
    redis: aioredis.Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink()
    c = consumer(redis, redis_prefix, sink, hold_retry_seconds=0.3)
    [held, _] = await add(redis, redis_prefix, "x1,bug,x2", "y1,y2")
    with caplog.at_level(logging.CRITICAL, "pulsecrm.broker"):
        await c.read_once()
    assert sink.written == ["y1", "y2"]  # the other entry is not held back
    assert sink.letters == []  # not dead-lettered
    assert "a key our code forgot" in caplog.text and "holding it" in caplog.text
    assert list(await broker.held_entries(redis, f"{redis_prefix}toy")) == [held]
    pending = await redis.xpending_range(f"{redis_prefix}toy", "g", "-", "+", 10)
    assert [p["message_id"].decode() for p in pending] == [held]  # kept, not acked

    calls = len(sink.calls)
    await asyncio.sleep(0.1)
    assert await c.reclaim_once() == 0  # held: not retried before its time
    assert len(sink.calls) == calls

    sink.bug = False  # the fix is deployed
    await asyncio.sleep(0.3)
    assert await c.reclaim_once() == 1
    assert sink.written == ["y1", "y2", "x1", "bug", "x2"]
    assert await broker.held_entries(redis, f"{redis_prefix}toy") == {}
    assert await redis.xlen(f"{redis_prefix}toy") == 0


async def test_an_outage_is_waited_out_not_counted_and_logged_once(
    redis: aioredis.Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink(outages_left=4)
    c = consumer(redis, redis_prefix, sink, max_attempts=1, backoff_max_seconds=0.05)
    await add(redis, redis_prefix, "a,b,c")
    with caplog.at_level(logging.INFO, "pulsecrm.broker"):
        await c.read_once()
    assert sink.written == ["a", "b", "c"]
    assert sink.letters == []  # max_attempts=1, yet nothing was set aside: outages don't count
    assert len(sink.calls) == 5
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unavailable" in m for m in messages) == 1
    assert sum("available again" in m for m in messages) == 1


async def test_a_lost_group_is_recreated_and_consumption_goes_on(
    redis: aioredis.Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink()
    c = consumer(redis, redis_prefix, sink)
    await add(redis, redis_prefix, "a")
    await c.read_once()
    await redis.delete(f"{redis_prefix}toy")  # what a Redis restarted empty looks like
    await add(redis, redis_prefix, "b")  # the API appends again: a stream without the group
    with caplog.at_level(logging.ERROR, "pulsecrm.broker"):
        await c.read_once()  # NOGROUP: re-create, then read
        await c.read_once()
    assert sink.written == ["a", "b"]
    assert "lost its state" in caplog.text
    assert await redis.get(broker.lost_key(f"{redis_prefix}toy")) is not None


async def test_an_entry_that_never_finishes_is_set_aside_whole(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    sink = Sink()
    c = consumer(redis, redis_prefix, sink, max_deliveries=2)
    await c.read_once()  # creates the group
    [mid] = await add(redis, redis_prefix, "crashy")
    for _ in range(3):  # three workers took it and died before acking
        await redis.xreadgroup("g", "dead", {f"{redis_prefix}toy": "0" if _ else ">"}, count=10)
        await redis.xclaim(f"{redis_prefix}toy", "g", "dead", 0, [mid])
    await asyncio.sleep(0.1)
    assert await c.reclaim_once() == 1
    assert sink.written == []
    [letter] = sink.letters
    assert letter.kind == "entry" and "never finished" in letter.error
    assert await redis.xlen(f"{redis_prefix}toy") == 0


async def test_entries_waiting_out_an_outage_are_not_taken_over(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    """The worker holding them keeps its claim fresh, so a long outage does not bounce entries
    between workers (and count deliveries towards `max_deliveries`)."""
    sink = Sink(outages_left=40)
    holder = consumer(redis, redis_prefix, sink, reclaim_idle_ms=90, backoff_max_seconds=0.02)
    other_sink = Sink()
    other = consumer(redis, redis_prefix, other_sink, reclaim_idle_ms=90)
    other.name = "c2"
    await add(redis, redis_prefix, "a", "b")
    holding = asyncio.create_task(holder.read_once())
    taken = 0
    while not holding.done():
        await asyncio.sleep(0.05)
        taken += await other.reclaim_once()
    await holding
    assert taken == 0 and other_sink.calls == []
    assert sorted(sink.written) == ["a", "b"] and sink.letters == []
