"""Tracked-link redirects per second: `GET /r/<token>` on `pulsecrm serve --workers 2` with Redis,
on PostgreSQL in a database of its own, beside the floor measured the same way in the same run
(`GET /healthz`, the cheapest route through the app's full middleware).

A campaign of `--deliveries` messages with `--links` links each is made in-process (its
deliveries recorded as sent, its links stored as the dispatcher would), and a token is made for
every (delivery, link). A keep-alive HTTP/1.1 client of its own (asyncio streams, `--concurrency`
connections, no library between) sends `--requests` GETs round-robin over the tokens, then the
same number to /healthz. A `pulsecrm worker` applies the clicks from the receipts stream while
this runs; at the end every 302 must be an engagement event in the database.

    .venv/bin/python bench/redirects.py [--requests 50000] [--concurrency 64]

Prints one JSON object (also written to bench/results/redirects.json). The machine is shared:
read the figure beside the floor of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis

from pulsecrm.delivery import tokens

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ADMIN_URL, clean_env, copy_connection, fresh_database

ROOT = Path(__file__).resolve().parent.parent
PULSECRM = str(Path(sys.executable).parent / "pulsecrm")
DB = "pulsecrm_bench_redirects"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
RAW = f"postgresql://postgres@127.0.0.1:5432/{DB}"
REDIS = "redis://127.0.0.1:6379/0"
SESSION_SECRET = "bench-session-secret"  # noqa: S105
WEBHOOK_SECRET = "bench-webhook-secret"  # noqa: S105


def log(*args: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *args, file=sys.stderr, flush=True)


def env(public_url: str, prefix: str) -> dict[str, str]:
    return clean_env(
        PULSECRM_DATABASE_URL=URL,
        PULSECRM_LOG_LEVEL="WARNING",
        PULSECRM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PULSECRM_SESSION_SECRET=SESSION_SECRET,
        PULSECRM_PUBLIC_URL=public_url,
        PULSECRM_REDIS_URL=REDIS,
        PULSECRM_REDIS_PREFIX=prefix,
        PULSECRM_REDIS_ALLOW_VOLATILE="true",  # the shared Redis keeps nothing on disk
    )


async def prepare(deliveries: int, links: int, e: dict[str, str]) -> tuple[int, list[str], list[str]]:
    """A fresh database with one campaign, its deliveries and links; (campaign, tokens, urls)."""
    await fresh_database(DB, PULSECRM, e)
    now = datetime.now(UTC)
    conn = await copy_connection(RAW)
    try:
        await conn.copy_records_to_table(
            "customers",
            records=[
                (f"C{i:07d}", f"Person {i}", f"+91 9{i:09d}", "{}", now, now, now) for i in range(deliveries)
            ],
            columns=["external_id", "name", "phone", "attributes", "created_at", "updated_at", "ingested_at"],
        )
    finally:
        await conn.close()

    from pulsecrm.campaigns import service
    from pulsecrm.config import Settings
    from pulsecrm.db import Database
    from pulsecrm.delivery import store
    from pulsecrm.segments.catalog import build

    urls = [f"https://shop.example/item/{i}?utm_source=sms&utm_campaign=bench" for i in range(links)]
    db = Database(URL)
    try:
        async with db.sessions() as session:
            campaign = await service.create(
                session,
                name="Redirects",
                channel="sms",
                message="Hi {{ first_name }} " + " ".join(urls),
                subject=None,
                raw_rules={"op": "and", "rules": []},
                segment_id=None,
                rate_limit=None,
                catalog=build({}),
                by="bench",
            )
            await session.commit()
            cid = campaign.id
        async with db.engine.begin() as c:
            import sqlalchemy as sa

            # As the dispatcher leaves them: sent, with the campaign's links stored.
            await c.execute(
                sa.text(
                    "INSERT INTO deliveries (campaign_id, customer_id, status, attempts, vendor_message_id, "
                    "sent_at, updated_at) SELECT :cid, id, 'sent', 1, 'vm_' || id, :now, :now FROM customers"
                ),
                {"cid": cid, "now": now},
            )
            ids = await store.upsert_links(c, campaign_id=cid, urls=urls)
            delivery_ids = list((await c.execute(sa.text("SELECT id FROM deliveries ORDER BY id"))).scalars())
    finally:
        await db.dispose()
    key = tokens.key_for(Settings(_env_file=None, session_secret=SESSION_SECRET))  # type: ignore[call-arg]
    made = [tokens.make(key, cid, d, ids[u]) for d in delivery_ids for u in urls]
    random.Random(1).shuffle(made)
    return cid, made, urls


# --- the client ----------------------------------------------------------------------------------


class Result:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.bad_location = 0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    if length:
        await reader.readexactly(length)
    return status, headers


async def hammer(
    port: int, paths: list[str], total: int, concurrency: int, expect: int
) -> tuple[Result, float]:
    """`total` GETs over `concurrency` keep-alive connections, cycling through `paths`."""
    result = Result()
    next_i = 0
    host = f"127.0.0.1:{port}".encode()
    requests = [b"GET " + p.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n" for p in paths]

    async def connection() -> None:
        nonlocal next_i
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_i < total:
                i = next_i
                next_i += 1
                t = time.perf_counter()
                try:
                    writer.write(requests[i % len(requests)])
                    status, headers = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                result.latencies.append(time.perf_counter() - t)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 302 and not headers.get(b"location", b"").startswith(b"https://shop.example/"):
                    result.bad_location += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return result, time.perf_counter() - started


def summary(result: Result, seconds: float, ok_status: int) -> dict[str, Any]:
    lat = sorted(result.latencies)
    ok = result.statuses.get(ok_status, 0)
    return {
        "requests": len(lat) + result.errors,
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "errors": result.errors,
        "seconds": round(seconds, 2),
        "per_second": round(ok / seconds),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 2) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 2) if lat else None,
        "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else None,
    }


async def count_clicks(cid: int) -> int:
    conn = await asyncpg.connect(RAW)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM engagement_events WHERE campaign_id = $1 AND kind = 'clicked'", cid
            )
        )
    finally:
        await conn.close()


async def counters(cid: int) -> dict[str, int]:
    conn = await asyncpg.connect(RAW)
    try:
        row = await conn.fetchrow("SELECT opened, clicked FROM campaigns WHERE id = $1", cid)
        return dict(row)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--deliveries", type=int, default=5_000)
    parser.add_argument("--links", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    port = 18100 + random.randrange(800)
    prefix = f"pulsecrm-bench-redirects:{random.randrange(1 << 30):x}:"
    e = env(f"http://127.0.0.1:{port}", prefix)
    logs = Path(tempfile.mkdtemp(prefix="pulsecrm-bench-redirects-"))
    log("preparing", args.deliveries, "deliveries x", args.links, "links; logs in", logs)
    cid, made, _ = asyncio.run(prepare(args.deliveries, args.links, e))
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, cli: list[str]) -> None:
        out = (logs / f"{name}.log").open("ab")
        procs.append(subprocess.Popen([PULSECRM, *cli], env=e, stdout=out, stderr=out, cwd=logs))

    try:
        start("serve", ["serve", "--port", str(port), "--workers", str(args.workers)])
        start("worker", ["worker"])
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or procs[0].poll() is not None:
                raise RuntimeError(f"serve did not start; see {logs}")
            time.sleep(0.1)
        redirect_paths = [f"/r/{t}" for t in made]

        async def measure() -> dict[str, Any]:
            # Warm both (connections, the link cache of each web worker), then the real runs.
            await hammer(port, redirect_paths[:2000], 2000, args.concurrency, 302)
            await hammer(port, ["/healthz"], 2000, args.concurrency, 200)
            log("redirects:", args.requests)
            r, rs = await hammer(port, redirect_paths, args.requests, args.concurrency, 302)
            log("floor (/healthz):", args.requests)
            f, fs = await hammer(port, ["/healthz"], args.requests, args.concurrency, 200)
            return {"redirects": (r, rs), "floor": (f, fs)}

        runs = asyncio.run(measure())
        r, rs = runs["redirects"]
        f, fs = runs["floor"]
        expected = 2000 + r.statuses.get(302, 0)
        log("waiting for", expected, "clicks to be applied")
        waited = time.perf_counter()
        applied = 0
        while time.perf_counter() - waited < 120:
            applied = asyncio.run(count_clicks(cid))
            if applied >= expected:
                break
            time.sleep(0.5)
        apply_lag = time.perf_counter() - waited
        out = {
            "cores": os.cpu_count(),
            "web_workers": args.workers,
            "concurrency": args.concurrency,
            "tokens": len(made),
            "redirects": summary(r, rs, 302) | {"bad_location": r.bad_location},
            "floor_healthz": summary(f, fs, 200),
            "redirects_vs_floor": round(r.statuses.get(302, 0) / rs / (f.statuses.get(200, 0) / fs), 2),
            "clicks_expected": expected,
            "clicks_applied": applied,
            "all_applied": applied == expected,
            "seconds_until_applied": round(apply_lag, 2),
            "campaign_counters": asyncio.run(counters(cid)),
        }
        text = json.dumps(out, indent=2)
        (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
        (ROOT / "bench" / "results" / "redirects.json").write_text(text + "\n")
        print(text)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        with contextlib.suppress(Exception), redis.Redis.from_url(REDIS) as client:
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
        with contextlib.suppress(Exception):
            asyncio.run(_drop())


async def _drop() -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    finally:
        await admin.close()


if __name__ == "__main__":
    main()
