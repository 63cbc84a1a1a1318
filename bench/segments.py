"""Segment preview latency at 100k, 1M and 10M customers (PostgreSQL): the audience engine
beside SQL, and the engine's build time, memory and lag under ingestion.

Per size: loads customers with COPY in chunks (aggregates filled, realistic distributions);
builds the engine's snapshot in this process from cold (time, its own size estimate, and
the process's RSS growth); for six rule trees -- one condition up to three nested levels --
times the engine's count + sample in process and, side by side, the plain SQL `count(*)` of
the same compiled predicate over asyncpg (the floor the engine replaces); then starts
`pulsecrm serve` and times `POST /api/v1/segments/preview` once the engine answers it
(answered_by=memory), and the same through SQL (`exact=false` kept for the capped figure).
With --lag: two writer processes append 1,000-order batches at a target rate through the real
writer while this process's engine follows the change feed; reports each batch's lag (its
feed row's time to applied) and the rate achieved. The engine publishes each merged base to a
shelf in /dev/shm and maps it back, as `serve` does by default (--lag-private: it keeps its own).
With --share N: two `serve` processes at N customers, answering previews from memory at once,
with the snapshot's base shared (the second maps the file the first published) and without;
each one's time to its first answer from memory and its memory (Pss counts a shared page once).

    .venv/bin/python bench/segments.py [--sizes 100000,1000000,10000000] [--runs 30] [--lag 20000]
    .venv/bin/python bench/segments.py --share 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pulsecrm.demo import CITIES  # the demo's weighted city mix

ROOT = Path(__file__).resolve().parent.parent
PULSECRM = str(Path(sys.executable).parent / "pulsecrm")
ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
# Our own database per run (other engineers may run this bench at the same moment); the
# writer process of the lag run is told its name.
DB = os.environ.get("BENCH_SEGMENTS_DB", f"pulsecrm_bench_segments_{os.getpid()}")
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
NOW = datetime.now(UTC)


def cond(field: str, cmp: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "cmp": cmp, **({} if value is None else {"value": value})}


TREES: dict[str, dict[str, Any]] = {
    "1_one_condition": {"op": "and", "rules": [cond("total_spend", "gt", 5000)]},
    "2_city_in": {"op": "and", "rules": [cond("city", "in", ["Mumbai", "Pune"])]},
    "3_lapsed_and_big": {
        "op": "and",
        "rules": [cond("total_spend", "gte", 2000), cond("last_order_at", "not_within_last_days", 90)],
    },
    "4_issue_example_2_levels": {
        "op": "and",
        "rules": [
            cond("total_spend", "gt", 5000),
            {
                "op": "or",
                "rules": [cond("order_count", "lt", 3), cond("last_order_at", "not_within_last_days", 90)],
            },
            cond("city", "in", ["Mumbai", "Pune"]),
        ],
    },
    "5_attributes_or_of_ands": {
        "op": "or",
        "rules": [
            {
                "op": "and",
                "rules": [
                    cond("attributes.tier", "eq", "gold"),
                    cond("total_spend", "between", [1000, 5000]),
                ],
            },
            {
                "op": "and",
                "rules": [cond("created_at", "within_last_days", 30), cond("order_count", "eq", 0)],
            },
        ],
    },
    "6_three_levels_text": {
        "op": "and",
        "rules": [
            cond("order_count", "gte", 1),
            {
                "op": "or",
                "rules": [
                    cond("name", "contains", "sha"),
                    {
                        "op": "and",
                        "not": True,
                        "rules": [cond("city", "eq", "delhi"), cond("attributes.vip", "eq", True)],
                    },
                ],
            },
            cond("avg_order_value", "lt", 3000),
        ],
    },
}


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def customers(n: int, start: int = 0, seed: int = 11) -> list[tuple[Any, ...]]:
    rng = random.Random(seed + start)
    cities = [c for c, _ in CITIES]
    weights = [w for _, w in CITIES]
    first = [
        "Asha",
        "Ravi",
        "Priya",
        "Arjun",
        "Meera",
        "Kabir",
        "Sara",
        "Dev",
        "Nisha",
        "Rohan",
        "Anika",
        "Vivaan",
    ]
    rows = []
    for i in range(start, start + n):
        created = NOW - timedelta(days=rng.uniform(0, 1000))
        count = min(int(rng.paretovariate(1.2)) - 1 + (rng.random() < 0.8), 60)
        total = Decimal(0)
        first_at = last_at = avg = None
        if count:
            total = Decimal(int(rng.lognormvariate(7.5, 1.0) * count)) / 1
            avg = (total / count).quantize(Decimal("0.01"))
            first_at = created + timedelta(days=rng.uniform(0, (NOW - created).days or 1))
            last_at = first_at + timedelta(days=rng.uniform(0, (NOW - first_at).days or 0))
        attributes = {
            "tier": rng.choices(["bronze", "silver", "gold", "platinum"], [50, 30, 15, 5])[0],
            "visits": rng.randint(0, 60),
            "vip": rng.random() < 0.1,
        }
        name = f"{rng.choice(first)} {i}"
        rows.append(
            (
                f"C{i:07d}",
                name,
                f"user{i}@example.com",
                None,
                rng.choices(cities, weights)[0],
                orjson.dumps(attributes).decode(),
                created,
                created,
                NOW,
                total,
                count,
                avg,
                first_at,
                last_at,
            )
        )
    return rows


COLUMNS = [
    "external_id",
    "name",
    "email",
    "phone",
    "city",
    "attributes",
    "created_at",
    "updated_at",
    "ingested_at",
    "total_spend",
    "order_count",
    "avg_order_value",
    "first_order_at",
    "last_order_at",
]


async def load(n: int) -> float:
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DB}"')
    await admin.close()
    subprocess.run([PULSECRM, "migrate"], env=env(), check=True, capture_output=True)
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
    await conn.set_type_codec(  # binary COPY: jsonb is a version byte, then the text
        "jsonb",
        encoder=lambda t: b"\x01" + t.encode(),
        decoder=lambda b: b[1:].decode(),
        schema="pg_catalog",
        format="binary",
    )
    elapsed = 0.0
    for start in range(0, n, 500_000):  # chunks: 10M rows as Python tuples would not fit
        rows = customers(min(500_000, n - start), start)
        started = time.perf_counter()
        await conn.copy_records_to_table("customers", records=rows, columns=COLUMNS)
        elapsed += time.perf_counter() - started
        del rows
    await conn.execute(
        "INSERT INTO customer_attribute_keys VALUES ('tier','string'),('visits','number'),('vip','boolean')"
    )
    await conn.execute("VACUUM ANALYZE customers")
    await conn.close()
    return n / elapsed


async def drop() -> None:
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.close()


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("PULSECRM_")}
    e.update(PULSECRM_DATABASE_URL=URL, PULSECRM_LOG_LEVEL="WARNING", BENCH_SEGMENTS_DB=DB)
    return e


def pctl(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


CATALOG_TYPES = {"tier": {"string"}, "visits": {"number"}, "vip": {"boolean"}}


async def engine_figures(n: int, runs: int) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Build the snapshot from cold in this process; time each tree's count + sample."""
    from pulsecrm.db import Database
    from pulsecrm.segments import catalog as cat
    from pulsecrm.segments import engine, rules

    db = Database(URL, pool_size=2)
    catalog = cat.build(CATALOG_TYPES)
    gc_before = rss_mb()
    snapshot, _ = await engine.build(db, catalog)
    rss_after = rss_mb()
    await db.dispose()
    times: dict[str, list[float]] = {}
    for name, tree in TREES.items():
        checked = rules.check(rules.parse(tree), catalog)
        for _ in range(3):
            snapshot.answer(checked, datetime.now(UTC), 10)
        samples = []
        for _ in range(runs):
            t = time.perf_counter()
            snapshot.answer(checked, datetime.now(UTC), 10)
            samples.append((time.perf_counter() - t) * 1000)
        times[name] = samples
    figures = {
        "build_seconds_from_cold": round(snapshot.build_seconds, 2),
        "snapshot_mb": round(snapshot.nbytes / 1e6, 1),
        "snapshot_mb_per_million": round(snapshot.nbytes / 1e6 / (n / 1e6), 1),
        "process_rss_growth_mb": round(rss_after - gc_before, 1),
        "dictionary_encoded": sorted(k for k, (_, c) in snapshot.columns.items() if c.dictionary is not None),
    }
    del snapshot
    return figures, times


