"""Campaign figures on PostgreSQL + Redis: launch, sending, receipts, settle time.

1. Launch: freeze a 1,000,000-customer audience (one INSERT ... SELECT), timed in-process,
   with the CPU time its PostgreSQL backend spent (steadier than the time on a loaded machine);
   beside it, the floor: the same rows into a scratch table, bare and with the three indexes.
2. Send: a ~200,000-message campaign through real `serve`, `worker` and `vendor` processes on
   loopback; messages/s to the vendor, and launch -> completed ("settled").
3. Receipts: 200,000 signed receipts POSTed to the webhook in batches of 1,000 (4 connections),
   until every one is applied; receipts/s end to end.
4. Workers: the same campaign through the vendor with 1, then 2 `pulsecrm worker` processes
   (target: >= 10,000 messages/s with 2), beside the floor measured in the same run: the
   vendor's own accept rate, batches of 1,000 POSTed to it directly with httpx.
5. Outage: a rate-limited campaign loses its vendor (SIGKILL) and gets it back: seconds from
   the death to the campaign paused by the error policy, and from the return to the first
   send the new vendor process receives (the probe runs every PULSECRM_DELIVERY_PROBE_SECONDS).
6. SMTP: e-mail to a local aiosmtpd (a sink in its own process) through real `serve` + one
   `worker` with email_transport=smtp, through SmtpChannel alone, and the floor (aiosmtplib
   alone, same pool size), per pool size.

The machine is shared with other engineers' builds and tests while this runs: the figures
are what a loaded 2-core machine did, not a quiet one.

    .venv/bin/python bench/campaigns.py [--customers 1000000] [--receipts 200000]
        [--only launch,send,receipts,workers,outage,smtp]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import httpx
import orjson

from pulsecrm.delivery.channels import OutboundMessage, Sent
from pulsecrm.delivery.channels.smtp import SmtpChannel, SmtpConfig
from pulsecrm.delivery.receipts import sign

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import clean_env, copy_connection, fresh_database

ROOT = Path(__file__).resolve().parent.parent
PULSECRM = str(Path(sys.executable).parent / "pulsecrm")
DB = "pulsecrm_bench_campaigns"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
RAW = f"postgresql://postgres@127.0.0.1:5432/{DB}"
SECRET = "bench-webhook-secret"  # noqa: S105
NOW = datetime.now(UTC)
SMTP_FROM = "Pulse Shop <news@shop.example>"


def log(*args: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *args, file=sys.stderr, flush=True)


def env(**extra: str) -> dict[str, str]:
    return clean_env(
        PULSECRM_DATABASE_URL=URL, PULSECRM_LOG_LEVEL="WARNING", PULSECRM_WEBHOOK_SECRET=SECRET, **extra
    )


async def load(n: int) -> None:
    await fresh_database(DB, PULSECRM, env())
    rng = random.Random(3)
    rows = []
    for i in range(n):
        created = NOW - timedelta(days=rng.uniform(0, 1000))
        rows.append((f"C{i:07d}", f"Person {i}", f"+91 9{i:09d}", "{}", created, created, NOW))
    conn = await copy_connection(RAW)
    await conn.copy_records_to_table(
        "customers",
        records=rows,
        columns=["external_id", "name", "phone", "attributes", "created_at", "updated_at", "ingested_at"],
    )
    await conn.execute("VACUUM ANALYZE customers")
    await conn.close()


def backend_cpu(pid: int) -> float | None:
    """CPU seconds the PostgreSQL backend `pid` has used (it runs on this machine), or None; not
    its parallel workers'. On a shared machine the launch's wall time swings with the load, the
    backend's CPU time much less."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def launch_everyone() -> dict[str, Any]:
    """Create and launch a campaign to every customer in-process; time the launch itself, and
    the CPU time its PostgreSQL backend spent on it."""
    from sqlalchemy import text

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
            backend = await session.scalar(text("SELECT pg_backend_pid()"))  # the launch's transaction
            cpu_before = backend_cpu(backend)
            started = time.perf_counter()
            launched = await service.launch(session, campaign.id, build({}), settings=Settings())
            await session.commit()
            seconds = time.perf_counter() - started
            cpu_after = backend_cpu(backend)
            audience = launched.audience
            await service.change(session, campaign.id, "cancel")  # don't send a million messages
            await session.commit()
        async with db.engine.begin() as conn:
            await conn.execute(text("DELETE FROM deliveries"))
            await conn.execute(text("DELETE FROM campaigns"))
        cpu = None if cpu_before is None or cpu_after is None else round(cpu_after - cpu_before, 2)
        return {"audience": audience, "seconds": round(seconds, 2), "postgres_cpu_seconds": cpu}
    finally:
        await db.dispose()


