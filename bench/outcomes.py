"""Outcome figures on PostgreSQL: what attribution costs ingestion, how fast the pass catches up,
and the campaign report at 1M deliveries and 100k attributed orders.

1. Setup: 1,000,000 customers (COPY).
2. Ingestion, for a typical campaign (to one customer in ten, recorded sent a day ago) and then
   the worst case (a second campaign to everyone, so every order is credited): 100,000 new
   orders for random customers, written in batches of 1,000 by the ingestion writer (the
   worker's code path), without and then with the attribution pass running beside it in the
   same process (as it runs in a worker); twice each, alternating.
   Target: with attribution no more than 10% slower. Also: seconds from the last batch to
   the pass having credited everything. Last measured (2 cores shared with other engineers'
   tests, load average 1.5-5.7), alternating with the code before the pass became one
   statement: typical 19-25% slower (before: 28-51%), worst case 40-53% (before: 55-57%),
   caught up 9-12 s after the last batch (before: 23-28 s); at 200k customers typical 9-10%
   (before: 14-27%), worst 28-33% (before: 51-62%). What is left is the pass's database work
   taking its share of the two cores (docs/campaigns.md "Attribution").
3. Report: on the campaign to everyone (1M deliveries), after its orders are credited, `GET /campaigns/{id}/report`
   through a real `pulsecrm serve`, 500 times; p50/p95, beside `GET /campaigns/{id}` (the
   same row, the floor) measured the same way. Target p95 <= 100 ms.

    .venv/bin/python bench/outcomes.py [--customers 1000000] [--orders 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
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
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.customers.schemas import OrderIn
from pulsecrm.db import Database
from pulsecrm.ingest.writer import Entry, write_batch
from pulsecrm.outcomes import attribution
from pulsecrm.outcomes.runner import Attributor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ADMIN_URL, clean_env, copy_connection, create_key, free_port, fresh_database, wait_health

PULSECRM = str(Path(sys.executable).parent / "pulsecrm")
DB = "pulsecrm_bench_outcomes"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
RAW = f"postgresql://postgres@127.0.0.1:5432/{DB}"
NOW = datetime.now(UTC)


def log(*args: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *args, file=sys.stderr, flush=True)


def env(**extra: str) -> dict[str, str]:
    return clean_env(
        PULSECRM_DATABASE_URL=URL, PULSECRM_LOG_LEVEL="WARNING", PULSECRM_BACKGROUND_WORK="false", **extra
    )


async def setup(n: int) -> None:
    await fresh_database(DB, PULSECRM, env())
    conn = await copy_connection(RAW)
    # One customer in ten lives in Pune: the typical campaign's audience.
    rows = [
        (
            f"C{i:07d}",
            f"Person {i}",
            f"+91 9{i:09d}",
            "Pune" if i % 10 == 0 else "Mumbai",
            "{}",
            NOW,
            NOW,
            NOW,
        )
        for i in range(n)
    ]
    await conn.copy_records_to_table(
        "customers",
        records=rows,
        columns=[
            "external_id",
            "name",
            "phone",
            "city",
            "attributes",
            "created_at",
            "updated_at",
            "ingested_at",
        ],
    )
    await conn.execute("VACUUM ANALYZE customers")
    await conn.close()


async def launch(rules: dict[str, Any]) -> int:
    """A campaign to `rules`, recorded sent a day ago; returns its id."""
    from pulsecrm.campaigns import service
    from pulsecrm.config import Settings
    from pulsecrm.segments.catalog import build

    db = Database(URL)
    try:
        async with db.sessions() as session:
            campaign = await service.create(
                session,
                name="Everyone",
                channel="sms",
                message="Hi",
                subject=None,
                raw_rules=rules,
                segment_id=None,
                rate_limit=None,
                catalog=build({}),
                by="bench",
                attribution_days=5,
            )
            await session.commit()
            await service.launch(session, campaign.id, build({}), settings=Settings())
            await session.commit()
            cid = campaign.id
        sent_at = NOW - timedelta(days=1)
        async with db.engine.begin() as c:
            # As if the dispatcher had sent everything a day ago (the counters follow).
            await c.execute(
                sa.text(
                    "UPDATE deliveries SET status='sent', sent_at=:at, vendor_message_id='m' || id WHERE campaign_id=:c"
                ),
                {"at": sent_at, "c": cid},
            )
            await c.execute(
                sa.text(
                    "UPDATE campaigns SET sent=pending, pending=0, attribution_seeded=true, launched_at=:launched"
                    " WHERE id=:c"
                ),
                {"c": cid, "launched": sent_at - timedelta(minutes=5)},
            )
        async with db.engine.begin() as c:
            await attribution.catch_up(c, now=NOW)  # start the cursor
        async with db.engine.connect() as c:
            await c.execution_options(isolation_level="AUTOCOMMIT")
            await c.execute(sa.text("VACUUM ANALYZE deliveries"))
    finally:
        await db.dispose()
    return cid


def orders(n: int, customers: int, tag: str, rng: random.Random) -> list[OrderIn]:
    at = NOW - timedelta(hours=12)
    return [
        OrderIn(
            external_id=f"{tag}-{i}",
            customer_external_id=f"C{rng.randrange(customers):07d}",
            amount=Decimal(rng.randrange(100, 500_000)) / 100,
            ordered_at=at,
        )
        for i in range(n)
    ]


async def caught_up(db: Database) -> None:
    async def work(conn: AsyncConnection) -> bool:
        latest = await conn.scalar(sa.text("SELECT coalesce(max(seq), 0) FROM customer_changes"))
        cursor = await conn.scalar(sa.text("SELECT seq FROM feed_cursors WHERE name = 'attribution'"))
        marks = await conn.scalar(sa.text("SELECT count(*) FROM attribution_marks"))
        return bool(cursor == latest and marks == 0)

    while not await db.write(work):
        await asyncio.sleep(0.05)


async def ingest(n: int, customers: int, tag: str, *, with_attribution: bool) -> dict[str, Any]:
    db = Database(URL, pool_size=4)
    rng = random.Random(tag)
    records = orders(n, customers, tag, rng)
    stop = asyncio.Event()
    runner = None
    if with_attribution:
        from pulsecrm.config import Settings

        runner = asyncio.create_task(Attributor(db, Settings(attribution_interval_seconds=0.2)).run(stop))
    try:
        started = time.perf_counter()
        for i in range(0, n, 1_000):
            entry = Entry("orders", datetime.now(UTC), records[i : i + 1_000])
            await write_batch(db, [entry], default_currency="INR", consent_attributes={})
        seconds = time.perf_counter() - started
        result: dict[str, Any] = {
            "orders": n,
            "seconds": round(seconds, 2),
            "orders_per_s": round(n / seconds),
        }
        if runner is not None:
            await caught_up(db)
            result["attribution_done_seconds_after_last_batch"] = round(
                time.perf_counter() - started - seconds, 2
            )
        return result
    finally:
        stop.set()
        if runner is not None:
            await runner
        await db.dispose()


async def credit(customers: int, n: int) -> dict[str, Any]:
    """n orders credited to the campaign, through the pass (timed: the pass's own throughput)."""
    db = Database(URL, pool_size=2)
    try:
        rng = random.Random(7)
        for i in range(0, n, 10_000):
            batch = orders(min(10_000, n - i), customers, f"credit{i}", rng)
            await write_batch(
                db, [Entry("orders", datetime.now(UTC), batch)], default_currency="INR", consent_attributes={}
            )
        started = time.perf_counter()
        passes = 0
        while True:

            async def work(conn: AsyncConnection) -> int:
                return (await attribution.catch_up(conn, now=datetime.now(UTC), limit=5_000)).customers

            done = await db.write(work)
            passes += 1
            if not done:
                break
        seconds = time.perf_counter() - started
        async with db.engine.connect() as conn:
            credited = await conn.scalar(sa.text("SELECT count(*) FROM order_attributions"))
        return {"orders_credited": credited, "pass_seconds": round(seconds, 2), "passes": passes}
    finally:
        await db.dispose()


async def timed_gets(client: httpx.AsyncClient, path: str, n: int) -> dict[str, Any]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    times.sort()
    return {
        "requests": n,
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(n * 0.95) - 1], 2),
        "max_ms": round(times[-1], 2),
    }


