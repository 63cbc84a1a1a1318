"""Fault benchmark for Pulse CRM: recovery times of stream-mode ingestion after Redis and
PostgreSQL outages (issue 10, "Figures").

Prints one JSON object on stdout (progress on stderr) and writes it to bench/results/faults.json
(or --out). Every wait is bounded (--timeout): a pipeline that never recovers is reported as
`null` with a note, not waited for.

Phases (real `pulsecrm serve` + `pulsecrm worker` processes of the chosen tree, a client POSTing
batches of customers at a steady rate):
  1. redis_restart  a private redis-server on a free port; a scratch database on the shared
                    PostgreSQL. kill -9 Redis mid-ingest, restart it on the same port:
                      volatile  (appendonly no) restarted EMPTY (new directory)
                      aof       (appendonly yes, appendfsync everysec) restarted on the same directory
                    seconds from Redis answering PING again to the first record POSTed after the
                    restart being in `customers`; every 202'd record written or not.
  2. pg_return      a throwaway PostgreSQL cluster (initdb, own port), private Redis with AOF.
                    `pg_ctl -m immediate stop`, POST for --pg-down seconds, start it again:
                    202s during the outage, the stream backlog at return, seconds from PostgreSQL
                    accepting connections to the backlog drained and every 202'd record written,
                    records/s while draining; PostgreSQL's own floor for the same rows (asyncpg
                    `unnest` upsert and COPY into a copy of `customers`) in the same cluster.

Run:  .venv/bin/python bench/faults.py [--tree /path/to/checkout] [--skip-redis] [--skip-pg] ...
The shared Redis (6379) is never touched; on the shared PostgreSQL (5432) only the scratch
database --database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    PgCluster,
    Poster,
    Procs,
    RedisServer,
    base_env,
    count_in_log,
    count_tagged,
    count_written,
    create_key,
    free_port,
    log,
    run_cli,
    wait_health,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SHARED_PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SHARED_PG = "127.0.0.1:5432"
CITIES = ["Mumbai", "Delhi", "Bengaluru", "Chennai", "Kolkata", "Pune", "Hyderabad", "Jaipur"]


def make_customer(ext_id: str, i: int) -> dict[str, Any]:
    return {"external_id": ext_id, "name": f"Fault {i}", "email": f"f{i}@example.com", "city": CITIES[i % 8]}


class Tree:
    """The checkout whose `pulsecrm` is run (its .venv), and what it is (commit, local changes)."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.venv_bin = self.path / ".venv" / "bin"
        self.pulsecrm = str(self.venv_bin / "pulsecrm")
        if not Path(self.pulsecrm).exists():
            raise SystemExit(f"{self.pulsecrm} not found: build the tree's venv (make .venv/.dev-installed)")

    def describe(self) -> dict[str, Any]:
        def git(*args: str) -> str:
            r = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True)
            return r.stdout

        changed = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines() if line]
        return {
            "path": str(self.path),
            "commit": git("rev-parse", "--short", "HEAD").strip(),
            "src_changes": changed,
        }


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float, every: float = 0.05) -> float | None:
    """perf_counter when `check()` is first true, or None after `timeout` seconds."""
    deadline = time.perf_counter() + timeout
    while True:
        if await check():
            return time.perf_counter()
        if time.perf_counter() >= deadline:
            return None
        await asyncio.sleep(every)


def rate_10_90(samples: list[tuple[float, int | None, int]], n0: int, total: int) -> int | None:
    """Rows/s between the samples where 10% and 90% of `total` new rows were in: the drain's own
    pace, without the wait before it starts (reconnect, retry, reclaim). None if one commit did it."""
    if total <= 0:
        return None
    t10 = next(((t, n) for t, _, n in samples if n - n0 >= 0.1 * total), None)
    t90 = next(((t, n) for t, _, n in samples if n - n0 >= 0.9 * total), None)
    if t10 is None or t90 is None or t90[0] <= t10[0]:
        return None
    return round((t90[1] - t10[1]) / (t90[0] - t10[0]))


def secs(a: float | None, b: float | None) -> float | None:
    return round(b - a, 3) if a is not None and b is not None else None