async def launch_floor() -> dict[str, Any]:
    """The floor a launch is compared with, in the same run: the same million rows written by
    a bare INSERT ... SELECT into a scratch copy of `deliveries` with no index at all, then
    with the launch's three (primary key, customer + campaign, campaign + status + id)."""
    conn = await asyncpg.connect(RAW)
    rows = """
        INSERT INTO launch_floor (campaign_id, customer_id, status, attempts, updated_at)
        SELECT 1, id, 'pending', 0, now() FROM customers"""
    out: dict[str, Any] = {}
    try:
        await conn.execute("DROP TABLE IF EXISTS launch_floor")
        await conn.execute(
            "CREATE TABLE launch_floor (LIKE deliveries INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            " WITH (fillfactor = 80)"
        )
        await conn.execute(rows)  # a first fill, so both timed runs reuse the same pages
        for label, index in (
            ("unindexed_seconds", None),
            (
                "three_indexes_seconds",
                "ALTER TABLE launch_floor ADD PRIMARY KEY (id), ADD UNIQUE (customer_id, campaign_id);"
                " CREATE INDEX ON launch_floor (campaign_id, status, id)",
            ),
        ):
            await conn.execute("TRUNCATE launch_floor")
            if index:
                await conn.execute(index)
            started = time.perf_counter()
            await conn.execute(rows)
            out[label] = round(time.perf_counter() - started, 2)
    finally:
        await conn.execute("DROP TABLE IF EXISTS launch_floor")
        await conn.close()
    return out


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """A vendor and `serve` on free ports, workers added on demand; all stopped by `close`."""

    def __init__(self, logs: Path, **extra: str) -> None:
        self.logs = logs
        self.api_port, self.vendor_port = free_port(), free_port()
        self.vendor_url = f"http://127.0.0.1:{self.vendor_port}"
        self.env = env(
            PULSECRM_REDIS_URL="redis://127.0.0.1:6379/0",
            PULSECRM_REDIS_PREFIX=f"pulsecrm-bench-campaigns:{random.randrange(1 << 30):x}:",
            PULSECRM_REDIS_ALLOW_VOLATILE="true",  # the shared Redis keeps nothing on disk
            PULSECRM_VENDOR_URL=self.vendor_url,
            PULSECRM_VENDOR_PORT=str(self.vendor_port),
            PULSECRM_VENDOR_WEBHOOK_URL=f"http://127.0.0.1:{self.api_port}/api/v1/receipts",
            PULSECRM_VENDOR_MIN_DELAY_MS="10",
            PULSECRM_VENDOR_MAX_DELAY_MS="200",
            **extra,
        )
        self.vendor = self.start_vendor()
        self.serve = start("serve", ["serve", "--port", str(self.api_port)], self.env, logs)
        self.workers: list[subprocess.Popen[bytes]] = []
        wait_up(f"http://127.0.0.1:{self.api_port}")
        key = (
            subprocess.run(
                [PULSECRM, "apikey", "create", "--name", "bench"],
                env=self.env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        self.api = httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
        )

    def start_vendor(self) -> subprocess.Popen[bytes]:
        vendor = start("vendor", ["vendor", "--port", str(self.vendor_port)], self.env, self.logs)
        wait_up(self.vendor_url)
        return vendor

    def add_worker(self) -> None:
        self.workers.append(start(f"worker-{len(self.workers)}", ["worker"], self.env, self.logs))

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            worker.wait(timeout=30)
        self.workers = []

    def launch(self, name: str, days: int, rate_limit: int | None = None) -> tuple[int, int, float]:
        """(campaign id, audience, seconds the launch request took)."""
        rules = {"op": "and", "rules": [{"field": "created_at", "cmp": "within_last_days", "value": days}]}
        body = {"name": name, "message": "Hi {{ first_name }}, your order ships today.", "rules": rules}
        cid = int(self.api.post("/api/v1/campaigns", json={**body, "rate_limit": rate_limit}).json()["id"])
        t0 = time.perf_counter()
        launched = self.api.post(f"/api/v1/campaigns/{cid}/launch")
        assert launched.status_code == 202, launched.text
        return cid, int(launched.json()["stats"]["audience"]), time.perf_counter() - t0

    def campaign(self, cid: int) -> dict[str, Any]:
        return dict(self.api.get(f"/api/v1/campaigns/{cid}").json())

    def close(self) -> None:
        self.api.close()
        self.stop_workers()
        for proc in (self.serve, self.vendor):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)