async def sql_floor(tree: dict[str, Any], runs: int) -> list[float]:
    """The same predicate as the API compiles it, counted over a bare asyncpg connection."""
    from pulsecrm.customers.models import Customer
    from pulsecrm.segments import catalog as cat
    from pulsecrm.segments import rules
    from pulsecrm.segments.compiler import compile_rules

    catalog = cat.build(CATALOG_TYPES)
    where = compile_rules(
        rules.check(rules.parse(tree), catalog), dialect="postgresql", now=datetime.now(UTC)
    )
    compiled = (
        sa.select(sa.func.count())
        .select_from(Customer)
        .where(where)
        .compile(dialect=postgresql.asyncpg.dialect(), compile_kwargs={"render_postcompile": True})
    )
    params = [compiled.params[name] for name in compiled.positiontup or []]
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
    statement = await conn.prepare(str(compiled))
    for _ in range(3):
        await statement.fetchval(*params)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await statement.fetchval(*params)
        times.append((time.perf_counter() - t) * 1000)
    await conn.close()
    return times


def api_times(
    client: httpx.Client, tree: dict[str, Any], runs: int, answered_by: str, **options: Any
) -> tuple[list[float], int]:
    count = 0
    body = {"rules": tree, **options}
    for _ in range(3):
        count = client.post("/api/v1/segments/preview", json=body).json()["count"]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        response = client.post("/api/v1/segments/preview", json=body)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.text
        assert response.json()["answered_by"] == answered_by, response.text
    return times, count