async def xlen(url: str, stream: str) -> int | None:
    r = aioredis.Redis.from_url(url, socket_timeout=2)
    try:
        return int(await r.xlen(stream))
    except (OSError, aioredis.RedisError):
        return None
    finally:
        await r.aclose()


async def xpending(url: str, stream: str, group: str = "writers") -> int | None:
    r = aioredis.Redis.from_url(url, socket_timeout=2)
    try:
        return int((await r.xpending(stream, group))["pending"])
    except (OSError, aioredis.RedisError):
        return None
    finally:
        await r.aclose()


class Stack:
    """`pulsecrm serve` + `pulsecrm worker` on one database and one Redis."""

    def __init__(self, tree: Tree, procs: Procs, logdir: Path, name: str, env: dict[str, str], cwd: str):
        self.tree, self.procs, self.env, self.cwd = tree, procs, env, cwd
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.serve_log = logdir / f"{name}-serve.log"
        self.worker_log = logdir / f"{name}-worker.log"
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.server = self.procs.start(
            [self.tree.pulsecrm, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            self.serve_log,
            env=self.env,
            cwd=self.cwd,
        )
        self.worker = self.procs.start(
            [self.tree.pulsecrm, "worker"], self.worker_log, env=self.env, cwd=self.cwd
        )
        await wait_health(self.base, self.server)

    def alive(self) -> dict[str, bool]:
        return {
            "serve": self.server is not None and self.server.poll() is None,
            "worker": self.worker is not None and self.worker.poll() is None,
        }

    def stop(self) -> None:
        for p in (self.server, self.worker):
            if p is not None:
                self.procs.stop(p)

    def log_counts(self) -> dict[str, dict[str, int]]:
        needles = ("Traceback", "NOGROUP", "ConnectionError", "503")
        return {
            "serve": count_in_log(self.serve_log, *needles),
            "worker": count_in_log(self.worker_log, *needles),
        }


def stack_env(
    a: argparse.Namespace, tree: Tree, db_url: str, redis_url: str, prefix: str, cwd: str
) -> dict[str, str]:
    return base_env(
        tree.venv_bin,
        PULSECRM_DATABASE_URL=db_url,
        PULSECRM_REDIS_URL=redis_url,
        PULSECRM_REDIS_PREFIX=prefix,
        PULSECRM_REDIS_ALLOW_VOLATILE="true",  # new setting; ignored by trees that predate it
        PULSECRM_WEBHOOK_SECRET=secrets.token_hex(16),
        PULSECRM_DATA_DIR=cwd,
        # Unset = the tree's default. A long cache lets a tree without the outage grace period keep
        # answering 202 through the PostgreSQL outage, for a drain over the same backlog.
        PULSECRM_API_KEY_CACHE_SECONDS=str(a.key_cache_seconds) if a.key_cache_seconds is not None else None,
    )


# --- phase 1: Redis killed and restarted --------------------------------------------------------


async def redis_scenario(
    a: argparse.Namespace, tree: Tree, procs: Procs, logdir: Path, db_name: str, *, aof: bool
) -> dict[str, Any]:
    name = "redis-aof" if aof else "redis-volatile"
    tag = f"{'ra' if aof else 'rv'}{uuid.uuid4().hex[:6]}"
    prefix = f"pulsecrm-bench-faults:{tag}:"
    pg_dsn = f"postgresql://postgres@{SHARED_PG}/{db_name}"
    redis = RedisServer(procs, logdir / f"{name}.log", aof=aof)
    cwd = tempfile.mkdtemp(prefix="pulsecrm-bench-cwd-")
    env = stack_env(a, tree, f"postgresql+asyncpg://postgres@{SHARED_PG}/{db_name}", redis.url, prefix, cwd)
    stack = Stack(tree, procs, logdir, name, env, cwd)
    pg = await asyncpg.connect(pg_dsn)
    stop = asyncio.Event()
    post_task: asyncio.Future[None] | None = None
    res: dict[str, Any] = {
        "redis": "appendonly yes, appendfsync everysec; restarted on the same dir"
        if aof
        else "appendonly no; restarted empty (new dir)",
        "notes": [],
    }
    try:
        redis.start(fresh=True)
        if await redis.wait_ping(10) is None:
            raise RuntimeError("private redis-server did not answer PING")
        key = create_key(tree.pulsecrm, env, cwd)
        await stack.start()
        poster = Poster(
            stack.base,
            key,
            "/api/v1/customers",
            tag,
            make_customer,
            batch=a.batch,
            rate=a.rate,
            timeout=a.http_timeout,
        )
        post_task = asyncio.ensure_future(poster.run(stop))
        await asyncio.sleep(a.warmup)
        warm = poster.acked()

        async def warm_written() -> bool:
            return await count_written(pg, "customers", warm) >= len(warm)

        t_warm = await wait_for(warm_written, a.timeout, 0.1)
        res["warmup_acked"] = len(warm)
        res["warmup_written"] = t_warm is not None
        if t_warm is None:
            res["notes"].append(
                f"records acknowledged during the warm-up not all written within {a.timeout}s"
            )

        log(f"{name}: kill -9 redis (posting {a.rate:.0f} records/s in batches of {a.batch})")
        t_kill = time.perf_counter()
        redis.kill9()
        await asyncio.sleep(a.redis_down)
        t_restart = time.perf_counter()
        redis.start(fresh=not aof)
        t_ping = await redis.wait_ping(a.timeout)
        if t_ping is None:
            raise RuntimeError("restarted redis-server did not answer PING")
        first_seq = poster._seq  # every record from here on was POSTed after Redis answered PING
        first_id = poster.ext_id(first_seq)
        log(f"{name}: redis answers PING {t_ping - t_restart:.3f}s after restart; waiting for {first_id}+")

        async def first_after_written() -> bool:
            return bool(
                await pg.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM customers WHERE external_id >= $1 AND external_id LIKE $2)",
                    first_id,
                    f"{tag}-%",
                )
            )

        t_first_written = await wait_for(first_after_written, a.timeout, 0.02)
        first_202 = next(
            (
                p
                for p in sorted(poster.posts, key=lambda p: p.t_send)
                if p.status == 202 and p.first_seq >= first_seq
            ),
            None,
        )
        res["redis_down_seconds"] = round(t_restart - t_kill, 3)
        res["restart_to_ping_s"] = secs(t_restart, t_ping)
        res["ping_to_first_202_s"] = secs(t_ping, first_202.t_reply if first_202 else None)
        res["ping_to_first_record_written_s"] = secs(t_ping, t_first_written)
        if t_first_written is None:
            res["notes"].append(
                f"no record POSTed after the restart was written within {a.timeout}s (timed out)"
            )
            log(f"{name}: TIMED OUT after {a.timeout}s: nothing POSTed after the restart was written")
        else:
            log(
                f"{name}: first record POSTed after the restart written {t_first_written - t_ping:.3f}s after PING"
            )
            await asyncio.sleep(a.after)
        stop.set()
        await post_task
        t_end = time.perf_counter()

        acked_all = poster.acked()

        async def all_written() -> bool:
            return await count_tagged(pg, "customers", tag) >= len(acked_all) and await count_written(
                pg, "customers", acked_all
            ) >= len(acked_all)

        # After a timeout above the worker is stuck: only a short look, not another full wait.
        wait = a.timeout if t_first_written is not None else min(5.0, a.timeout)
        t_all = await wait_for(all_written, wait, 0.25)
        res["all_acked_written"] = t_all is not None
        res["post_end_to_all_written_s"] = secs(t_end, t_all)
        groups = {
            "before_kill": (float("-inf"), t_kill),
            "redis_down": (t_kill, t_ping),
            "after_restart": (t_ping, float("inf")),
        }
        counts: dict[str, Any] = {}
        for g, (start, end) in groups.items():
            ids = poster.acked(start, end)
            written = await count_written(pg, "customers", ids)
            counts[g] = {
                "statuses": poster.statuses(start, end),
                "acked": len(ids),
                "acked_written": written,
                "acked_not_written": len(ids) - written,
            }
        res["by_request_sent"] = counts
        res["acked_total"] = len(acked_all)
        res["acked_written_total"] = sum(c["acked_written"] for c in counts.values())
        res["acked_not_written_total"] = res["acked_total"] - res["acked_written_total"]
        res["written_total"] = await count_tagged(pg, "customers", tag)
        res["records_posted"] = poster._seq
        res["stream_backlog_at_end"] = await xlen(redis.url, f"{prefix}ingest")
        res["processes_alive_at_end"] = stack.alive()
        res["log_counts"] = stack.log_counts()
        log(
            f"{name}: acked {res['acked_total']}, written {res['acked_written_total']}, "
            f"not written {res['acked_not_written_total']}; backlog {res['stream_backlog_at_end']}"
        )
        return res
    finally:
        stop.set()
        if post_task is not None and not post_task.done():
            post_task.cancel()
            with contextlib.suppress(BaseException):
                await post_task
        await pg.close()
        stack.stop()
        redis.close()
        shutil.rmtree(cwd, ignore_errors=True)


