"""End to end with real processes on loopback: `serve`, `worker` and `vendor` on PostgreSQL + Redis.

A 5,000-customer campaign is launched through the API; the worker sends it to the mock
vendor, which calls the signed webhook back with receipts; the campaign must settle with
a delivery rate near the vendor's 90%, and its counters must equal a GROUP BY over the log.
A second scenario SIGKILLs the worker mid-campaign and checks the vendor accepted every
idempotency key once; a third injects vendor errors and checks the campaign still settles.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import sqlalchemy as sa

from pulsecrm.db import Database
from pulsecrm.delivery.models import Delivery
from tests.cli_helpers import PULSECRM, cli_env, free_port, wait_healthy
from tests.conftest import REDIS_URL, WEBHOOK_SECRET

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
CUSTOMERS = 5_000


class Stack:
    def __init__(self, tmp: Path, database_url: str, prefix: str, **vendor: str) -> None:
        self.tmp = tmp
        self.api_port, self.vendor_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.vendor = f"http://127.0.0.1:{self.vendor_port}"
        self.env = dict(
            database_url=database_url,
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            redis_allow_volatile="true",  # the shared test Redis keeps nothing on disk
            webhook_secret=WEBHOOK_SECRET,
            vendor_url=self.vendor,
            vendor_port=str(self.vendor_port),
            vendor_webhook_url=f"{self.api}/api/v1/receipts",
            vendor_min_delay_ms="5",
            vendor_max_delay_ms="50",
            vendor_seed="7",
            delivery_timeout_seconds="2",
            delivery_lease_seconds="3",
            ingest_reclaim_idle_ms="1500",
            receipts_reclaim_idle_ms="1500",
            **vendor,
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[IO[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("ab")
        self.logs.append(log)
        proc = subprocess.Popen(
            [PULSECRM, *args], cwd=self.tmp, env=cli_env(**self.env), stdout=log, stderr=log
        )
        self.procs[name] = proc
        return proc

    def wait_healthy(self, base: str) -> None:
        wait_healthy(base, self.tmp)

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in self.tmp.glob("*.log"))

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.logs:
            log.close()


@contextmanager
def stack(tmp: Path, database_url: str, prefix: str, **vendor: str) -> Iterator[tuple[Stack, httpx.Client]]:
    s = Stack(tmp, database_url, prefix, **vendor)
    try:
        s.start("vendor", "vendor", "--port", str(s.vendor_port))
        s.start("serve", "serve", "--port", str(s.api_port))
        s.wait_healthy(s.vendor)
        s.wait_healthy(s.api)
        key = (
            subprocess.run(
                [PULSECRM, "apikey", "create", "--name", "e2e"],
                cwd=tmp,
                env=cli_env(**s.env),
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with httpx.Client(base_url=s.api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            yield s, client
    finally:
        s.stop()


def seed_and_launch(client: httpx.Client, s: Stack, rate_limit: int | None = None) -> int:
    people = [
        {"external_id": f"c{i:05d}", "name": f"Person {i}", "phone": f"+91 9{i:09d}"}
        for i in range(CUSTOMERS)
    ]
    assert client.post("/api/v1/customers", json=people).status_code == 202
    s.start("worker", "worker")
    wait(lambda: client.get("/api/v1/ingest/status").json()["backlog"] == 0, 60, s)
    body = {
        "name": "E2E",
        "message": "Hi {{ first_name }}",
        "rules": {"op": "and", "rules": []},
        "rate_limit": rate_limit,
    }
    cid = int(client.post("/api/v1/campaigns", json=body).json()["id"])
    launched = client.post(f"/api/v1/campaigns/{cid}/launch")
    assert launched.status_code == 202, launched.text
    assert launched.json()["stats"]["audience"] == CUSTOMERS
    return cid


def wait(condition: Any, seconds: float, s: Stack) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out; logs:\n{s.tail()}")


def counters_equal_the_log(database_url: str, cid: int, stats: dict[str, Any]) -> None:
    asyncio.run(_counters_equal_the_log(database_url, cid, stats))


async def _counters_equal_the_log(database_url: str, cid: int, stats: dict[str, Any]) -> None:
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(Delivery.status, sa.func.count())
                .where(Delivery.campaign_id == cid)
                .group_by(Delivery.status)
            )
            by_status = dict(rows.all())
    finally:
        await db.dispose()
    for status in ("pending", "sent", "delivered", "failed", "unknown"):
        assert stats[status] == by_status.get(status, 0), (status, stats, by_status)


def settled(client: httpx.Client, cid: int) -> bool:
    return bool(client.get(f"/api/v1/campaigns/{cid}").json()["status"] == "completed")


def test_a_5000_customer_campaign_settles_near_90_percent(
    tmp_path: Path, pg_database_url: str, redis_prefix: str
) -> None:
    with stack(tmp_path, pg_database_url, redis_prefix) as (s, client):
        cid = seed_and_launch(client, s)
        wait(lambda: settled(client, cid), 120, s)
        stats = client.get(f"/api/v1/campaigns/{cid}").json()["stats"]
        assert stats["delivered"] + stats["failed"] == CUSTOMERS, stats
        assert 0.87 <= stats["delivered"] / CUSTOMERS <= 0.93, stats
        counters_equal_the_log(pg_database_url, cid, stats)
        keys = httpx.get(f"{s.vendor}/v1/keys").json()["keys"]
        assert len(keys) == CUSTOMERS


def test_a_killed_worker_sends_nothing_twice(tmp_path: Path, pg_database_url: str, redis_prefix: str) -> None:
    with stack(tmp_path, pg_database_url, redis_prefix) as (s, client):
        # Rate-limited to ~5 s of sending, so the kill lands mid-campaign, not after it.
        cid = seed_and_launch(client, s, rate_limit=1000)
        wait(lambda: client.get(f"/api/v1/campaigns/{cid}").json()["stats"]["pending"] < CUSTOMERS, 60, s)
        s.procs["worker"].kill()
        s.procs["worker"].wait()
        assert client.get(f"/api/v1/campaigns/{cid}").json()["stats"]["pending"] > 0, "killed too late"
        s.start("worker", "worker")
        wait(lambda: settled(client, cid), 120, s)
        stats = client.get(f"/api/v1/campaigns/{cid}").json()["stats"]
        assert stats["delivered"] + stats["failed"] == CUSTOMERS, stats
        vendor = httpx.get(f"{s.vendor}/v1/stats").json()
        assert vendor["accepted"] == CUSTOMERS  # every key accepted once; re-sends were duplicates
        counters_equal_the_log(pg_database_url, cid, stats)


def test_vendor_errors_are_survived(tmp_path: Path, pg_database_url: str, redis_prefix: str) -> None:
    errors = {
        "vendor_error_500_rate": "0.2",
        "vendor_error_429_rate": "0.05",
        "vendor_timeout_rate": "0.03",
        "vendor_timeout_seconds": "3",
    }
    with stack(tmp_path, pg_database_url, redis_prefix, **errors) as (s, client):
        cid = seed_and_launch(client, s)
        wait(lambda: settled(client, cid), 180, s)
        stats = client.get(f"/api/v1/campaigns/{cid}").json()["stats"]
        assert stats["delivered"] + stats["failed"] + stats["unknown"] == CUSTOMERS, stats
        vendor = httpx.get(f"{s.vendor}/v1/stats").json()
        assert vendor["errors_injected"]["500"] > 0
        assert vendor["errors_injected"]["429"] > 0
        assert vendor["errors_injected"]["timeout"] > 0
        gave_up, most_attempts = asyncio.run(_retries(pg_database_url, cid))
        # Retries are bounded: a message the vendor kept refusing fails after 5 attempts, and
        # everything else reached the vendor exactly once.
        assert most_attempts <= 5
        # A message we gave up on as failed never reached the vendor; one that timed out may
        # have, and is `unknown` instead (a late receipt can still settle it).
        assert CUSTOMERS - stats["unknown"] <= vendor["accepted"] + gave_up <= CUSTOMERS, (
            vendor,
            gave_up,
            stats,
        )
        counters_equal_the_log(pg_database_url, cid, stats)


async def _retries(database_url: str, cid: int) -> tuple[int, int]:
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            gave_up = await conn.scalar(
                sa.select(sa.func.count()).where(
                    Delivery.campaign_id == cid,
                    Delivery.status == "failed",
                    Delivery.error.like("%gave up after%"),
                )
            )
            most = await conn.scalar(
                sa.select(sa.func.max(Delivery.attempts)).where(Delivery.campaign_id == cid)
            )
            return int(gave_up or 0), int(most or 0)
    finally:
        await db.dispose()
