"""PostgreSQL away for 20 s in stream mode: ingestion keeps answering 202, nothing is lost.

A throwaway cluster (initdb into a temp dir, its own port) behind `pulsecrm serve` and
`pulsecrm worker`, with a redis-server of the test's own. The API key is used once before the
outage, so it is trusted through it (PULSECRM_API_KEY_GRACE_SECONDS). While PostgreSQL is
stopped (immediate: a crash) a client keeps posting customers and orders and reading
customers: every POST answers 202, every read 503 with Retry-After, never 500. Once PostgreSQL
is back the same worker writes everything that was acknowledged, and neither log holds a
traceback per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.faults.conftest import api_client
from tests.faults.procs import (
    Loader,
    OwnPostgres,
    OwnRedis,
    Processes,
    count_lines,
    eventually,
    matching_lines,
    stored_ids,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

OUTAGE_SECONDS = 20
DRAIN_SECONDS = 60
# Lines a process writes about PostgreSQL being away; a handful per outage is the goal.
OUTAGE_LINES = (
    r"unavailable|refused|CannotConnectNow|ConnectionDoesNotExist|connection (was|is) closed|"
    r"terminating connection|shutting down|starting up|in recovery|OSError|ConnectionError|"
    r"database .* (away|down|back)|available again|outage"
)


@dataclass
class Read:
    started: float
    status: int | None
    retry_after: str | None
    detail: str


async def _reader(http: httpx.AsyncClient, reads: list[Read], stop: asyncio.Event) -> None:
    """A route that needs the database, asked twice a second."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            r = await http.get("/api/v1/customers", params={"limit": 5})
            reads.append(Read(started, r.status_code, r.headers.get("retry-after"), r.text[:200]))
        except httpx.HTTPError as exc:
            reads.append(Read(started, None, None, f"{type(exc).__name__}: {exc}"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def test_ingestion_rides_out_a_postgres_outage(
    own_postgres: OwnPostgres, own_redis: Callable[..., OwnRedis], processes: Processes
) -> None:
    pg = own_postgres
    redis = own_redis(appendonly=True, appendfsync="everysec")
    settings = processes.settings(pg.url, redis.url)
    migrated = processes.cli("migrate", **settings)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    key = processes.api_key(**settings)
    served = processes.serve(**settings)
    worker = processes.worker(**settings)
    pid = worker.pid

    async with api_client(served.base, key) as http:
        loader = Loader(http, "pgdown", batch=20, pause=0.05)
        first = await loader.post_once("customers")  # the key, verified while the database answers
        assert first.status == 202, first.detail
        reads: list[Read] = []
        stop = asyncio.Event()
        tasks = [asyncio.create_task(loader.run(stop)), asyncio.create_task(_reader(http, reads, stop))]
        try:
            await asyncio.sleep(3)
            await asyncio.to_thread(pg.crash)
            down = time.monotonic()
            await asyncio.sleep(OUTAGE_SECONDS)
            restarting = time.monotonic()
            await asyncio.to_thread(pg.start)
            up = time.monotonic()
            await asyncio.sleep(3)
        finally:
            stop.set()
            await asyncio.gather(*tasks)

        def when(t: float) -> str:
            return f"t={t - down:+.1f}s"

        refused = loader.unexpected({202})
        assert not refused, (
            f"{len(refused)} of {len(loader.calls)} ingest POSTs not answered 202, e.g.:\n"
            + "\n".join(f"  {when(c.started)} {c.kind} -> {c.status} {c.detail[:200]}" for c in refused[:8])
            + f"\n{served.child.tail()}"
        )
        errors = [r for r in reads if r.status is None or (r.status >= 500 and r.status != 503)]
        assert not errors, "\n".join(f"  {when(r.started)} -> {r.status} {r.detail}" for r in errors[:8])
        during = [r for r in reads if down + 0.5 <= r.started < restarting]
        assert during, "no read was made during the outage"
        not_503 = [r for r in during if r.status != 503 or not r.retry_after]
        assert not not_503, "reads during the outage:\n" + "\n".join(
            f"  {when(r.started)} -> {r.status} retry-after={r.retry_after} {r.detail}" for r in not_503[:8]
        )

        # Everything acknowledged is written once PostgreSQL is back, by the same worker.
        wanted = {"customers": loader.accepted("customers"), "orders": loader.accepted("orders")}

        async def missing() -> dict[str, int]:
            stored = {t: await stored_ids(pg.url, t, "pgdown-") for t in wanted}
            return {t: len(ids - stored[t]) for t, ids in wanted.items()}

        left, took = await eventually(
            missing, lambda m: not any(m.values()), within=DRAIN_SECONDS, interval=0.5
        )
        accepted = sum(map(len, wanted.values()))
        during_outage = sum(len(c.ids) for c in loader.calls if down <= c.started < up)
        print(
            f"\npostgres outage: {len(loader.calls)} POSTs all 202 ({accepted} records, {during_outage} "
            f"during the {OUTAGE_SECONDS} s outage); {len(during)} reads answered 503; backlog written "
            f"{time.monotonic() - up:.1f} s after PostgreSQL came back"
        )
        assert took is not None, (
            f"acknowledged but not written {DRAIN_SECONDS} s after PostgreSQL came back: {left}\n"
            f"{worker.tail()}"
        )
        assert worker.alive() and worker.pid == pid, f"the worker did not survive:\n{worker.tail()}"
        assert served.child.alive(), served.child.tail()
        back = await http.get("/api/v1/customers", params={"limit": 1})
        assert back.status_code == 200, back.text

    for child in (served.child, worker):
        tracebacks = count_lines(child.log, r"^Traceback")
        noise = count_lines(child.log, OUTAGE_LINES)
        assert tracebacks == 0 and noise < 10, (
            f"{child.name} log: {tracebacks} tracebacks, {noise} lines about the outage, e.g.:\n"
            + "\n".join(matching_lines(child.log, rf"^Traceback|{OUTAGE_LINES}"))
            + f"\n{child.tail(3000)}"
        )
