"""Send rates every worker shares: token buckets per campaign and per channel, in Redis when
there is one, else in the database.

A bucket refills at its rate up to one second's worth and starts empty, so no worker and no
start-up bursts past the limit. A grant takes the same number of tokens from every bucket it
names (the campaign's and its channel's ceiling), at most what the emptiest one holds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.db import Database, bulk_upsert, utcnow
from pulsecrm.delivery.models import RateBucket


@dataclass(frozen=True)
class Bucket:
    key: str
    rate: float  # tokens per second


class RateLimiter(Protocol):
    async def take(self, buckets: Sequence[Bucket], wanted: int) -> int:
        """Up to `wanted` tokens from every bucket at once; how many were granted."""
        ...


def refill(tokens: float, elapsed: float, rate: float) -> float:
    return min(rate, tokens + max(elapsed, 0.0) * rate)


# KEYS: bucket keys; ARGV: wanted, then each bucket's rate. Redis's own clock, so workers on
# machines whose clocks disagree still share one bucket correctly.
_TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local grant = tonumber(ARGV[1])
local tokens = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[i + 1])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local have, at = tonumber(state[1]), tonumber(state[2])
  if have == nil then have, at = 0, t end
  have = math.min(rate, have + math.max(t - at, 0) * rate)
  tokens[i] = have
  grant = math.min(grant, math.floor(have))
end
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'tokens', tostring(tokens[i] - grant), 'at', tostring(t))
  redis.call('PEXPIRE', key, 60000)
end
return grant
"""


class RedisRateLimiter:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._script = redis.register_script(_TAKE)
        self._prefix = prefix

    async def take(self, buckets: Sequence[Bucket], wanted: int) -> int:
        if not buckets or wanted <= 0:
            return max(wanted, 0)
        keys = [f"{self._prefix}rate:{b.key}" for b in buckets]
        return int(await self._script(keys=keys, args=[wanted, *(b.rate for b in buckets)]))


class DatabaseRateLimiter:
    """The same buckets as rows of `rate_buckets`, locked for the grant (PostgreSQL's row locks,
    SQLite's one writer). Slower than Redis, but a grant per batch, not per message."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, buckets: Sequence[Bucket], wanted: int) -> int:
        if not buckets or wanted <= 0:
            return max(wanted, 0)
        table: sa.Table = RateBucket.__table__  # type: ignore[assignment]

        async def work(conn: AsyncConnection) -> int:
            keys = sorted({b.key for b in buckets})  # one lock order for every worker
            fresh = [{"key": k, "tokens": 0.0, "updated_at": utcnow()} for k in keys]
            await bulk_upsert(conn, table, fresh, key="key", set_={})
            query = sa.select(RateBucket.key, RateBucket.tokens, RateBucket.updated_at).where(
                RateBucket.key.in_(keys)
            )
            if conn.dialect.name != "sqlite":
                query = query.order_by(RateBucket.key).with_for_update()
            state = {k: (tokens, at) for k, tokens, at in await conn.execute(query)}
            # The time is read with the locks held, and a bucket's clock never goes back: a
            # sender that read the time, then waited for the lock while another took tokens,
            # would otherwise set the bucket's time back and the same seconds refill it twice.
            now = utcnow()
            have = {b.key: refill(state[b.key][0], _seconds(now, state[b.key][1]), b.rate) for b in buckets}
            grant = min([wanted, *(int(h) for h in have.values())])
            await conn.execute(
                sa.update(RateBucket)
                .where(RateBucket.key == sa.bindparam("k"))
                .values(tokens=sa.bindparam("t"), updated_at=sa.bindparam("at"))
                .execution_options(synchronize_session=False),
                [{"k": k, "t": h - grant, "at": max(now, state[k][1])} for k, h in have.items()],
            )
            return grant

        return await self._db.write(work)


def _seconds(now: datetime, at: datetime) -> float:
    return (now - at).total_seconds()


class LocalRateLimiter:
    """One process's buckets in memory: for tests of the dispatcher alone."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}

    async def take(self, buckets: Sequence[Bucket], wanted: int) -> int:
        now = time.monotonic()
        have = {}
        for b in buckets:
            tokens, at = self._state.get(b.key, (0.0, now))
            have[b.key] = refill(tokens, now - at, b.rate)
        grant = min([max(wanted, 0), *(int(h) for h in have.values())])
        for key, h in have.items():
            self._state[key] = (h - grant, now)
        return grant