def wait_for_engine(client: httpx.Client, timeout: float) -> float:
    """Seconds from the first preview until the engine answers (the serve process's build)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        body = client.post("/api/v1/segments/preview", json={"rules": TREES["1_one_condition"]}).json()
        if body["answered_by"] == "memory":
            return time.perf_counter() - started
        time.sleep(0.5)
    raise TimeoutError("the engine did not answer in time")


def serve(port: int, out: Any, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PULSECRM, "serve", "--port", str(port)], env=env() | extra, stdout=out, stderr=out
    )


def client_for(port: int, key: str) -> httpx.Client:
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=120
    )
    for _ in range(300):
        try:
            if client.get("/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    return client


def memory_of(pid: int) -> dict[str, float]:
    """A process's memory, MB: Pss counts a shared page once across the processes mapping it."""
    fields: dict[str, float] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) / 1024
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0) - fields.get("Pss_Shmem", 0)
    return {
        "rss_mb": round(fields["Rss"], 1),
        "pss_mb": round(fields["Pss"], 1),
        "pss_shared_file_mb": round(fields.get("Pss_Shmem", 0), 1),
        "private_mb": round(max(private, 0.0), 1),
    }


def two_processes(n: int, key: str, share_dir: str) -> dict[str, Any]:
    """Two `serve` processes answering previews at once: each one's time to its first answer
    from memory and its memory. With `share_dir` set the second maps the first's base."""
    out: dict[str, Any] = {"share_dir": share_dir or "(off)"}
    with tempfile.TemporaryFile() as log_file:
        servers: list[subprocess.Popen[bytes]] = []
        try:
            clients = []
            for i in range(2):
                port = 18000 + random.randint(0, 999)
                servers.append(serve(port, log_file, PULSECRM_AUDIENCE_SHARE_DIR=share_dir))
                clients.append(client_for(port, key))
                out[f"process_{i + 1}_first_answer_seconds"] = round(wait_for_engine(clients[-1], 1800), 1)
            for client in clients:  # every column read, in both
                for tree in TREES.values():
                    api_times(client, tree, 2, "memory")
            for i, server in enumerate(servers):
                out[f"process_{i + 1}"] = memory_of(server.pid)
            out["pss_both_mb"] = round(sum(out[f"process_{i + 1}"]["pss_mb"] for i in range(2)), 1)
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(timeout=60)
    return out


def sharing(n: int) -> dict[str, Any]:
    """Memory of two serve processes with the base shared and without."""
    key = create_key()
    # A feed row for the shared file to be checked against (the COPY load writes none): one
    # customer through the API, as any real write would leave.
    port = 18000 + random.randint(0, 999)
    with tempfile.TemporaryFile() as log_file:
        server = serve(port, log_file, PULSECRM_AUDIENCE_ENGINE="false")
        try:
            written = client_for(port, key).post(
                "/api/v1/customers", json=[{"external_id": "bench-share", "name": "Share"}]
            )
            assert written.status_code == 201, written.text
        finally:
            server.terminate()
            server.wait(timeout=60)
    # In RAM, as the default directory is (a 0700 directory of its own under /dev/shm).
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        shared = two_processes(n, key, str(Path(tmp) / "shelf"))
    private = two_processes(n, key, "")
    return {"customers": n, "shared": shared, "private": private}