# --- phase 2: PostgreSQL stopped and started again ---------------------------------------------


async def pg_floor(dsn: str, n: int) -> dict[str, Any]:
    """PostgreSQL's own rate for the same rows: asyncpg `unnest` upsert (batches of 1,000) and COPY,
    each into a fresh copy of `customers` (same indexes), in the same cluster."""
    now = datetime.now(UTC)
    rows = [
        (
            f"floor-{i:09d}",
            f"Fault {i}",
            f"f{i}@example.com",
            CITIES[i % 8],
            "{}",
            now - timedelta(seconds=i),
            now,
            now,
        )
        for i in range(n)
    ]
    cols = ["external_id", "name", "email", "city", "attributes", "created_at", "updated_at", "ingested_at"]
    upsert = """
        INSERT INTO bench_floor (external_id, name, email, city, attributes, created_at, updated_at, ingested_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[],
                             $6::timestamptz[], $7::timestamptz[], $8::timestamptz[])
        ON CONFLICT (external_id) DO UPDATE SET
            name = excluded.name, email = excluded.email, city = excluded.city,
            attributes = excluded.attributes, updated_at = excluded.updated_at,
            ingested_at = excluded.ingested_at
        WHERE bench_floor.updated_at <= excluded.updated_at
    """
    conn = await asyncpg.connect(dsn)
    try:
        out: dict[str, Any] = {"rows": n}
        await conn.execute("DROP TABLE IF EXISTS bench_floor")
        await conn.execute("CREATE TABLE bench_floor (LIKE customers INCLUDING ALL)")
        t0 = time.perf_counter()
        for i in range(0, n, 1000):
            chunk = rows[i : i + 1000]
            await conn.execute(upsert, *[list(c) for c in zip(*chunk, strict=True)])
        t1 = time.perf_counter()
        assert await conn.fetchval("SELECT count(*) FROM bench_floor") == n
        out["unnest_upsert_rps"] = round(n / (t1 - t0))
        await conn.execute("DROP TABLE bench_floor")
        await conn.execute("CREATE TABLE bench_floor (LIKE customers INCLUDING ALL)")
        t0 = time.perf_counter()
        await conn.copy_records_to_table("bench_floor", records=rows, columns=cols)
        t1 = time.perf_counter()
        out["copy_rps"] = round(n / (t1 - t0))
        await conn.execute("DROP TABLE bench_floor")
        return out
    finally:
        await conn.close()