async def report_latency(cid: int, n: int) -> dict[str, Any]:
    cwd = tempfile.mkdtemp(prefix="pulse-bench-outcomes-")
    e = env()
    key = create_key(PULSECRM, e, cwd)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [PULSECRM, "serve", "--port", str(port)],
        env=e,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_health(base, proc)
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
            await timed_gets(client, f"/api/v1/campaigns/{cid}/report", 20)  # warm up
            report = await timed_gets(client, f"/api/v1/campaigns/{cid}/report", n)
            floor = await timed_gets(client, f"/api/v1/campaigns/{cid}", n)
            body = (await client.get(f"/api/v1/campaigns/{cid}/report")).json()
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "report": report,
        "floor_get_campaign": floor,
        "deliveries": body["funnel"]["reachable"],
        "attributed_orders": body["attributed"]["orders"],
        "target_p95_ms": 100,
    }


async def compare(orders_n: int, customers: int, scenario: str) -> dict[str, Any]:
    """Ingestion without and with the pass, alternating, twice each; the best of each."""
    runs: dict[str, list[dict[str, Any]]] = {"without_attribution": [], "with_attribution": []}
    for round_ in range(2):
        for mode in ("without_attribution", "with_attribution"):
            log(f"{scenario}: ingesting {orders_n:,} orders, {mode}, round {round_ + 1}")
            result = await ingest(
                orders_n, customers, f"{scenario}-{mode}{round_}", with_attribution=mode == "with_attribution"
            )
            log(result)
            runs[mode].append(result)
    best = {mode: max(r["orders_per_s"] for r in results) for mode, results in runs.items()}
    return runs | {
        "best_orders_per_s": best,
        "slowdown": round(1 - best["with_attribution"] / best["without_attribution"], 3),
        "target_slowdown_at_most": 0.10,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    out: dict[str, Any] = {
        "cores": os.cpu_count(),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
    }
    log(f"setup: {args.customers:,} customers")
    await setup(args.customers)
    try:
        await measure(args, out)
    finally:
        admin = await asyncpg.connect(ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        finally:
            await admin.close()
    print(json.dumps(out, indent=2))


async def measure(args: argparse.Namespace, out: dict[str, Any]) -> None:
    # Typical: a campaign to one customer in ten, so most orders have no message to credit.
    # Worst: a second campaign to everyone, so every order is credited and every customer of
    # every ingested batch has a message the pass must look at.
    scenarios = {
        "typical_campaign_to_10_percent": {
            "op": "and",
            "rules": [{"field": "city", "cmp": "eq", "value": "Pune"}],
        },
        "worst_case_campaign_to_everyone": {"op": "and", "rules": []},
    }
    out["ingestion"] = {}
    cid = 0
    for scenario, rules in scenarios.items():
        log(f"{scenario}: launching")
        cid = await launch(rules)
        out["ingestion"][scenario] = await compare(args.orders, args.customers, scenario)
    log("crediting orders to the campaign")
    # The ingestion rounds credited some already; top up to the asked count.
    async with asyncpg.create_pool(RAW, min_size=1, max_size=1) as pool:
        have = await pool.fetchval("SELECT count(*) FROM order_attributions")
    out["credit"] = await credit(args.customers, max(0, args.orders - int(have)))
    log(out["credit"])
    log("timing the report")
    out["report"] = await report_latency(cid, args.requests)
    out["finished_load_average_1min"] = round(os.getloadavg()[0], 2)


if __name__ == "__main__":
    asyncio.run(main())