async def vendor_direct(url: str, batches: int, concurrency: int = 4) -> dict[str, Any]:
    """The floor: the vendor's accept rate with nothing of Pulse in the way, batches of 1,000
    with new keys, `concurrency` requests in flight (the dispatcher's default)."""
    run = f"{random.randrange(1 << 30):x}"
    bodies = [
        orjson.dumps(
            {
                "messages": [
                    {
                        "idempotency_key": f"direct-{run}-{b}-{i}",
                        "to": f"+91 9{i:09d}",
                        "channel": "sms",
                        "subject": None,
                        "body": "Hi Person, your order ships today.",
                    }
                    for i in range(1000)
                ]
            }
        )
        for b in range(batches)
    ]
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def pump() -> None:
            while bodies:
                r = await client.post(
                    "/v1/messages/batch", content=bodies.pop(), headers={"content-type": "application/json"}
                )
                assert r.status_code == 200, r.text

        t0 = time.perf_counter()
        await asyncio.gather(*(pump() for _ in range(concurrency)))
        seconds = time.perf_counter() - t0
    return {
        "messages": batches * 1000,
        "seconds": round(seconds, 2),
        "messages_per_s": round(batches * 1000 / seconds),
    }


def workers_bench(days: int, logs: Path) -> dict[str, Any]:
    """One unlimited campaign per worker count, launch -> nothing pending; the vendor floor."""
    stack = Stack(logs)
    report: dict[str, Any] = {}
    try:
        report["floor_vendor_direct"] = asyncio.run(vendor_direct(stack.vendor_url, batches=50))
        log("vendor alone", report["floor_vendor_direct"])
        for n in (1, 2):
            for _ in range(n):
                stack.add_worker()
            time.sleep(2)  # let the workers start before the clock does
            t0 = time.perf_counter()
            cid, audience, launch_s = stack.launch(f"{n} workers", days)
            while stack.campaign(cid)["stats"]["pending"] > 0:
                assert time.perf_counter() - t0 < 900, stack.campaign(cid)
                time.sleep(0.1)
            seconds = time.perf_counter() - t0
            report[f"workers_{n}"] = {
                "workers": n,
                "audience": audience,
                "launch_http_seconds": round(launch_s, 2),
                "send_seconds": round(seconds, 2),
                "messages_per_s": round(audience / seconds),
            }
            log(report[f"workers_{n}"])
            stack.stop_workers()
        report["target_messages_per_s_with_2_workers"] = 10_000
        return report
    finally:
        stack.close()