async def pg_scenario(a: argparse.Namespace, tree: Tree, procs: Procs, logdir: Path) -> dict[str, Any]:
    name = "pg-return"
    tag = f"pg{uuid.uuid4().hex[:6]}"
    prefix = f"pulsecrm-bench-faults:{tag}:"
    stream = f"{prefix}ingest"
    cluster = PgCluster(procs, logdir / "pg-cluster.log")
    redis = RedisServer(procs, logdir / f"{name}-redis.log", aof=True)
    cwd = tempfile.mkdtemp(prefix="pulsecrm-bench-cwd-")
    env = stack_env(
        a, tree, f"postgresql+asyncpg://postgres@127.0.0.1:{cluster.port}/pulsecrm", redis.url, prefix, cwd
    )
    stack = Stack(tree, procs, logdir, name, env, cwd)
    stop = asyncio.Event()
    post_task: asyncio.Future[None] | None = None
    res: dict[str, Any] = {
        "postgresql": f"throwaway cluster ({cluster.bindir}), port {cluster.port}, stock settings",
        "redis": "private, appendonly yes, appendfsync everysec",
        "notes": [],
    }
    try:
        log(f"{name}: initdb into {cluster.dir}")
        cluster.initdb()
        cluster.start()
        if await cluster.wait_ready(60) is None:
            raise RuntimeError("throwaway PostgreSQL did not start")
        admin = await asyncpg.connect(cluster.dsn())
        await admin.execute("CREATE DATABASE pulsecrm")
        await admin.close()
        redis.start(fresh=True)
        if await redis.wait_ping(10) is None:
            raise RuntimeError("private redis-server did not answer PING")
        run_cli(tree.pulsecrm, ["migrate"], env, cwd)
        key = create_key(tree.pulsecrm, env, cwd)
        await stack.start()
        poster = Poster(
            stack.base,
            key,
            "/api/v1/customers",
            tag,
            make_customer,
            batch=a.batch,
            rate=a.rate,
            timeout=a.http_timeout,
        )
        post_task = asyncio.ensure_future(poster.run(stop))
        await asyncio.sleep(a.warmup)
        stop.set()
        await post_task
        warm = poster.acked()
        pg = await asyncpg.connect(cluster.dsn("pulsecrm"))
        try:

            async def warm_written() -> bool:
                return await count_written(pg, "customers", warm) >= len(warm)

            t_warm = await wait_for(warm_written, a.timeout, 0.1)
        finally:
            await pg.close()
        res["warmup_acked"] = len(warm)
        res["warmup_written"] = t_warm is not None

        log(f"{name}: pg_ctl -m immediate stop; posting {a.pg_rate:.0f} records/s for {a.pg_down:.0f}s")
        poster.rate = a.pg_rate
        stop = asyncio.Event()
        post_task = asyncio.ensure_future(poster.run(stop))
        t_down = time.perf_counter()
        cluster.stop_immediate()
        await asyncio.sleep(max(0.0, a.pg_down - (time.perf_counter() - t_down)))
        stop.set()
        await post_task
        t_posted = time.perf_counter()
        outage_ids = poster.acked(t_down)
        res["outage_seconds_posting"] = round(t_posted - t_down, 3)
        res["outage_statuses"] = poster.statuses(t_down)
        res["outage_acked"] = len(outage_ids)
        res["outage_records_posted"] = sum(p.n for p in poster.posts if p.t_send >= t_down)
        res["backlog_entries_at_return"] = await xlen(redis.url, stream)
        res["pending_entries_at_return"] = await xpending(redis.url, stream)
        res["serve_log_lines_at_return"] = stack.serve_log.read_bytes().count(b"\n")
        log(
            f"{name}: outage statuses {res['outage_statuses']}; backlog {res['backlog_entries_at_return']} "
            f"entries; starting PostgreSQL"
        )

        t_start = time.perf_counter()
        cluster.start()
        t_up = await cluster.wait_ready(a.timeout, "pulsecrm")
        if t_up is None:
            raise RuntimeError("PostgreSQL did not come back")
        res["start_to_accepting_s"] = secs(t_start, t_up)
        pg = await asyncpg.connect(cluster.dsn("pulsecrm"))
        try:
            acked_all = poster.acked()
            n0 = await count_tagged(pg, "customers", tag)
            first_new: list[tuple[float, int]] = []  # (when, rows) at the first commit seen
            samples: list[tuple[float, int | None, int]] = []

            async def drained() -> bool:
                n = await count_tagged(pg, "customers", tag)
                b = await xlen(redis.url, stream)
                samples.append((time.perf_counter() - t_up, b, n))
                if n > n0 and not first_new:
                    first_new.append((time.perf_counter(), n))
                return (
                    b == 0
                    and n >= len(acked_all)
                    and await count_written(pg, "customers", acked_all) >= len(acked_all)
                )

            t_drained = await wait_for(drained, a.drain_timeout, 0.05)
            n1 = await count_tagged(pg, "customers", tag)
            res["written_at_return"] = n0
            res["accepting_to_first_new_row_s"] = secs(t_up, first_new[0][0] if first_new else None)
            res["accepting_to_drained_s"] = secs(t_up, t_drained)
            res["drained_records"] = n1 - n0
            if t_drained is not None and t_drained > t_up:
                res["drain_rps"] = round((n1 - n0) / (t_drained - t_up))
                res["drain_rps_10_90"] = rate_10_90(samples, n0, n1 - n0)
            else:
                res["drain_rps"] = None
                res["notes"].append(f"backlog not drained within {a.drain_timeout}s (timed out)")
            written = await count_written(pg, "customers", acked_all)
            res["acked_total"] = len(acked_all)
            res["acked_written_total"] = written
            res["acked_not_written_total"] = len(acked_all) - written
            res["outage_acked_written"] = await count_written(pg, "customers", outage_ids)
            res["backlog_entries_at_end"] = await xlen(redis.url, stream)
            # Thinned: (seconds since accepting, stream entries, rows written) about every second.
            res["drain_samples"] = [
                (round(t, 2), b, n)
                for i, (t, b, n) in enumerate(samples)
                if i % 20 == 0 or i == len(samples) - 1
            ]
        finally:
            await pg.close()
        res["processes_alive_at_end"] = stack.alive()
        res["log_counts"] = stack.log_counts()
        log(
            f"{name}: accepting -> drained {res['accepting_to_drained_s']}s, {res.get('drain_rps')} records/s; "
            f"acked {res['acked_total']}, not written {res['acked_not_written_total']}"
        )
        stack.stop()
        floor_rows = max(res["drained_records"], a.floor_min_rows)
        log(f"{name}: PostgreSQL floor for {floor_rows} rows")
        res["pg_floor"] = await pg_floor(cluster.dsn("pulsecrm"), floor_rows)
        log(f"{name}: floor {res['pg_floor']}")
        return res
    finally:
        stop.set()
        if post_task is not None and not post_task.done():
            post_task.cancel()
            with contextlib.suppress(BaseException):
                await post_task
        stack.stop()
        redis.close()
        cluster.close()
        shutil.rmtree(cwd, ignore_errors=True)