def create_key() -> str:
    created = subprocess.run(
        [PULSECRM, "apikey", "create", "--name", "bench"],
        env=env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return created.stdout.strip().splitlines()[-1]


def measure(
    n: int, runs: int, lag_rate: int, engine_only: bool = False, lag_shared: bool = True
) -> dict[str, Any]:
    log(f"loading {n:,} customers with COPY …")
    copy_rps = asyncio.run(load(n))
    log("building the engine in process …")
    engine, engine_times = asyncio.run(engine_figures(n, runs))
    log(json.dumps(engine))
    if engine_only:  # the engine's figures without the serve processes and SQL scans (10M)
        only: dict[str, Any] = {
            "customers": n,
            "copy_rows_per_s": int(copy_rps),
            "engine": engine,
            "trees": {
                name: {"engine_p50_ms": pctl(t, 50), "engine_p95_ms": pctl(t, 95)}
                for name, t in engine_times.items()
            },
            "engine_p95_max_ms": max(pctl(t, 95) for t in engine_times.values()),
        }
        if lag_rate:
            only["lag"] = asyncio.run(lag_under_ingest(n, lag_rate, shared=lag_shared))
        return only
    key = create_key()
    result: dict[str, Any] = {"customers": n, "copy_rows_per_s": int(copy_rps), "engine": engine, "trees": {}}
    sql_runs = runs if n <= 1_000_000 else max(5, runs // 5)  # a 10M scan takes seconds
    with tempfile.TemporaryFile() as out:
        port = 18000 + random.randint(0, 999)
        server = serve(port, out)
        try:
            client = client_for(port, key)
            result["engine"]["serve_first_answer_seconds"] = round(wait_for_engine(client, 1800), 1)
            for name, tree in TREES.items():
                api, count = api_times(client, tree, runs, "memory")
                floor = asyncio.run(sql_floor(tree, sql_runs))
                result["trees"][name] = {
                    "count": count,
                    "engine_p50_ms": pctl(engine_times[name], 50),
                    "engine_p95_ms": pctl(engine_times[name], 95),
                    "api_memory_p50_ms": pctl(api, 50),
                    "api_memory_p95_ms": pctl(api, 95),
                    "sql_p50_ms": pctl(floor, 50),
                    "sql_p95_ms": pctl(floor, 95),
                }
                log(name, result["trees"][name])
        finally:
            server.terminate()
            server.wait(timeout=60)
        port = 18000 + random.randint(0, 999)
        server = serve(port, out, PULSECRM_AUDIENCE_ENGINE="false")
        try:
            client = client_for(port, key)
            for name, tree in TREES.items():
                api, _ = api_times(client, tree, sql_runs, "database")
                capped, capped_count = api_times(client, tree, sql_runs, "database", exact=False, cap=10_000)
                result["trees"][name] |= {
                    "api_sql_p50_ms": pctl(api, 50),
                    "api_sql_p95_ms": pctl(api, 95),
                    "capped_count": capped_count,
                    "api_sql_capped_p95_ms": pctl(capped, 95),
                }
                log(name, result["trees"][name])
        finally:
            server.terminate()
            server.wait(timeout=60)
    trees = result["trees"].values()
    result["engine_p95_max_ms"] = max(t["engine_p95_ms"] for t in trees)
    result["api_memory_p95_max_ms"] = max(t["api_memory_p95_ms"] for t in trees)
    result["sql_p95_max_ms"] = max(t["sql_p95_ms"] for t in trees)
    result["api_sql_p95_max_ms"] = max(t["api_sql_p95_ms"] for t in trees)
    if lag_rate:
        result["lag"] = asyncio.run(lag_under_ingest(n, lag_rate, shared=lag_shared))
    return result


def synthetic(n: int, runs: int) -> dict[str, Any]:
    """The engine's query times at sizes PostgreSQL cannot be loaded to in the time at hand:
    a snapshot made with numpy in the same shape and similar distributions as `customers()`
    (no build from cold, so no build time)."""
    import numpy as np
    import polars as pl

    from pulsecrm.segments import catalog as cat
    from pulsecrm.segments import engine, rules
    from pulsecrm.segments.compiler import micros

    rng = np.random.default_rng(11)
    now_us = micros(NOW)
    day = 86_400 * 10**6
    created = now_us - (rng.random(n) * 1000 * day).astype(np.int64)
    count = np.minimum((rng.pareto(1.2, n) + 1).astype(np.int64) - 1 + (rng.random(n) < 0.8), 60)
    total = (rng.lognormal(7.5, 1.0, n) * count * 100).astype(np.int64)
    has = count > 0
    first_at = created + (rng.random(n) * (now_us - created)).astype(np.int64)
    last_at = first_at + (rng.random(n) * (now_us - first_at)).astype(np.int64)
    cities = [c.lower() for c, _ in CITIES]
    weights = np.array([w for _, w in CITIES], dtype=float)
    firsts = [
        "asha",
        "ravi",
        "priya",
        "arjun",
        "meera",
        "kabir",
        "sara",
        "dev",
        "nisha",
        "rohan",
        "anika",
        "vivaan",
    ]
    ids = np.arange(1, n + 1)
    base = pl.DataFrame(
        {
            "id": ids,
            "total_spend": total,
            "order_count": count,
            "avg_order_value": pl.Series(np.where(has, total // np.maximum(count, 1), 0)).set(
                ~pl.Series(has), None
            ),
            "first_order_at": pl.Series(first_at).set(~pl.Series(has), None),
            "last_order_at": pl.Series(last_at).set(~pl.Series(has), None),
            "created_at": created,
            "name": pl.Series(np.array(firsts)[rng.integers(0, 12, n)])
            + " "
            + pl.Series(ids).cast(pl.String),
            "email": "user" + pl.Series(ids).cast(pl.String) + "@example.com",
            "phone": pl.Series([None] * n, dtype=pl.UInt32),
            "city": pl.Series(rng.choice(len(cities), n, p=weights / weights.sum()).astype(np.uint32)),
            "external_id": "c" + pl.Series(ids).cast(pl.String).str.zfill(7),
            "attributes.tier": pl.Series(rng.choice(4, n, p=[0.5, 0.3, 0.15, 0.05]).astype(np.uint32)),
            "attributes.visits": rng.integers(0, 61, n).astype(np.float64),
            "attributes.vip": rng.random(n) < 0.1,
        }
    )
    catalog = cat.build(CATALOG_TYPES)
    dictionaries = {
        "city": pl.Series(cities),
        "attributes.tier": pl.Series(["bronze", "silver", "gold", "platinum"]),
        "phone": pl.Series([], dtype=pl.String),
    }
    columns = {s.name: (s, engine.FrameColumn(s.name, dictionaries.get(s.name))) for s in catalog.fields}
    snapshot = engine._snapshot(columns, base, 0, 0.0)
    out: dict[str, Any] = {
        "customers": n,
        "synthetic": True,
        "snapshot_mb": round(snapshot.nbytes / 1e6, 1),
        "snapshot_mb_per_million": round(snapshot.nbytes / 1e6 / (n / 1e6), 1),
        "trees": {},
    }
    for name, tree in TREES.items():
        checked = rules.check(rules.parse(tree), catalog)
        snapshot.answer(checked, datetime.now(UTC), 10)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            found, _ = snapshot.answer(checked, datetime.now(UTC), 10)
            times.append((time.perf_counter() - t) * 1000)
        out["trees"][name] = {
            "count": found,
            "engine_p50_ms": pctl(times, 50),
            "engine_p95_ms": pctl(times, 95),
        }
        log(name, out["trees"][name])
    out["engine_p95_max_ms"] = max(t["engine_p95_ms"] for t in out["trees"].values())
    return out


# --- lag under ingestion ------------------------------------------------------------------------

WRITERS = 2  # writer processes, each paced to its share of the rate


def writer_main(rate: float, seconds: float, customers_total: int, number: int = 0) -> None:
    """A writer process: 1,000-order batches through the real writer, paced to `rate`."""
    from pulsecrm.customers.schemas import OrderIn
    from pulsecrm.db import Database
    from pulsecrm.ingest.writer import Entry, write_batch

    async def run() -> None:
        db = Database(URL, pool_size=2)
        rng = random.Random(5 + number)
        written, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            ahead = written / rate - elapsed
            if ahead > 0:
                await asyncio.sleep(ahead)
            batch = [
                OrderIn(
                    external_id=f"lag-{number}-{written + k}",
                    customer_external_id=f"C{rng.randrange(customers_total):07d}",
                    amount=Decimal(rng.randint(100, 50_000)) / 100,
                    ordered_at=datetime.now(UTC),
                )
                for k in range(1000)
            ]
            await write_batch(
                db, [Entry("orders", datetime.now(UTC), batch)], default_currency="INR", consent_attributes={}
            )
            written += len(batch)
        print(json.dumps({"written": written, "seconds": time.perf_counter() - started}), flush=True)
        await db.dispose()

    asyncio.run(run())


async def lag_under_ingest(n: int, rate: int, seconds: float = 60, *, shared: bool = True) -> dict[str, Any]:
    """With `shared` (as `serve` runs by default) each merge publishes the new base to a shelf
    in /dev/shm and maps it back, inside the follower's loop."""
    from pulsecrm.db import Database
    from pulsecrm.segments.catalog import CatalogCache
    from pulsecrm.segments.engine import AudienceEngine
    from pulsecrm.segments.shelf import Shelf

    db = Database(URL, pool_size=4)
    shelf_dir = tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    shelf = Shelf.open(Path(shelf_dir.name) / "shelf", "bench") if shared else None
    engine = AudienceEngine(db, CatalogCache(), max_lag_seconds=2.0, poll_seconds=0.2, shelf=shelf)
    await engine.rebuild()
    engine.start()
    log(f"lag: {WRITERS} writers at {rate:,} orders/s in all for {seconds:.0f} s while the engine follows …")
    # One writer process writes its batches one after another, short of 20k/s on 2 cores; the
    # pipeline's worker writes two transactions at once, and so do these.
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--writer",
            str(rate / WRITERS),
            str(seconds),
            str(n),
            str(number),
            env=env(),
            stdout=asyncio.subprocess.PIPE,
        )
        for number in range(WRITERS)
    ]
    behind: list[float] = []
    while any(w.returncode is None for w in writers):
        behind.append(engine.describe()["seconds_since_caught_up"] * 1000)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(w.wait() for w in writers)), 0.25)
    outs = [orjson.loads((await w.stdout.read()).splitlines()[-1]) for w in writers if w.stdout]
    await asyncio.sleep(1)
    described = engine.describe()
    await engine.close()
    await db.dispose()
    shelf_dir.cleanup()
    return {
        "base_shared": shared,
        "target_orders_per_s": rate,
        "writers": WRITERS,
        "achieved_orders_per_s": round(sum(o["written"] for o in outs) / max(o["seconds"] for o in outs)),
        "batch_lag_ms": described["batch_lag_ms"],
        "since_caught_up_ms": {
            "p50": pctl(behind, 50),
            "p99": pctl(behind, 99),
            "max": round(max(behind), 1),
        },
        "bound_ms": 2000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--lag", type=int, default=0, help="orders/s for the lag run at the largest size")
    parser.add_argument("--lag-private", action="store_true", help="the lag run without the shelf")
    parser.add_argument("--writer", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--engine-only", action="store_true", help="skip serve and the SQL scans")
    parser.add_argument("--synthetic", type=int, default=0, help="engine query times on N made-up rows")
    parser.add_argument(
        "--share",
        type=int,
        default=0,
        help="memory of two serve processes, base shared and not, at N customers",
    )
    args = parser.parse_args()
    if args.writer:
        writer_main(float(args.writer[0]), float(args.writer[1]), int(args.writer[2]), int(args.writer[3]))
        return
    if args.share:
        try:
            log(f"loading {args.share:,} customers with COPY …")
            asyncio.run(load(args.share))
            result = {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()}
            result |= sharing(args.share)
        finally:
            asyncio.run(drop())
        result["load_average_at_end"] = os.getloadavg()
        text = json.dumps(result, indent=2)
        (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
        (ROOT / "bench" / "results" / "segments-share.json").write_text(text)
        print(text)
        return
    if args.synthetic:
        result = {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()}
        result |= synthetic(args.synthetic, args.runs)
        result["load_average_at_end"] = os.getloadavg()
        print(json.dumps(result, indent=2))
        return
    report: dict[str, Any] = {
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "machine": "shared with other engineers' test runs; figures are noisy",
        "runs_per_tree": args.runs,
        "warm": "3 warm-up calls first",
        "sizes": [],
    }
    sizes = [int(s) for s in args.sizes.split(",")]
    try:
        for n in sizes:
            lag = args.lag if n == sizes[-1] else 0
            report["sizes"].append(measure(n, args.runs, lag, args.engine_only, not args.lag_private))
    finally:
        asyncio.run(drop())
    report["load_average_at_end"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    name = "segments-engine-only.json" if args.engine_only else "segments.json"
    (ROOT / "bench" / "results" / name).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