def outage_bench(days: int, logs: Path, rate: int, down: float) -> dict[str, Any]:
    """Seconds from vendor death to the campaign paused, and from its return to sending again."""
    key_log = logs / "vendor-keys.jsonl"
    stack = Stack(logs, PULSECRM_VENDOR_LOG_PATH=str(key_log), PULSECRM_VENDOR_SUCCESS_RATE="1")
    try:
        stack.add_worker()
        time.sleep(2)
        cid, audience, _ = stack.launch("Outage", days, rate_limit=rate)
        while stack.campaign(cid)["stats"]["pending"] > audience - 2 * rate:
            time.sleep(0.05)
        stack.vendor.kill()
        stack.vendor.wait()
        died = time.perf_counter()
        while (c := stack.campaign(cid))["status"] != "paused":
            assert time.perf_counter() - died < 60, c
            time.sleep(0.05)
        to_paused = time.perf_counter() - died
        reason = c["pause"]["reason"]
        time.sleep(max(0.0, down - (time.perf_counter() - died)))
        stack.vendor = stack.start_vendor()
        back = time.perf_counter()
        while httpx.get(f"{stack.vendor_url}/v1/stats").json()["requests"] == 0:
            assert time.perf_counter() - back < 60
            time.sleep(0.05)
        to_sending = time.perf_counter() - back
        time.sleep(2)
        c = stack.campaign(cid)
        stack.api.post(f"/api/v1/campaigns/{cid}/cancel")  # the figures are in; the rest is rate
        return {
            "audience": audience,
            "rate_limit": rate,
            "vendor_down_seconds": down,
            "death_to_paused_seconds": round(to_paused, 2),
            "return_to_sending_seconds": round(to_sending, 2),
            "probe_seconds": 2.0,
            "pause_reason": reason,
            "failed_by_the_outage": c["stats"]["failed"],
            "status_2s_after_return": c["status"],
        }
    finally:
        stack.close()


# --- SMTP -----------------------------------------------------------------------------------------


def smtp_messages(n: int) -> list[OutboundMessage]:
    return [
        OutboundMessage(
            delivery_id=i,
            campaign_id=1,
            channel="email",
            to=f"person{i}@example.com",
            subject=f"Your offer, person {i}",
            body=f"Hello person {i},\n\n20% off everything this week.\n\nThe shop",
            unsubscribe_url=f"http://127.0.0.1:8000/u/{i}",
        )
        for i in range(n)
    ]


async def smtp_channel_rate(port: int, messages: list[OutboundMessage], pool: int) -> dict[str, Any]:
    """Pulse's SmtpChannel: batches of 1,000 (the dispatcher's size), rendering included."""
    channel = SmtpChannel(
        SmtpConfig(host="127.0.0.1", port=port, security="none", sender=SMTP_FROM, pool_size=pool)
    )
    try:
        started = time.perf_counter()
        sent = 0
        for i in range(0, len(messages), 1000):
            sent += sum(isinstance(o, Sent) for o in await channel.send_batch(messages[i : i + 1000]))
        elapsed = time.perf_counter() - started
    finally:
        await channel.close()
    return {"sent": sent, "seconds": round(elapsed, 2), "messages_per_s": round(sent / elapsed)}


async def smtp_floor_rate(port: int, messages: list[OutboundMessage], pool: int) -> dict[str, Any]:
    """The floor: aiosmtplib alone, `pool` connections each sending its share of the same
    messages, already rendered (no Pulse code, no building of e-mails in the timed part)."""
    render = SmtpChannel(SmtpConfig(host="127.0.0.1", port=port, sender=SMTP_FROM)).render
    wire = [(m.to, render(m)) for m in messages]
    conns = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) for _ in range(pool)]
    for conn in conns:
        await conn.connect()

    async def lane(conn: aiosmtplib.SMTP, share: list[tuple[str, bytes]]) -> int:
        for to, content in share:
            await conn.sendmail("news@shop.example", [to], content)
        return len(share)

    try:
        started = time.perf_counter()
        sent = sum(await asyncio.gather(*(lane(c, wire[k::pool]) for k, c in enumerate(conns))))
        elapsed = time.perf_counter() - started
    finally:
        for conn in conns:
            await conn.quit()
    return {"sent": sent, "seconds": round(elapsed, 2), "messages_per_s": round(sent / elapsed)}


SMTP_DB = "pulsecrm_bench_smtp"


