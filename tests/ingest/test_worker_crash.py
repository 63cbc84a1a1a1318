"""A `pulsecrm worker` killed mid-stream loses nothing and writes nothing twice.

The API (in-process) queues 2,000 customers and 50,000 orders on the stream; a real worker
process starts writing them and is SIGKILLed while it holds delivered-but-unacked entries; a
second worker takes those over once they have been idle for the reclaim time and finishes
the stream. Every order must then be stored exactly once and every customer's aggregates
must equal what the orders add up to.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pytest
import sqlalchemy as sa

from tests.conftest import REDIS_URL, Api, running_api
from tests.factories import customer, order

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CUSTOMERS = 2_000
ORDERS = 50_000
BATCH = 1_000
RECLAIM_IDLE_MS = 1_500
WORKER = Path(sys.executable).parent / "pulsecrm"


def _orders() -> list[dict[str, Any]]:
    """Distinct external ids, spread unevenly over the customers, with known amounts."""
    rng = random.Random(20260301)
    return [
        order(
            external_id=f"o{i:05d}",
            customer_external_id=f"c{rng.randrange(CUSTOMERS):04d}",
            amount=f"{rng.randint(1, 99_999) / 100:.2f}",
            ordered_at=f"2026-01-{i % 28 + 1:02d}T{i % 24:02d}:00:00+00:00",
        )
        for i in range(ORDERS)
    ]


def _start_worker(database_url: str, prefix: str, log: IO[bytes], cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSECRM_")}
    env |= {
        "PULSECRM_DATABASE_URL": database_url,
        "PULSECRM_REDIS_URL": REDIS_URL,
        "PULSECRM_REDIS_PREFIX": prefix,
        "PULSECRM_REDIS_ALLOW_VOLATILE": "true",  # the shared test Redis keeps nothing on disk
        "PULSECRM_INGEST_RECLAIM_IDLE_MS": str(RECLAIM_IDLE_MS),
        "PULSECRM_INGEST_BATCH_ENTRIES": "2",
        "PULSECRM_DATABASE_POOL_SIZE": "2",
        "PULSECRM_LOG_LEVEL": "INFO",
    }
    # cwd: a directory of the test's own, so no stray `.env` is read.
    return subprocess.Popen([str(WORKER), "worker"], env=env, stdout=log, stderr=log, cwd=cwd)


async def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> int:
    """Signal the worker (SIGKILL unless told) and reap it; SIGKILL if it outlives 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)  # in case it was left stopped
        proc.send_signal(sig)
    try:
        return await asyncio.to_thread(proc.wait, 15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return await asyncio.to_thread(proc.wait, 10)


async def _count_orders(api: Api) -> int:
    async with api.services.db.engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM orders"))).scalar_one())


async def _pending_of(api: Api, consumer_pid: int) -> int:
    """Entries delivered to the worker with this pid and not acked (XPENDING summary)."""
    assert api.services.redis is not None
    summary = await api.services.redis.xpending(api.services.ingestor.stream, "writers")
    names = (
        (c["name"].decode() if isinstance(c["name"], bytes) else c["name"], c) for c in summary["consumers"]
    )
    # Worker names are "{hostname}-{pid}-{random}" (broker.consumer_name); hostnames may hold "-".
    return sum(int(c["pending"]) for name, c in names if name.rsplit("-", 2)[-2:-1] == [str(consumer_pid)])


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else "(no log)"


@pytest.mark.slow
async def test_killed_worker_loses_nothing_and_duplicates_nothing(
    pg_database_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    assert WORKER.is_file(), f"console script not found at {WORKER}"
    orders = _orders()
    expected_total: dict[str, Decimal] = {f"c{k:04d}": Decimal(0) for k in range(CUSTOMERS)}
    expected_count: Counter[str] = Counter()
    for o in orders:
        expected_total[o["customer_external_id"]] += Decimal(o["amount"])
        expected_count[o["customer_external_id"]] += 1

    # Smaller stream entries than the default, so one worker batch is a small slice of the work.
    async with running_api(pg_database_url, redis_prefix, ingest_entry_records=250) as api:
        redis = api.services.redis
        assert redis is not None
        stream = api.services.ingestor.stream

        # 1. Queue everything before any worker runs, so the kill is sure to land mid-stream.
        customers = [customer(external_id=f"c{k:04d}", name=f"Customer {k}") for k in range(CUSTOMERS)]
        for start in range(0, CUSTOMERS, BATCH):
            r = await api.client.post("/api/v1/customers", json=customers[start : start + BATCH])
            assert r.status_code == 202, r.text
        for start in range(0, ORDERS, BATCH):
            r = await api.client.post("/api/v1/orders", json=orders[start : start + BATCH])
            assert (r.status_code, r.json()["count"]) == (202, BATCH), r.text
        queued = await redis.xlen(stream)
        assert queued == (CUSTOMERS + ORDERS) // 250

        log1, log2 = tmp_path / "worker-1.log", tmp_path / "worker-2.log"
        procs: list[subprocess.Popen[bytes]] = []
        try:
            # 2. The first worker; stop it (SIGSTOP freezes its Redis and database state) at a
            # moment it holds unacked entries with orders still missing, then SIGKILL it there.
            with log1.open("wb") as log:
                first = _start_worker(pg_database_url, redis_prefix, log, tmp_path)
            procs.append(first)
            killed_at: tuple[int, int] | None = None
            deadline = time.monotonic() + 60
            while killed_at is None and time.monotonic() < deadline:
                assert first.poll() is None, f"worker 1 exited early:\n{_log_tail(log1)}"
                if await _count_orders(api) < ORDERS // 10:
                    await asyncio.sleep(0.05)
                    continue
                first.send_signal(signal.SIGSTOP)
                await asyncio.sleep(0.3)  # let anything already sent reach Redis and PostgreSQL
                stored, pending = await _count_orders(api), await _pending_of(api, first.pid)
                if pending > 0 and stored < ORDERS:
                    first.kill()
                    assert first.wait(timeout=10) == -signal.SIGKILL
                    killed_at = (stored, pending)
                else:
                    first.send_signal(signal.SIGCONT)
                    await asyncio.sleep(0.02)
            assert killed_at is not None, f"could not catch worker 1 mid-batch:\n{_log_tail(log1)}"
            stored, pending = killed_at
            # The kill is final: nothing more is written or acked, and the entries stay pending.
            assert 0 < stored == await _count_orders(api) < ORDERS
            assert await _pending_of(api, first.pid) == pending > 0
            assert 0 < await redis.xlen(stream) < queued

            # 3. A second worker takes over the dead one's entries and finishes the stream.
            with log2.open("wb") as log:
                second = _start_worker(pg_database_url, redis_prefix, log, tmp_path)
            procs.append(second)
            deadline = time.monotonic() + 120
            last = -1
            while time.monotonic() < deadline:
                assert second.poll() is None, f"worker 2 exited early:\n{_log_tail(log2)}"
                backlog = (await api.client.get("/api/v1/ingest/status")).json()["backlog"]
                count = await _count_orders(api)
                if backlog == 0 and count == last:
                    break
                last = count
                await asyncio.sleep(0.5)
            else:
                pytest.fail(f"backlog not drained in 120 s ({backlog} entries left):\n{_log_tail(log2)}")
            assert await redis.xlen(stream) == 0
            assert (await redis.xpending(stream, "writers"))["pending"] == 0
            assert await _stop(second, signal.SIGTERM) == 0, _log_tail(log2)
        finally:
            for proc in procs:
                await _stop(proc)

        # 4. Every order once, with its customer and amount; every aggregate exact.
        async with api.services.db.engine.connect() as conn:
            n, distinct = (
                await conn.execute(sa.text("SELECT count(*), count(DISTINCT external_id) FROM orders"))
            ).one()
            assert (n, distinct) == (ORDERS, ORDERS)
            rows = await conn.execute(sa.text("SELECT external_id, customer_external_id, amount FROM orders"))
            stored_orders = {r[0]: (r[1], Decimal(r[2])) for r in rows}
            assert stored_orders == {
                o["external_id"]: (o["customer_external_id"], Decimal(o["amount"])) for o in orders
            }
            rows = await conn.execute(sa.text("SELECT external_id, total_spend, order_count FROM customers"))
            aggregates = {r[0]: (Decimal(r[1]), r[2]) for r in rows}
        assert len(aggregates) == CUSTOMERS
        wrong = {
            cid: (got, (expected_total[cid], expected_count[cid]))
            for cid, got in aggregates.items()
            if got != (expected_total[cid], expected_count[cid])
        }
        assert not wrong, f"{len(wrong)} customers with wrong aggregates, e.g. {list(wrong.items())[:5]}"

        for cid in ("c0000", "c0999", "c1999", max(expected_count, key=expected_count.__getitem__)):
            body = (await api.client.get(f"/api/v1/customers/{cid}")).json()
            assert (Decimal(body["total_spend"]), body["order_count"]) == (
                expected_total[cid],
                expected_count[cid],
            )
        dead = await api.client.get("/api/v1/ingest/dead-letters")
        assert dead.status_code == 200
        assert dead.json()["items"] == []
