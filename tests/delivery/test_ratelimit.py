"""The database's token buckets under contention: many senders taking at once never get more
than the rate (plus the one second's worth a bucket holds), however their takes interleave."""

from __future__ import annotations

import asyncio
import time

import pytest

from pulsecrm.db import Database
from pulsecrm.delivery.ratelimit import Bucket, DatabaseRateLimiter

RATE = 200.0
SENDERS = 8
SECONDS = 3.0


@pytest.mark.postgres
async def test_concurrent_takers_never_exceed_the_rate(pg_database_url: str) -> None:
    db = Database(pg_database_url, pool_size=SENDERS)
    limiter = DatabaseRateLimiter(db)
    bucket = [Bucket("campaign:contended", RATE)]
    granted = 0
    try:
        await limiter.take(bucket, 0)  # nothing: the bucket is made on the first real take
        start = time.monotonic()

        async def sender() -> None:
            nonlocal granted
            while time.monotonic() - start < SECONDS:
                got = await limiter.take(bucket, 1000)
                granted += got  # not `granted += await …`: that reads `granted` before waiting
                await asyncio.sleep(0)

        await asyncio.gather(*(sender() for _ in range(SENDERS)))
        elapsed = time.monotonic() - start
    finally:
        await db.dispose()
    # A sender that read the clock, then waited for the lock while others took tokens, must
    # not set the bucket's clock back: the same seconds would refill it twice.
    assert granted <= RATE * elapsed + 1, (granted, elapsed)
    assert granted >= 0.5 * RATE * SECONDS, granted  # and it does grant