async def load_email_customers(n: int, e: dict[str, str]) -> None:
    """A database of its own with `n` customers who have an e-mail address (consent unknown,
    which may be messaged by default)."""
    await fresh_database(SMTP_DB, PULSECRM, e)
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{SMTP_DB}")
    try:
        await conn.copy_records_to_table(
            "customers",
            records=[
                (f"E{i:07d}", f"Person {i}", f"person{i}@example.com", "{}", NOW, NOW, NOW) for i in range(n)
            ],
            columns=["external_id", "name", "email", "attributes", "created_at", "updated_at", "ingested_at"],
        )
    finally:
        await conn.close()


def smtp_worker_rate(n: int, pool: int, smtp_port: int, logs: Path) -> dict[str, Any]:
    """An e-mail campaign to `n` customers through real `serve` and one `pulsecrm worker`, whose
    SMTP pool has `pool` connections: messages/s from launch to nothing pending (all sent)."""
    api_port = free_port()
    e = env(
        PULSECRM_REDIS_URL="redis://127.0.0.1:6379/0",
        PULSECRM_REDIS_PREFIX=f"pulsecrm-bench-smtp:{random.randrange(1 << 30):x}:",
        PULSECRM_REDIS_ALLOW_VOLATILE="true",  # the shared Redis keeps nothing on disk
        PULSECRM_EMAIL_TRANSPORT="smtp",
        PULSECRM_SMTP_HOST="127.0.0.1",
        PULSECRM_SMTP_PORT=str(smtp_port),
        PULSECRM_SMTP_SECURITY="none",
        PULSECRM_SMTP_FROM=SMTP_FROM,
        PULSECRM_SMTP_POOL_SIZE=str(pool),
    ) | {"PULSECRM_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{SMTP_DB}"}
    asyncio.run(load_email_customers(n, e))
    procs = [start("serve", ["serve", "--port", str(api_port)], e, logs)]
    try:
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
        body = {
            "name": "SMTP bench",
            "channel": "email",
            "subject": "Your offer, {{ first_name }}",
            "message": "Hello {{ first_name }},\n\n20% off everything this week.\n\nThe shop",
            "rules": {"op": "and", "rules": []},
        }
        cid = api.post("/api/v1/campaigns", json=body).json()["id"]
        procs.append(start("worker", ["worker"], e, logs))
        time.sleep(2)  # let the worker start before the clock does
        t0 = time.perf_counter()
        audience = api.post(f"/api/v1/campaigns/{cid}/launch").json()["stats"]["audience"]
        while time.perf_counter() - t0 < 600:
            stats = api.get(f"/api/v1/campaigns/{cid}").json()["stats"]
            if stats["pending"] == 0:
                break
            time.sleep(0.1)
        elapsed = time.perf_counter() - t0
        assert stats["pending"] == 0 and stats["sent"] == audience == n, stats
        return {
            "sent": stats["sent"],
            "seconds": round(elapsed, 2),
            "messages_per_s": round(n / elapsed),
            "workers": 1,
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


def smtp_bench(n: int, pools: list[int], logs: Path, *, with_worker: bool = True) -> dict[str, Any]:
    """Sending e-mail over SMTP to a local aiosmtpd (its own process, a sink), per pool size:

    - `pulse_worker`: a campaign through real `serve` + one `worker` (launch to all sent);
    - `pulse_smtp_channel`: SmtpChannel.send_batch in batches of 1,000, in this process;
    - `floor_aiosmtplib_direct`: aiosmtplib alone, same pool size, messages rendered beforehand.

    The last two run twice, alternating, and the better run is kept; all in the same run.
    """
    port = free_port()
    out = (logs / "aiosmtpd.log").open("ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=out,
        stderr=out,
        cwd=logs,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "aiosmtpd did not start"
                time.sleep(0.1)
        messages = smtp_messages(n)
        report: dict[str, Any] = {
            "messages": n,
            "server": "aiosmtpd Sink, own process",
            # The machine is shared: how busy it was says how far to trust the absolute figures.
            "load_average_1m_at_start": round(os.getloadavg()[0], 1),
            "by_pool": {},
        }
        for pool in pools:
            runs: dict[str, list[dict[str, Any]]] = {"pulse_smtp_channel": [], "floor_aiosmtplib_direct": []}
            for _ in range(2):
                runs["pulse_smtp_channel"].append(asyncio.run(smtp_channel_rate(port, messages, pool)))
                runs["floor_aiosmtplib_direct"].append(asyncio.run(smtp_floor_rate(port, messages, pool)))
            best: dict[str, Any] = {k: max(v, key=lambda r: r["messages_per_s"]) for k, v in runs.items()}
            if with_worker:
                best["pulse_worker"] = smtp_worker_rate(n, pool, port, logs)
            floor = best["floor_aiosmtplib_direct"]["messages_per_s"]
            best["share_of_floor"] = {
                k: round(best[k]["messages_per_s"] / floor, 2)
                for k in ("pulse_smtp_channel", "pulse_worker")
                if k in best
            }
            report["by_pool"][str(pool)] = best
            log(f"smtp pool {pool}: {best}")
        return report
    finally:
        server.terminate()
        server.wait(timeout=10)
        out.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--send-days", type=int, default=73, help="created_at window: ~7.3% of customers")
    parser.add_argument("--receipts", type=int, default=200_000)
    parser.add_argument("--outage-rate", type=int, default=500, help="rate_limit of the outage campaign")
    parser.add_argument("--outage-seconds", type=float, default=10.0, help="how long the vendor stays down")
    parser.add_argument("--smtp-messages", type=int, default=5_000)
    parser.add_argument("--smtp-pools", default="1,4", help="SMTP pool sizes to measure, comma-separated")
    parser.add_argument(
        "--smtp-no-worker",
        action="store_true",
        help="SMTP without the serve+worker case (no PostgreSQL/Redis)",
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections to run, comma-separated")
    args = parser.parse_args()
    only = set(args.only.split(","))
    report: dict[str, Any] = {
        "cores": os.cpu_count(),
        "customers": args.customers,
        "machine": "shared with other engineers' builds and tests while measured (loaded)",
        "load_average_1min_at_start": round(os.getloadavg()[0], 1),
    }
    pools = [int(p) for p in args.smtp_pools.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        if only & {"launch", "send", "receipts", "workers", "outage"}:
            log(f"loading {args.customers:,} customers with COPY")
            asyncio.run(load(args.customers))
        if "launch" in only:
            log("launching everyone")
            report["launch"] = asyncio.run(launch_everyone())
            report["launch"]["floor"] = asyncio.run(launch_floor())
            log(report["launch"])
        if "send" in only:
            log("sending a campaign through serve + worker + vendor")
            report["send"] = send_and_settle(args.send_days, logs)
            log(report["send"])
        if "receipts" in only:
            log("receipts through the webhook")
            report["receipts"] = asyncio.run(receipts_bench(args.receipts, logs))
            log(report["receipts"])
        if "workers" in only:
            log("sending through the vendor with 1 and 2 workers")
            report["workers"] = workers_bench(args.send_days, logs)
        if "outage" in only:
            log("killing the vendor mid-campaign")
            report["outage"] = outage_bench(args.send_days, logs, args.outage_rate, args.outage_seconds)
            log(report["outage"])
        if "smtp" in only:
            log("e-mail over SMTP to a local aiosmtpd")
            report["smtp"] = smtp_bench(args.smtp_messages, pools, logs, with_worker=not args.smtp_no_worker)
    report["load_average_1min_at_end"] = round(os.getloadavg()[0], 1)
    text = json.dumps(report, indent=2)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    everything = only >= set(SECTIONS)
    name = "campaigns.json" if everything else f"campaigns-{'-'.join(sorted(only))}.json"
    (ROOT / "bench" / "results" / name).write_text(text)
    print(text)


SECTIONS = ("launch", "send", "receipts", "workers", "outage", "smtp")


if __name__ == "__main__":
    main()
