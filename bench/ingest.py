"""Ingestion benchmark for Pulse CRM.

Prints one JSON object on stdout (progress on stderr) and writes it to bench/results/ingest.json.

Phases:
  1. pg_copy        raw asyncpg COPY of the order rows into a scratch copy of `orders` (storage floor)
  2. bulk           PostgreSQL + Redis: `pulsecrm serve` + `pulsecrm worker`(s); customers pre-loaded,
                    then orders POSTed in batches over several connections; accept rate and end to end
  3. wrk            single-record POST /api/v1/orders with wrk (serve --workers 1 and 2, stream worker
                    running; --wrk-no-worker adds runs without it); the worker's drain rate afterwards
  4. embedded       SQLite, no Redis (inline, 201): batches end to end

Run:  .venv/bin/python bench/ingest.py [--orders N] [--customers N] [--skip-wrk] [--skip-embedded] ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PULSECRM = str(VENV_BIN / "pulsecrm")
RESULTS = ROOT / "bench" / "results"

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_HOST_DSN = "postgresql://postgres@127.0.0.1:5432/{db}"
REDIS_URL = "redis://127.0.0.1:6379/0"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- data ---------------------------------------------------------------------------------------

CITIES = ["Mumbai", "Delhi", "Bengaluru", "Chennai", "Kolkata", "Pune", "Hyderabad", "Jaipur"]
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)


def customer_id(i: int) -> str:
    return f"c{i:07d}"


def make_customers(n: int) -> list[dict[str, Any]]:
    return [
        {
            "external_id": customer_id(i),
            "name": f"Customer {i}",
            "email": f"customer{i}@example.com",
            "city": CITIES[i % len(CITIES)],
        }
        for i in range(n)
    ]


def make_orders(n: int, customers: int, seed: int = 42) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    ist = "+05:30"
    out = []
    for i in range(n):
        cents = rnd.randint(100, 5_000_000)
        ts = BASE_TIME + timedelta(seconds=rnd.randint(0, 365 * 86400))
        out.append(
            {
                "external_id": f"o{i:08d}",
                "customer_external_id": customer_id(rnd.randrange(customers)),
                "amount": f"{cents // 100}.{cents % 100:02d}",
                "ordered_at": ts.strftime("%Y-%m-%dT%H:%M:%S") + ist,
            }
        )
    return out


def bodies(records: list[dict[str, Any]], batch: int) -> list[bytes]:
    return [orjson.dumps(records[i : i + batch]) for i in range(0, len(records), batch)]


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Processes this script started; each in its own process group, stopped by id."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str], logfile: Path, cwd: str) -> subprocess.Popen[bytes]:
        fh = open(logfile, "ab")  # noqa: SIM115
        p = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        fh.close()
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen[bytes], timeout: float = 15) -> None:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self) -> None:
        for p in list(reversed(self.procs)):
            self.stop(p)


def base_env(**extra: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSECRM_")}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    env["PULSECRM_LOG_LEVEL"] = "INFO"
    for k, v in extra.items():
        if v is not None:
            env[k] = v
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: str) -> str:
    r = subprocess.run([PULSECRM, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"pulsecrm {' '.join(args)} failed: {r.stdout}\n{r.stderr}")
    return r.stdout


def create_key(env: dict[str, str], cwd: str) -> str:
    out = run_cli(["apikey", "create", "--name", "bench"], env, cwd)
    return out.strip().splitlines()[-1].strip()


async def wait_health(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2) as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not become healthy")


# --- HTTP load ----------------------------------------------------------------------------------


async def post_all(
    base: str, key: str, path: str, payloads: list[bytes], concurrency: int, expect: int
) -> tuple[float, float, list[float]]:
    """POST every payload over `concurrency` connections. Returns (t_first_send, t_last_reply, latencies)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    latencies: list[float] = []
    errors: list[str] = []

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=300) as client:
        # Warm the connections (auth cache etc.) with a cheap request each.
        await asyncio.gather(*(client.get("/healthz") for _ in range(concurrency)))

        async def runner() -> None:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t = time.perf_counter()
                r = await client.post(path, content=body)
                latencies.append(time.perf_counter() - t)
                if r.status_code != expect:
                    errors.append(f"{r.status_code} {r.text[:300]}")

        t0 = time.perf_counter()
        await asyncio.gather(*(runner() for _ in range(concurrency)))
        t1 = time.perf_counter()
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    return t0, t1, latencies


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def latency_summary(lat: list[float]) -> dict[str, float]:
    """Percentiles over all requests, plus the median of the first and last tenth (does it slow down?)."""
    tenth = max(1, len(lat) // 10)
    return {
        "p50": round(pct(lat, 0.5) * 1000, 1),
        "p99": round(pct(lat, 0.99) * 1000, 1),
        "max": round(max(lat) * 1000, 1),
        "first_tenth_p50": round(pct(lat[:tenth], 0.5) * 1000, 1),
        "last_tenth_p50": round(pct(lat[-tenth:], 0.5) * 1000, 1),
    }


async def backlog(client: httpx.AsyncClient) -> int:
    r = await client.get("/api/v1/ingest/status")
    r.raise_for_status()
    return int(r.json()["backlog"])


async def wait_drained(
    base: str,
    key: str,
    pg: asyncpg.Connection,
    table: str,
    expected: int,
    timeout: float,
    samples: list | None = None,
) -> float | None:
    """Wait until the stream backlog is 0 and `table` holds `expected` rows; returns perf_counter or None."""
    deadline = time.perf_counter() + timeout
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
        while time.perf_counter() < deadline:
            b = await backlog(c)
            now = time.perf_counter()
            if samples is not None:
                samples.append((now, b))
            if b == 0:
                n = await pg.fetchval(f"SELECT count(*) FROM {table}")
                if n >= expected:
                    return time.perf_counter()
            await asyncio.sleep(0.05 if b < 3 else 0.25)
    return None


async def pg_aggregates(pg: asyncpg.Connection) -> dict[str, Any]:
    row = await pg.fetchrow(
        """
        SELECT (SELECT count(*) FROM orders) AS orders,
               (SELECT count(*) FROM customers) AS customers,
               (SELECT coalesce(sum(order_count), 0) FROM customers) AS sum_order_count,
               (SELECT count(*) FROM orders o JOIN customers c ON c.external_id = o.customer_external_id)
                   AS orders_with_customer,
               (SELECT coalesce(sum(total_spend), 0) FROM customers) AS sum_total_spend,
               (SELECT coalesce(sum(o.amount), 0) FROM orders o
                   JOIN customers c ON c.external_id = o.customer_external_id) AS sum_amount
        """
    )
    d = dict(row)
    d["aggregates_ok"] = (
        d["sum_order_count"] == d["orders_with_customer"] and d["sum_total_spend"] == d["sum_amount"]
    )
    d["sum_total_spend"] = str(d["sum_total_spend"])
    d["sum_amount"] = str(d["sum_amount"])
    return d


# --- phases -------------------------------------------------------------------------------------


async def recreate_db(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop_db(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def phase_pg_copy(dsn: str, orders: list[dict[str, Any]]) -> dict[str, Any]:
    """COPY the order rows into a scratch table shaped like `orders` (same PK, unique and index)."""
    now = datetime.now(UTC)
    records = [
        (
            o["external_id"],
            o["customer_external_id"],
            Decimal(o["amount"]),
            "INR",
            datetime.fromisoformat(o["ordered_at"]),
            "[]",
            now,
            now,
        )
        for o in orders
    ]
    cols = [
        "external_id",
        "customer_external_id",
        "amount",
        "currency",
        "ordered_at",
        "items",
        "updated_at",
        "ingested_at",
    ]
    pg = await asyncpg.connect(dsn)
    try:
        await pg.execute("DROP TABLE IF EXISTS bench_copy_orders")
        await pg.execute("CREATE TABLE bench_copy_orders (LIKE orders INCLUDING ALL)")
        t0 = time.perf_counter()
        await pg.copy_records_to_table("bench_copy_orders", records=records, columns=cols)
        t1 = time.perf_counter()
        n = await pg.fetchval("SELECT count(*) FROM bench_copy_orders")
        await pg.execute("DROP TABLE bench_copy_orders")
    finally:
        await pg.close()
    assert n == len(orders), (n, len(orders))
    secs = t1 - t0
    log(f"pg COPY: {n} rows in {secs:.2f}s = {n / secs:,.0f} rows/s")
    return {"rows": n, "seconds": round(secs, 3), "rps": round(n / secs)}


async def phase_bulk(
    a: argparse.Namespace,
    env: dict[str, str],
    cwd: str,
    logdir: Path,
    procs: Procs,
    pg_dsn: str,
    customers: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    key: str,
) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = procs.start(
        [PULSECRM, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(a.bulk_api_workers)],
        env,
        logdir / "bulk-serve.log",
        cwd,
    )
    workers = [
        procs.start([PULSECRM, "worker"], env, logdir / f"bulk-worker{i}.log", cwd)
        for i in range(a.stream_workers)
    ]
    pg = await asyncpg.connect(pg_dsn)
    try:
        await wait_health(base, server)
        # Pre-load customers and wait for them to be written (not timed in the figures).
        t0 = time.perf_counter()
        await post_all(base, key, "/api/v1/customers", bodies(customers, a.batch), a.concurrency, 202)
        done = await wait_drained(base, key, pg, "customers", len(customers), timeout=180)
        if done is None:
            raise RuntimeError("customers were not written within 180s")
        log(
            f"customers pre-loaded: {len(customers)} in {done - t0:.2f}s ({len(customers) / (done - t0):,.0f}/s)"
        )
        await pg.execute("ANALYZE customers")

        payloads = bodies(orders, a.batch)
        log(f"bulk: posting {len(orders)} orders in {len(payloads)} batches over {a.concurrency} connections")
        samples: list[tuple[float, int]] = []
        t_first, t_accepted, lat = await post_all(base, key, "/api/v1/orders", payloads, a.concurrency, 202)
        accept_s = t_accepted - t_first
        log(f"bulk: accepted in {accept_s:.2f}s = {len(orders) / accept_s:,.0f} records/s")
        backlog_at_accept = None
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}) as c:
            backlog_at_accept = await backlog(c)
        t_done = await wait_drained(
            base, key, pg, "orders", len(orders), timeout=a.e2e_timeout, samples=samples
        )
        stall = None
        if t_done is None:
            n = await pg.fetchval("SELECT count(*) FROM orders")
            activity = await pg.fetch(
                "SELECT pid, state, wait_event_type, wait_event, (now() - query_start)::text AS running_for, "
                "left(query, 300) AS query FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            stall = {"orders_rows": n, "pg_activity": [dict(r) for r in activity]}
            log(f"bulk: NOT drained within {a.e2e_timeout}s; {stall}")
            e2e_s = None
        else:
            e2e_s = t_done - t_first
            log(f"bulk: end to end {e2e_s:.2f}s = {len(orders) / e2e_s:,.0f} records/s")
        agg = await pg_aggregates(pg)
        log(f"bulk: aggregates {agg}")
        # Drain rate after the accept phase, from the backlog samples (entries of `ingest_entry_records`).
        drain = None
        if samples and backlog_at_accept:
            nonzero = [s for s in samples if s[1] > 0]
            if len(nonzero) >= 2:
                (ta, ba), (tb, bb) = nonzero[0], nonzero[-1]
                if tb > ta:
                    drain = round((ba - bb) / (tb - ta) * a.batch)
        return {
            "api_workers": a.bulk_api_workers,
            "stream_workers": a.stream_workers,
            "ingest_batch_entries": a.batch_entries or "default",
            "ingest_batch_records": a.batch_records or "default",
            "concurrency": a.concurrency,
            "batch_records": a.batch,
            "customers_preload_rps": round(len(customers) / (done - t0)),
            "accept_seconds": round(accept_s, 3),
            "accept_rps": round(len(orders) / accept_s),
            "request_latency_ms": latency_summary(lat),
            "backlog_entries_at_accept": backlog_at_accept,
            "drain_rps_after_accept": drain,
            "end_to_end_seconds": round(e2e_s, 3) if e2e_s else None,
            "end_to_end_rps": round(len(orders) / e2e_s) if e2e_s else None,
            "check": agg,
            "stall_diagnostics": stall,
            "_base": base,
            "_server": server,
            "_workers": workers,
        }
    finally:
        await pg.close()


WRK_LUA = r"""
local counter = 0
local tcount = 0
function setup(thread)
  tcount = tcount + 1
  thread:set("tid", tcount)
end
function init(args)
  counter = 0
end
request = function()
  counter = counter + 1
  local cents = (counter * 7919) % 500000 + 100
  local body = string.format(
    '{"external_id":"w%s-%d-%d","customer_external_id":"c%07d","amount":"%d.%02d","ordered_at":"2025-06-01T10:00:00+05:30"}',
    "__RUN__", tid, counter, (counter * 31 + tid) % __NCUST__, math.floor(cents / 100), cents % 100)
  return wrk.format("POST", "/api/v1/orders", {["Content-Type"]="application/json", ["Authorization"]="Bearer __KEY__"}, body)
end
"""


def parse_duration_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(text)
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    res: dict[str, Any] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = round(float(m.group(1)), 1) if m else None
    for q in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        res[f"p{q}_ms"] = round(parse_duration_ms(m.group(1)), 2) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", out)
    res["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:.*", out)
    res["socket_errors"] = m.group(0) if m else None
    return res


async def phase_wrk(
    a: argparse.Namespace,
    env: dict[str, str],
    cwd: str,
    logdir: Path,
    procs: Procs,
    pg_dsn: str,
    key: str,
    api_workers: int,
    worker_running: bool,
    orders_before: int,
) -> dict[str, Any]:
    """One wrk run; with the stream worker running, also its drain rate of single-record entries."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = procs.start(
        [PULSECRM, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(api_workers)],
        env,
        logdir / f"wrk-serve-w{api_workers}.log",
        cwd,
    )
    try:
        await wait_health(base, server)
        run_tag = f"{api_workers}{uuid.uuid4().hex[:6]}"
        script = (
            WRK_LUA.replace("__RUN__", run_tag).replace("__NCUST__", str(a.customers)).replace("__KEY__", key)
        )
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(script)
            lua = f.name
        # Warm-up: a couple of seconds (auth cache, connection pools) with a throwaway tag.
        warm = script.replace(run_tag, run_tag + "warm")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(warm)
            warm_lua = f.name
        subprocess.run(["wrk", "-t2", "-c64", "-d2s", "-s", warm_lua, base], capture_output=True, timeout=60)
        log(
            f"wrk: serve --workers {api_workers}, {a.wrk_duration}s, 64 connections, stream worker {worker_running}"
        )
        r = subprocess.run(
            ["wrk", "-t2", "-c64", f"-d{a.wrk_duration}s", "--latency", "-s", lua, base],
            capture_output=True,
            text=True,
            timeout=a.wrk_duration + 60,
        )
        os.unlink(lua)
        os.unlink(warm_lua)
        (logdir / f"wrk-w{api_workers}.txt").write_text(r.stdout + r.stderr)
        res = parse_wrk(r.stdout)
        res["api_workers"] = api_workers
        res["stream_worker_running"] = worker_running
        res["body"] = (
            "unique external_id per request (per-thread counter), customer cycles over pre-loaded ids"
        )
        log(f"wrk w{api_workers}: {res}")
        if worker_running:
            pg = await asyncpg.connect(pg_dsn)
            try:
                async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}) as c:
                    b0 = await backlog(c)
                    res["backlog_entries_after"] = b0
                    res["orders_written_during_run"] = (
                        await pg.fetchval("SELECT count(*) FROM orders") - orders_before
                    )
                    # Each single-record request is one stream entry: how fast does the worker drain them?
                    t0 = time.perf_counter()
                    n0 = await pg.fetchval("SELECT count(*) FROM orders")
                    b = b0
                    while b > 0 and time.perf_counter() - t0 < a.wrk_drain_seconds:
                        await asyncio.sleep(0.5)
                        b = await backlog(c)
                    dt = time.perf_counter() - t0
                    n1 = await pg.fetchval("SELECT count(*) FROM orders")
                # None when the worker kept up during the run (nothing left to drain).
                res["worker_drain_records_per_s"] = round((n1 - n0) / dt, 1) if b0 > 0 and dt > 0 else None
                res["backlog_entries_left"] = b
                log(
                    f"wrk w{api_workers}: backlog {b0} entries after the run; worker drained "
                    f"{res['worker_drain_records_per_s']} records/s over {dt:.0f}s; {b} left (discarded)"
                )
            finally:
                await pg.close()
        return res
    finally:
        procs.stop(server)


async def phase_embedded(
    a: argparse.Namespace,
    logdir: Path,
    procs: Procs,
    customers: list[dict[str, Any]],
    orders: list[dict[str, Any]],
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="pulsecrm-bench-sqlite-"))
    cwd = str(data_dir)
    try:
        env = base_env(PULSECRM_DATA_DIR=str(data_dir))
        run_cli(["migrate"], env, cwd)
        key = create_key(env, cwd)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = procs.start(
            [PULSECRM, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env,
            logdir / "embedded-serve.log",
            cwd,
        )
        try:
            await wait_health(base, server)
            t0 = time.perf_counter()
            await post_all(
                base, key, "/api/v1/customers", bodies(customers, a.batch), a.embedded_concurrency, 201
            )
            t1 = time.perf_counter()
            log(f"embedded: customers {len(customers)} in {t1 - t0:.2f}s")
            payloads = bodies(orders, a.batch)
            t_first, t_last, lat = await post_all(
                base, key, "/api/v1/orders", payloads, a.embedded_concurrency, 201
            )
            secs = t_last - t_first
            log(f"embedded: {len(orders)} orders end to end {secs:.2f}s = {len(orders) / secs:,.0f}/s")
        finally:
            procs.stop(server)
        db = sqlite3.connect(data_dir / "pulsecrm.db")
        try:
            n_orders = db.execute("SELECT count(*) FROM orders").fetchone()[0]
            sum_count = db.execute("SELECT coalesce(sum(order_count),0) FROM customers").fetchone()[0]
            joined = db.execute(
                "SELECT count(*) FROM orders o JOIN customers c ON c.external_id = o.customer_external_id"
            ).fetchone()[0]
        finally:
            db.close()
        return {
            "concurrency": a.embedded_concurrency,
            "batch_records": a.batch,
            "api_workers": 1,
            "customers_rps": round(len(customers) / (t1 - t0)),
            "seconds": round(secs, 3),
            "rps": round(len(orders) / secs),
            "request_latency_ms": latency_summary(lat),
            "check": {
                "orders": n_orders,
                "sum_order_count": sum_count,
                "orders_with_customer": joined,
                "aggregates_ok": n_orders == len(orders) and sum_count == joined,
            },
        }
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def discard_stream(key: str) -> None:
    r = aioredis.Redis.from_url(REDIS_URL)
    try:
        await r.delete(key)
    finally:
        await r.aclose()


async def cleanup_redis(prefix: str) -> int:
    r = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in r.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await r.delete(*keys)
        return len(keys)
    finally:
        await r.aclose()


# --- main ---------------------------------------------------------------------------------------


async def main(a: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    RESULTS.mkdir(parents=True, exist_ok=True)
    logdir = Path(tempfile.mkdtemp(prefix="pulsecrm-bench-logs-"))
    log(f"logs in {logdir}")
    procs = Procs()
    prefix = f"pulsecrm-bench:{uuid.uuid4().hex[:10]}:"
    db_name = a.database
    pg_dsn = PG_HOST_DSN.format(db=db_name)
    cwd = tempfile.mkdtemp(prefix="pulsecrm-bench-cwd-")  # no stray .env is read from here
    env = base_env(
        PULSECRM_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}",
        PULSECRM_REDIS_URL=REDIS_URL,
        PULSECRM_REDIS_PREFIX=prefix,
        PULSECRM_REDIS_ALLOW_VOLATILE="true",  # the shared Redis keeps nothing on disk
        PULSECRM_DATA_DIR=cwd,
        PULSECRM_INGEST_BATCH_ENTRIES=str(a.batch_entries) if a.batch_entries else None,
        PULSECRM_INGEST_BATCH_RECORDS=str(a.batch_records) if a.batch_records else None,
    )
    log("generating data")
    customers = make_customers(a.customers)
    orders = make_orders(a.orders, a.customers)
    result: dict[str, Any] = {
        "cores": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "orders": a.orders,
        "customers": a.customers,
        "batch_records": a.batch,
    }
    try:
        await recreate_db(db_name)
        if a.pg_setting:
            # Experiments only (e.g. plan_cache_mode=force_custom_plan): settings on the bench database.
            admin = await asyncpg.connect(PG_ADMIN_DSN)
            try:
                for kv in a.pg_setting:
                    k, v = kv.split("=", 1)
                    if not re.fullmatch(r"[a-z_.]+", k) or not re.fullmatch(r"[A-Za-z0-9_.]+", v):
                        raise ValueError(f"bad --pg-setting {kv!r}")
                    await admin.execute(f'ALTER DATABASE "{db_name}" SET {k} = {v}')
            finally:
                await admin.close()
            result["pg_settings"] = a.pg_setting
        if a.auto_explain:
            # Diagnostics only: log the plan of any statement slower than N ms to the server log.
            admin = await asyncpg.connect(PG_ADMIN_DSN)
            try:
                await admin.execute(
                    f"ALTER DATABASE \"{db_name}\" SET session_preload_libraries = 'auto_explain'"
                )
                await admin.execute(
                    f'ALTER DATABASE "{db_name}" SET auto_explain.log_min_duration = {int(a.auto_explain)}'
                )
            finally:
                await admin.close()
        run_cli(["migrate"], env, cwd)
        key = create_key(env, cwd)

        copy = await phase_pg_copy(pg_dsn, orders)
        result["pg_copy_rps"] = copy["rps"]

        bulk = await phase_bulk(a, env, cwd, logdir, procs, pg_dsn, customers, orders, key)
        server, workers = bulk.pop("_server"), bulk.pop("_workers")
        bulk.pop("_base")
        procs.stop(server)
        result["bulk_accept_rps"] = bulk["accept_rps"]
        result["bulk_end_to_end_rps"] = bulk["end_to_end_rps"]
        if bulk["end_to_end_rps"] is None:
            stall = bulk["stall_diagnostics"] or {}
            result["bulk_end_to_end_note"] = (
                f"not complete after {a.e2e_timeout:.0f}s: {stall.get('orders_rows')} of {a.orders} orders written"
            )
        result["bulk_api_workers"] = bulk["api_workers"]
        result["bulk_stream_workers"] = bulk["stream_workers"]
        result["end_to_end_over_copy"] = (
            round(bulk["end_to_end_rps"] / copy["rps"], 3) if bulk["end_to_end_rps"] else None
        )

        if not a.skip_wrk:
            stream_key = f"{prefix}ingest"
            wrk_runs = []
            for with_worker in (False, True) if a.wrk_no_worker else (True,):
                for w in a.wrk_api_workers:
                    pg = await asyncpg.connect(pg_dsn)
                    before = await pg.fetchval("SELECT count(*) FROM orders")
                    analyzed = await pg.fetchval(
                        "SELECT coalesce(last_autoanalyze, last_analyze) IS NOT NULL "
                        "FROM pg_stat_user_tables WHERE relname = 'orders'"
                    )
                    await pg.close()
                    if with_worker and not any(p.poll() is None for p in workers):
                        workers = [procs.start([PULSECRM, "worker"], env, logdir / "wrk-worker.log", cwd)]
                    if not with_worker:
                        for p in workers:
                            procs.stop(p)
                    run = await phase_wrk(a, env, cwd, logdir, procs, pg_dsn, key, w, with_worker, before)
                    run["orders_table_analyzed"] = analyzed
                    wrk_runs.append(run)
                    # Leftover single-record entries would slow the next run: stop, discard them.
                    for p in workers:
                        procs.stop(p)
                    await discard_stream(stream_key)
            real = [r for r in wrk_runs if r["stream_worker_running"]] or wrk_runs
            best = max(real, key=lambda r: r["rps"] or 0)
            result["single_post_rps"] = best["rps"]
            result["single_post_p99_ms"] = best["p99_ms"]
            result["single_post_api_workers"] = best["api_workers"]
            result["single_post_runs"] = wrk_runs
        for p in workers:
            procs.stop(p)

        if not a.skip_embedded:
            emb_orders = orders[: a.embedded_orders] if a.embedded_orders else orders
            emb = await phase_embedded(a, logdir, procs, customers, emb_orders)
            result["embedded_end_to_end_rps"] = emb["rps"]
            result["embedded"] = emb | {"orders": len(emb_orders)}

        result["bulk"] = bulk
        result["pg_copy"] = copy
        result["targets"] = {
            "bulk_accept_rps": 40_000,
            "bulk_end_to_end_rps": 25_000,
            "single_post_rps": 2_000,
            "single_post_p99_ms": 100,
            "embedded_end_to_end_rps": 15_000,
        }
    finally:
        procs.stop_all()
        with contextlib.suppress(Exception):
            log(f"removed {await cleanup_redis(prefix)} redis keys under {prefix}")
        if not a.keep_db:
            with contextlib.suppress(Exception):
                await drop_db(db_name)
        shutil.rmtree(cwd, ignore_errors=True)
        # Keep the worker log next to the results for per-batch analysis.
        for f in logdir.glob("*"):
            with contextlib.suppress(OSError):
                shutil.copy(f, RESULTS / f"ingest-{f.name}")
        shutil.rmtree(logdir, ignore_errors=True)
    result["runtime_seconds"] = round(time.perf_counter() - started, 1)
    result["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


async def run_cancellable(coro: Any) -> Any:
    """SIGTERM/SIGINT cancel the run, so its `finally` still stops processes and cleans up."""
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await task


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=200_000)
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=1000, help="records per POST")
    p.add_argument("--concurrency", type=int, default=6, help="client connections for the bulk phase")
    p.add_argument("--bulk-api-workers", type=int, default=1, help="uvicorn workers for the bulk phase")
    p.add_argument("--wrk-api-workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--wrk-duration", type=int, default=15)
    p.add_argument("--wrk-drain-seconds", type=float, default=20, help="measure the worker's drain this long")
    p.add_argument("--wrk-no-worker", action="store_true", help="also run wrk with no stream worker running")
    p.add_argument("--stream-workers", type=int, default=1, help="`pulsecrm worker` processes")
    p.add_argument("--batch-entries", type=int, default=0, help="PULSECRM_INGEST_BATCH_ENTRIES; 0 = default")
    p.add_argument("--batch-records", type=int, default=0, help="PULSECRM_INGEST_BATCH_RECORDS; 0 = default")
    p.add_argument("--e2e-timeout", type=float, default=120)
    p.add_argument("--embedded-orders", type=int, default=0, help="0 = same as --orders")
    p.add_argument("--embedded-concurrency", type=int, default=2)
    p.add_argument("--database", default="pulsecrm_bench")
    p.add_argument("--keep-db", action="store_true", help="leave the PostgreSQL database for inspection")
    p.add_argument(
        "--auto-explain",
        type=int,
        default=0,
        metavar="MS",
        help="log plans of statements slower than MS to the PostgreSQL server log (diagnostics)",
    )
    p.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="ALTER DATABASE <bench db> SET NAME = VALUE (experiments; repeatable)",
    )
    p.add_argument("--skip-wrk", action="store_true")
    p.add_argument("--skip-embedded", action="store_true")
    a = p.parse_args()
    result = asyncio.run(run_cancellable(main(a)))
    text = json.dumps(result, indent=2, default=str)
    (RESULTS / "ingest.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    cli()
