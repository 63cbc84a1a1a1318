"""Redis killed (`kill -9`) mid-ingest and started again, with and without its AOF.

Real processes throughout: a redis-server of the test's own, `pulsecrm serve` and
`pulsecrm worker` on the test database. While Redis is away the API answers 503 with
`Retry-After` (never 500); once it is back the API answers 202 again and the same worker
carries on by itself, no restart:

- restarted empty (its directory deleted: the consumer group is gone, NOGROUP), every record
  acknowledged after the restart is written;
- restarted on its AOF (appendfsync always or everysec), every record ever acknowledged with
  202 -- before, during or after the crash -- is written in the end.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable

import pytest

from tests.faults.conftest import api_client
from tests.faults.procs import Call, Child, Loader, OwnRedis, Processes, count_lines, eventually, stored_ids

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

# Entries a worker held when Redis died come back to it after this idle time (default 30 s).
RECLAIM_MS = "3000"


def _calls(calls: list[Call], origin: float) -> str:
    return "\n".join(
        f"  t={c.started - origin:+.2f}s {c.kind} -> {c.status} retry-after={c.retry_after} {c.detail[:200]}"
        for c in calls[:10]
    )


async def _all_written(url: str, loader: Loader, *, within: float) -> tuple[dict[str, int], float | None]:
    """Wait until every record the loader got a 202 for is stored; the missing count per table."""
    wanted = {"customers": loader.accepted("customers"), "orders": loader.accepted("orders")}

    async def missing() -> dict[str, int]:
        return {
            table: len(ids - await stored_ids(url, table, f"{loader.tag}-")) for table, ids in wanted.items()
        }

    return await eventually(missing, lambda m: not any(m.values()), within=within, interval=0.5)


def _same_worker(worker: Child, pid: int, processes: Processes) -> None:
    assert worker.alive() and worker.pid == pid, f"the worker did not survive:\n{processes.tails()}"


def _no_tracebacks(processes: Processes) -> None:
    """An outage is logged when it starts and ends, not with a traceback per request or read."""
    for child in processes.children:
        found = count_lines(child.log, r"^Traceback")
        assert found == 0, f"{found} tracebacks in the {child.name} log:\n{child.tail()}"


async def test_worker_recovers_by_itself_when_redis_restarts_empty(
    own_redis: Callable[..., OwnRedis], processes: Processes, pg_database_url: str
) -> None:
    redis = own_redis(appendonly=False)
    settings = processes.settings(
        pg_database_url,
        redis.url,
        redis_allow_volatile="true",
        ingest_reclaim_idle_ms=RECLAIM_MS,
        receipts_reclaim_idle_ms=RECLAIM_MS,
    )
    key = processes.api_key(**settings)
    served = processes.serve(**settings)
    worker = processes.worker(**settings)
    pid = worker.pid
    async with api_client(served.base, key) as http:
        loader = Loader(http, "empty", batch=100)
        origin = time.monotonic()

        # Working before the fault.
        assert (await loader.post_once("customers")).status == 202, _calls(loader.calls, origin)
        missing, took = await _all_written(pg_database_url, loader, within=30)
        assert took is not None, f"nothing written before the fault ({missing}):\n{processes.tails()}"

        # Redis dies: the API says so with 503 + Retry-After, not 500.
        redis.kill9()
        killed = time.monotonic()
        for kind in ("customers", "orders", "customers"):
            await loader.post_once(kind)
        down = [c for c in loader.calls if c.started >= killed]
        assert all(c.status == 503 and c.retry_after for c in down), (
            f"while Redis was down:\n{_calls(down, origin)}\n{served.child.tail()}"
        )

        # Redis comes back empty: no stream, no consumer group.
        redis.wipe()
        redis.start()
        restarted = time.monotonic()
        while time.monotonic() - restarted < 15:
            call = await loader.post_once("customers")
            if call.status == 202:
                break
            await asyncio.sleep(0.2)
        after = [c for c in loader.calls if c.started >= restarted]
        assert after and after[-1].status == 202, (
            f"no 202 within 15 s of the restart:\n{_calls(after, origin)}"
        )
        assert all(c.status in (202, 503) for c in after), _calls(after, origin)
        for kind in ("orders", "customers", "orders", "customers"):
            assert (await loader.post_once(kind)).status == 202, _calls(loader.calls[-1:], origin)

        # Everything acknowledged since the restart is written by the same worker.
        since = [c for c in loader.calls if c.started >= restarted and c.status == 202]
        wanted = {k: {i for c in since if c.kind == k for i in c.ids} for k in ("customers", "orders")}

        async def missing_since() -> int:
            stored = {k: await stored_ids(pg_database_url, k, "empty-") for k in wanted}
            return sum(len(ids - stored[k]) for k, ids in wanted.items())

        left, took = await eventually(missing_since, lambda n: n == 0, within=30, interval=0.25)
        recovered = time.monotonic() - restarted
        print(f"\nredis restarted empty: all {sum(map(len, wanted.values()))} new records written "
              f"{recovered:.1f} s after the restart")  # fmt: skip
        assert took is not None, (
            f"{left} records acknowledged after Redis came back were never written (30 s):\n{worker.tail()}"
        )
        _same_worker(worker, pid, processes)
        _no_tracebacks(processes)
        with redis.client() as r:
            groups = {g["name"].decode() for g in r.xinfo_groups("pulsecrm:ingest")}
        assert "writers" in groups, groups


@pytest.mark.parametrize("appendfsync", ["always", "everysec"])
async def test_every_acknowledged_record_survives_redis_kill9_with_aof(
    appendfsync: str, own_redis: Callable[..., OwnRedis], processes: Processes, pg_database_url: str
) -> None:
    redis = own_redis(appendonly=True, appendfsync=appendfsync)
    settings = processes.settings(
        pg_database_url, redis.url, ingest_reclaim_idle_ms=RECLAIM_MS, receipts_reclaim_idle_ms=RECLAIM_MS
    )
    key = processes.api_key(**settings)
    served = processes.serve(**settings)
    worker = processes.worker(**settings)
    pid = worker.pid
    async with api_client(served.base, key) as http:
        persistence = (await http.get("/readyz")).json()["redis_persistence"]
        assert (persistence["appendonly"], persistence["appendfsync"], persistence["durable"]) == (
            "yes",
            appendfsync,
            True,
        ), persistence

        loader = Loader(http, f"aof{appendfsync}", batch=100, pause=0.01)
        stop = asyncio.Event()
        load = asyncio.create_task(loader.run(stop))
        try:
            await asyncio.sleep(3)
            # A slow worker: while it is stopped the stream grows, so the kill surely finds
            # acknowledged entries not yet written (and maybe some the worker holds unacked).
            worker.popen.send_signal(signal.SIGSTOP)
            await asyncio.sleep(1)
            with redis.client() as r:
                queued = r.xlen("pulsecrm:ingest")
            redis.kill9()  # mid-ingest: requests in flight, entries queued and held by the worker
            killed = time.monotonic()
            worker.popen.send_signal(signal.SIGCONT)
            await asyncio.sleep(2)
            restarting = time.monotonic()
            redis.start()  # on the same directory: replays the AOF
            restarted = time.monotonic()
            await asyncio.sleep(3)
        finally:
            stop.set()
            await load
        origin = killed

        wrong = loader.unexpected({202, 503})
        assert not wrong, f"answers other than 202/503:\n{_calls(wrong, origin)}\n{served.child.tail()}"
        no_retry_after = [c for c in loader.calls if c.status == 503 and not c.retry_after]
        assert not no_retry_after, _calls(no_retry_after, origin)
        # Started while Redis was down, with a margin at each end: a request started just before
        # the restart can be handled after it, and is then rightly answered 202.
        down = [c for c in loader.calls if killed + 0.2 <= c.started < restarting - 0.2]
        assert down, "no request was made while Redis was down"
        assert all(c.status == 503 for c in down), _calls([c for c in down if c.status != 503], origin)
        assert loader.statuses(since=restarted + 1)[202] > 0, "no 202 after Redis came back:\n" + _calls(
            [c for c in loader.calls if c.started > restarted], origin
        )

        assert queued > 0, "the stream was empty when Redis was killed: nothing was at stake"
        accepted = len(loader.accepted("customers")) + len(loader.accepted("orders"))
        missing, took = await _all_written(pg_database_url, loader, within=60)
        print(f"\nAOF {appendfsync}: {accepted} records acknowledged, {queued} entries queued at the kill, "
              f"{loader.statuses()[503]} requests answered 503; backlog written "
              f"{time.monotonic() - restarted:.1f} s after the restart")  # fmt: skip
        assert took is not None, (
            f"acknowledged (202) but never written, 60 s after the restart: {missing} "
            f"of {accepted}\n{worker.tail()}"
        )
        _same_worker(worker, pid, processes)
        _no_tracebacks(processes)