# --- main ---------------------------------------------------------------------------------------


async def recreate_db(name: str) -> None:
    admin = await asyncpg.connect(SHARED_PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop_db(name: str) -> None:
    admin = await asyncpg.connect(SHARED_PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def main(a: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    tree = Tree(Path(a.tree) if a.tree else HERE.parent)
    RESULTS.mkdir(parents=True, exist_ok=True)
    logdir = Path(tempfile.mkdtemp(prefix="pulsecrm-bench-faults-logs-"))
    log(f"tree {tree.path}; logs in {logdir}")
    procs = Procs()
    result: dict[str, Any] = {
        "cores": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "tree": tree.describe(),
        "client": {
            "records_per_s": a.rate,
            "records_per_s_during_pg_outage": a.pg_rate,
            "batch_records": a.batch,
            "kind": "customers",
        },
        "serve_api_key_cache_seconds": a.key_cache_seconds if a.key_cache_seconds is not None else "default",
    }
    try:
        if not a.skip_redis:
            await recreate_db(a.database)
            migrate_cwd = tempfile.mkdtemp(prefix="pulsecrm-bench-cwd-")
            try:
                env = base_env(
                    tree.venv_bin,
                    PULSECRM_DATABASE_URL=f"postgresql+asyncpg://postgres@{SHARED_PG}/{a.database}",
                    PULSECRM_DATA_DIR=migrate_cwd,
                )
                run_cli(tree.pulsecrm, ["migrate"], env, migrate_cwd)
            finally:
                shutil.rmtree(migrate_cwd, ignore_errors=True)
            rr: dict[str, Any] = {}
            for aof in (False, True):
                label = "aof" if aof else "volatile"
                try:
                    rr[label] = await redis_scenario(a, tree, procs, logdir, a.database, aof=aof)
                except Exception as exc:  # report and go on with the next scenario
                    log(f"redis {label}: FAILED: {exc!r}")
                    rr[label] = {"error": repr(exc)}
            result["redis_restart"] = rr
            result["redis_restart_to_first_write_s"] = rr["volatile"].get("ping_to_first_record_written_s")
            result["redis_restart_to_first_write_s_aof"] = rr["aof"].get("ping_to_first_record_written_s")
            result["redis_aof_acked_not_written"] = rr["aof"].get("acked_not_written_total")
        if not a.skip_pg:
            try:
                pr = await pg_scenario(a, tree, procs, logdir)
            except Exception as exc:
                log(f"pg_return: FAILED: {exc!r}")
                pr = {"error": repr(exc)}
            result["pg_return"] = pr
            result["pg_outage_acked"] = pr.get("outage_acked")
            result["pg_backlog_entries_at_return"] = pr.get("backlog_entries_at_return")
            result["pg_return_to_drained_s"] = pr.get("accepting_to_drained_s")
            result["pg_drain_rps"] = pr.get("drain_rps")
            result["pg_floor_unnest_upsert_rps"] = (pr.get("pg_floor") or {}).get("unnest_upsert_rps")
            result["pg_acked_not_written"] = pr.get("acked_not_written_total")
        result["targets"] = {"redis_restart_to_first_write_s": 5.0, "acked_not_written": 0}
    finally:
        procs.stop_all()
        if not a.skip_redis and not a.keep_db:
            with contextlib.suppress(Exception):
                await drop_db(a.database)
        # The processes' logs next to the results (tracebacks, NOGROUP, outage messages).
        keep = RESULTS / f"{Path(a.out).stem}-logs"
        shutil.rmtree(keep, ignore_errors=True)
        with contextlib.suppress(OSError):
            shutil.copytree(logdir, keep)
        shutil.rmtree(logdir, ignore_errors=True)
    result["runtime_seconds"] = round(time.perf_counter() - started, 1)
    result["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


async def run_cancellable(coro: Any) -> Any:
    """SIGTERM/SIGINT cancel the run, so its `finally` blocks still stop every process."""
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await task


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tree", help="checkout whose .venv/bin/pulsecrm is run (default: this one)")
    p.add_argument("--rate", type=float, default=1000, help="records/s the client POSTs")
    p.add_argument("--batch", type=int, default=100, help="records per POST")
    p.add_argument("--warmup", type=float, default=3, help="seconds of posting before the fault")
    p.add_argument("--redis-down", type=float, default=2, help="seconds Redis stays dead")
    p.add_argument("--after", type=float, default=2, help="seconds of posting after the first write")
    p.add_argument("--pg-down", type=float, default=20, help="seconds PostgreSQL stays down, posting")
    p.add_argument(
        "--pg-rate", type=float, default=3000, help="records/s the client POSTs during the PG outage"
    )
    p.add_argument("--timeout", type=float, default=60, help="bound on each wait (recovery, writes)")
    p.add_argument(
        "--drain-timeout", type=float, default=120, help="bound on the backlog drain after PG returns"
    )
    p.add_argument(
        "--key-cache-seconds",
        type=float,
        default=None,
        help="PULSECRM_API_KEY_CACHE_SECONDS for serve (default: the tree's own)",
    )
    p.add_argument("--http-timeout", type=float, default=10, help="per-request client timeout")
    p.add_argument("--floor-min-rows", type=int, default=20_000, help="least rows for the PostgreSQL floor")
    p.add_argument(
        "--database", default="pulsecrm_bench_faults", help="scratch database on the shared server"
    )
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--skip-redis", action="store_true")
    p.add_argument("--skip-pg", action="store_true")
    p.add_argument("--out", default="faults.json", help="file name under bench/results/")
    a = p.parse_args()
    result = asyncio.run(run_cancellable(main(a)))
    text = json.dumps(result, indent=2, default=str)
    (RESULTS / a.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    cli()
