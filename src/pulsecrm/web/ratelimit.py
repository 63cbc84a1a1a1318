"""Failed sign-ins counted per address and per client, in Redis when there is one (so every
process shares the count), else in this process."""

from __future__ import annotations

import time
from collections import defaultdict, deque

import redis.asyncio as aioredis

WINDOW_SECONDS = 60


class LoginLimiter:
    def __init__(self, redis: aioredis.Redis | None, prefix: str, per_minute: int) -> None:
        self.redis = redis
        self.prefix = f"{prefix}login-failures:"
        self.limit = per_minute
        self._local: dict[str, deque[float]] = defaultdict(deque)

    async def blocked(self, keys: list[str]) -> bool:
        return any(count >= self.limit for count in await self._counts(keys))

    async def failed(self, keys: list[str]) -> None:
        if self.redis is not None:
            # A fixed window per minute: simple, shared, and expiring on its own.
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    name = self._window_key(key)
                    pipe.incr(name)
                    pipe.expire(name, WINDOW_SECONDS * 2)
                await pipe.execute()
            return
        now = time.monotonic()
        for key in keys:
            self._local[key].append(now)

    async def _counts(self, keys: list[str]) -> list[int]:
        if self.redis is not None:
            values = await self.redis.mget([self._window_key(k) for k in keys])
            return [int(v or 0) for v in values]
        cutoff = time.monotonic() - WINDOW_SECONDS
        counts = []
        for key in keys:
            stamps = self._local[key]
            while stamps and stamps[0] < cutoff:
                stamps.popleft()
            counts.append(len(stamps))
        if len(self._local) > 10_000:
            self._local = defaultdict(deque, {k: v for k, v in self._local.items() if v})
        return counts

    def _window_key(self, key: str) -> str:
        return f"{self.prefix}{int(time.time() // WINDOW_SECONDS)}:{key}"
