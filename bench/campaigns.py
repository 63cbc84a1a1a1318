"""Campaign figures on PostgreSQL + Redis: launch, sending, receipts, settle time.

1. Launch: freeze a 1,000,000-customer audience (one INSERT ... SELECT), timed in-process.
2. Send: a ~200,000-message campaign through real `serve`, `worker` and `vendor` processes on
   loopback; messages/s to the vendor, and launch -> completed ("settled").
3. Receipts: 200,000 signed receipts POSTed to the webhook in batches of 1,000 (4 connections),
   until every one is applied; receipts/s end to end.

    .venv/bin/python bench/campaigns.py [--customers 1000000] [--receipts 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from pulsecrm.delivery.receipts import sign

ROOT = Path(__file__).resolve().parent.parent
PULSECRM = str(Path(sys.executable).parent / "pulsecrm")
ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
DB = "pulsecrm_bench_campaigns"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
RAW = f"postgresql://postgres@127.0.0.1:5432/{DB}"
SECRET = "bench-webhook-secret"  # noqa: S105
NOW = datetime.now(UTC)


def log(*args: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *args, file=sys.stderr, flush=True)


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("PULSECRM_")}
    e.update(PULSECRM_DATABASE_URL=URL, PULSECRM_LOG_LEVEL="WARNING", PULSECRM_WEBHOOK_SECRET=SECRET, **extra)
    return e


async def load(n: int) -> None:
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DB}"')
    await admin.close()
    subprocess.run([PULSECRM, "migrate"], env=env(), check=True, capture_output=True)
    rng = random.Random(3)
    rows = []
    for i in range(n):
        created = NOW - timedelta(days=rng.uniform(0, 1000))
        rows.append((f"C{i:07d}", f"Person {i}", f"+91 9{i:09d}", "{}", created, created, NOW))
    conn = await asyncpg.connect(RAW)
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda t: b"\x01" + t.encode(),
        decoder=lambda b: b[1:].decode(),
        schema="pg_catalog",
        format="binary",
    )
    await conn.copy_records_to_table(
        "customers",
        records=rows,
        columns=["external_id", "name", "phone", "attributes", "created_at", "updated_at", "ingested_at"],
    )
    await conn.execute("VACUUM ANALYZE customers")
    await conn.close()


async def launch_everyone() -> dict[str, Any]:
    """Create and launch a campaign to every customer in-process; time the launch itself."""
    from pulsecrm.campaigns import service
    from pulsecrm.config import Settings
    from pulsecrm.db import Database
    from pulsecrm.segments.catalog import build

    db = Database(URL)
    try:
        async with db.sessions() as session:
            campaign = await service.create(
                session,
                name="Everyone",
                channel="sms",
                message="Hi {{ first_name }}",
                subject=None,
                raw_rules={"op": "and", "rules": []},
                segment_id=None,
                rate_limit=None,
                catalog=build({}),
                by="bench",
            )
            await session.commit()
            started = time.perf_counter()
            launched = await service.launch(session, campaign.id, build({}), settings=Settings())
            await session.commit()
            seconds = time.perf_counter() - started
            audience = launched.audience
            await service.change(session, campaign.id, "cancel")  # don't send a million messages
            await session.commit()
        async with db.engine.begin() as conn:
            from sqlalchemy import text

            await conn.execute(text("DELETE FROM deliveries"))
            await conn.execute(text("DELETE FROM campaigns"))
        return {"audience": audience, "seconds": round(seconds, 2)}
    finally:
        await db.dispose()


def start(name: str, args: list[str], e: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    out = (logs / f"{name}.log").open("ab")
    return subprocess.Popen([PULSECRM, *args], env=e, stdout=out, stderr=out, cwd=logs)


def wait_up(url: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def send_and_settle(days: int, logs: Path) -> dict[str, Any]:
    prefix = f"pulsecrm-bench-campaigns:{random.randrange(1 << 30):x}:"
    api_port, vendor_port = 18500 + random.randrange(400), 19000 + random.randrange(400)
    e = env(
        PULSECRM_REDIS_URL="redis://127.0.0.1:6379/0",
        PULSECRM_REDIS_PREFIX=prefix,
        PULSECRM_REDIS_ALLOW_VOLATILE="true",  # the shared Redis keeps nothing on disk
        PULSECRM_VENDOR_URL=f"http://127.0.0.1:{vendor_port}",
        PULSECRM_VENDOR_PORT=str(vendor_port),
        PULSECRM_VENDOR_WEBHOOK_URL=f"http://127.0.0.1:{api_port}/api/v1/receipts",
        PULSECRM_VENDOR_MIN_DELAY_MS="10",
        PULSECRM_VENDOR_MAX_DELAY_MS="200",
        PULSECRM_VENDOR_SEED="1",
    )
    procs = [
        start("vendor", ["vendor", "--port", str(vendor_port)], e, logs),
        start("serve", ["serve", "--port", str(api_port)], e, logs),
    ]
    try:
        wait_up(f"http://127.0.0.1:{vendor_port}")
        wait_up(f"http://127.0.0.1:{api_port}")
        key = (
            subprocess.run(
                [PULSECRM, "apikey", "create", "--name", "bench"],
                env=e,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {key}"}, timeout=120
        )
        rules = {"op": "and", "rules": [{"field": "created_at", "cmp": "within_last_days", "value": days}]}
        cid = api.post(
            "/api/v1/campaigns",
            json={
                "name": "Send bench",
                "message": "Hi {{ first_name }}, your order ships today.",
                "rules": rules,
            },
        ).json()["id"]
        procs.append(start("worker", ["worker"], e, logs))
        time.sleep(1.5)  # let the worker start before the clock does
        t0 = time.perf_counter()
        launched = api.post(f"/api/v1/campaigns/{cid}/launch")
        audience = launched.json()["stats"]["audience"]
        launch_s = time.perf_counter() - t0
        sent_at = settled_at = None
        while time.perf_counter() - t0 < 600:
            s = api.get(f"/api/v1/campaigns/{cid}").json()
            if sent_at is None and s["stats"]["pending"] == 0:
                sent_at = time.perf_counter()
            if s["status"] == "completed":
                settled_at = time.perf_counter()
                break
            time.sleep(0.25)
        stats = api.get(f"/api/v1/campaigns/{cid}").json()["stats"]
        assert sent_at and settled_at, stats
        return {
            "audience": audience,
            "launch_http_seconds": round(launch_s, 2),
            "send_seconds": round(sent_at - t0, 2),
            "messages_per_s": round(audience / (sent_at - t0)),
            "settle_seconds": round(settled_at - t0, 2),
            "delivery_rate": stats["delivery_rate"],
            "final": stats,
            "api_workers": 1,
            "stream_workers": 1,
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


async def receipts_bench(count: int, logs: Path) -> dict[str, Any]:
    """Mark `count` deliveries sent with known ids, then POST signed receipts for all of them."""
    prefix = f"pulsecrm-bench-receipts:{random.randrange(1 << 30):x}:"
    api_port = 18950 + random.randrange(40)
    e = env(
        PULSECRM_REDIS_URL="redis://127.0.0.1:6379/0",
        PULSECRM_REDIS_PREFIX=prefix,
        PULSECRM_REDIS_ALLOW_VOLATILE="true",  # the shared Redis keeps nothing on disk
        PULSECRM_VENDOR_URL="http://127.0.0.1:9",
    )  # nothing to send: deliveries are pre-sent
    conn = await asyncpg.connect(RAW)
    await conn.execute("DELETE FROM deliveries; DELETE FROM campaigns; DELETE FROM parked_receipts")
    cid = await conn.fetchval(
        "INSERT INTO campaigns (name, status, channel, message, rules, audience, unsubscribed_excluded, pending, "
        "sent, delivered, failed, unknown, cancelled, created_by, created_at, updated_at) VALUES ('Receipts', "
        "'running', 'sms', 'x', '{}', $1, 0, 0, $1, 0, 0, 0, 0, 'bench', now(), now()) RETURNING id",
        count,
    )
    await conn.execute(
        "INSERT INTO deliveries (campaign_id, customer_id, status, attempts, vendor_message_id, sent_at, updated_at,"
        " maybe_sent) SELECT $1, id, 'sent', 1, 'vm_' || id, now(), now(), false FROM customers ORDER BY id "
        "LIMIT $2",
        cid,
        count,
    )
    ids = [
        r[0] for r in await conn.fetch("SELECT vendor_message_id FROM deliveries WHERE campaign_id = $1", cid)
    ]
    await conn.execute("VACUUM ANALYZE deliveries")
    occurred = NOW.isoformat()
    bodies = [
        orjson.dumps(
            {
                "receipts": [
                    {
                        "message_id": m,
                        "status": "delivered" if k % 10 else "failed",
                        "occurred_at": occurred,
                        **({} if k % 10 else {"reason": "blocked"}),
                    }
                    for k, m in enumerate(ids[i : i + 1000])
                ]
            }
        )
        for i in range(0, len(ids), 1000)
    ]
    procs = [
        start("receipts-serve", ["serve", "--port", str(api_port)], e, logs),
        start("receipts-worker", ["worker"], e, logs),
    ]
    try:
        wait_up(f"http://127.0.0.1:{api_port}")
        await asyncio.sleep(1.5)
        queue = list(bodies)
        t0 = time.perf_counter()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=60) as client:

            async def pump() -> None:
                while queue:
                    body = queue.pop()
                    r = await client.post(
                        "/api/v1/receipts",
                        content=body,
                        headers={"X-Pulse-Signature": sign(SECRET, body), "content-type": "application/json"},
                    )
                    assert r.status_code == 202, r.text

            await asyncio.gather(*(pump() for _ in range(4)))
        accepted_s = time.perf_counter() - t0
        while time.perf_counter() - t0 < 300:
            settled = await conn.fetchval("SELECT delivered + failed FROM campaigns WHERE id = $1", cid)
            if settled >= count:
                break
            await asyncio.sleep(0.1)
        total_s = time.perf_counter() - t0
        status = await conn.fetchval("SELECT status FROM campaigns WHERE id = $1", cid)
        return {
            "receipts": count,
            "accepted_per_s": round(count / accepted_s),
            "end_to_end_per_s": round(count / total_s),
            "seconds": round(total_s, 2),
            "campaign_status": status,
            "batch": 1000,
            "connections": 4,
        }
    finally:
        await conn.close()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--send-days", type=int, default=73, help="created_at window: ~7.3% of customers")
    parser.add_argument("--receipts", type=int, default=200_000)
    args = parser.parse_args()
    report: dict[str, Any] = {"cores": os.cpu_count(), "customers": args.customers}
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        log(f"loading {args.customers:,} customers with COPY")
        asyncio.run(load(args.customers))
        log("launching everyone")
        report["launch"] = asyncio.run(launch_everyone())
        log(report["launch"])
        log("sending a campaign through serve + worker + vendor")
        report["send"] = send_and_settle(args.send_days, logs)
        log(report["send"])
        log("receipts through the webhook")
        report["receipts"] = asyncio.run(receipts_bench(args.receipts, logs))
        log(report["receipts"])
    text = json.dumps(report, indent=2)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "campaigns.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
