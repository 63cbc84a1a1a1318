"""Scale-out, proven: two `serve` behind HAProxy, two `worker`, the vendor, PostgreSQL and a
Redis with AOF. Customers and orders are ingested through the balancer and a campaign sends
while one API process and one worker are killed (SIGKILL). Then:

- every acknowledged record is written, and every customer's aggregates equal its orders;
- every reachable customer got exactly one message (the vendor's own log of new keys);
- a signed-in session keeps working when its requests land on the other API process;
- both workers wrote records and called the vendor.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.cluster import Cluster
from tests.conftest import PASSWORD, _need, csrf_of
from tests.faults.procs import count_lines, pg_fetch, stored_ids
from tests.test_telemetry import sample

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

CUSTOMERS = 2_000
RATE = 250  # messages per second per worker: the campaign takes a few seconds to send


@pytest.fixture
def cluster(tmp_path: Path, pg_database_url: str) -> Iterator[Cluster]:
    _need("haproxy", shutil.which("haproxy") is not None, "haproxy is not installed (.ci/run installs it)")
    _need("redis", shutil.which("redis-server") is not None, "redis-server is not installed")
    made = Cluster(
        tmp_path,
        pg_database_url,
        delivery_lease_seconds="3",
        ingest_reclaim_idle_ms="2000",
        receipts_reclaim_idle_ms="2000",
        log_format="json",
    )
    try:
        made.start(apis=2, workers=2)
        yield made
    finally:
        made.stop()


@dataclass
class Ingest:
    """Batches POSTed through the balancer; what was acknowledged, and what was only tried."""

    client: httpx.AsyncClient
    acked: dict[str, set[str]] = field(default_factory=lambda: {"customers": set(), "orders": set()})
    tried: dict[str, set[str]] = field(default_factory=lambda: {"customers": set(), "orders": set()})
    answers: Counter[str] = field(default_factory=Counter)

    async def post(self, kind: str, records: list[dict[str, Any]]) -> None:
        ids = {r["external_id"] for r in records}
        self.tried[kind] |= ids
        try:
            answer = await self.client.post(f"/api/v1/{kind}", json=records)
            self.answers[str(answer.status_code)] += 1
            if answer.status_code == 202:
                self.acked[kind] |= ids
        except httpx.HTTPError as exc:  # no answer: not acknowledged, maybe written
            self.answers[type(exc).__name__] += 1


def customers(start: int, n: int) -> list[dict[str, Any]]:
    return [
        {"external_id": f"so-c{i:05d}", "name": f"Scale {i}", "phone": f"+91900{i:07d}"}
        for i in range(start, start + n)
    ]


def orders(rng: random.Random, start: int, n: int) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"so-o{i:06d}",
            "customer_external_id": f"so-c{rng.randrange(CUSTOMERS):05d}",
            "amount": f"{rng.randint(100, 99_999) / 100:.2f}",
            "ordered_at": "2026-11-01T10:00:00+05:30",
        }
        for i in range(start, start + n)
    ]


async def keep_ingesting(ingest: Ingest, stop: asyncio.Event) -> None:
    rng = random.Random(16)
    n = 0
    while not stop.is_set():
        await ingest.post("orders", orders(rng, n, 100))
        n += 100
        await asyncio.sleep(0.02)


def sign_in(base: str, email: str) -> httpx.Client:
    browser = httpx.Client(base_url=base, timeout=15, headers={"Accept": "text/html"})
    page = browser.get("/login")
    answer = browser.post(
        "/login", data={"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD, "next": "/"}
    )
    assert answer.status_code == 303, answer.text
    return browser


def dashboard(browser: httpx.Client) -> str:
    """Who served the signed-in dashboard; fails if the session was not recognised."""
    page = browser.get("/")
    assert page.status_code == 200 and "/login" not in str(page.url), (page.status_code, page.url)
    assert 'name="csrf-token"' in page.text or "csrf_token" in page.text
    return page.headers["x-served-by"]


async def test_two_apis_two_workers_one_of_each_killed(cluster: Cluster) -> None:
    settings = cluster.settings()
    made = cluster.procs.cli(
        "user", "create", "--email", "ops@example.com", "--name", "Ops", "--password", PASSWORD, **settings
    )
    assert made.returncode == 0, made.stdout + made.stderr
    key = cluster.api_key("ingest", "read", "campaigns", "metrics")
    browser = sign_in(cluster.base, "ops@example.com")
    try:
        await _scenario(cluster, key, browser)
    finally:
        browser.close()


async def _scenario(cluster: Cluster, key: str, browser: httpx.Client) -> None:
    # One session, answered by both processes (roundrobin): the cookie is the whole session.
    assert {dashboard(browser) for _ in range(6)} == {"s1", "s2"}

    async with httpx.AsyncClient(
        base_url=cluster.base, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        ingest = Ingest(client)
        for start in range(0, CUSTOMERS, 100):
            await ingest.post("customers", customers(start, 100))
        assert ingest.acked["customers"] == ingest.tried["customers"], ingest.answers
        await wait_for(
            lambda: stored_ids(cluster.database_url, "customers", "so-c"),
            lambda ids: ids >= ingest.acked["customers"],
            within=90,
            what="the customers to be written",
        )

        body = {
            "name": "Scale-out",
            "rules": {"op": "and", "rules": []},
            "message": "Hi {{ first_name }}",
            "channel": "sms",
            "rate_limit": RATE,
        }
        campaign = (await client.post("/api/v1/campaigns", json=body)).json()
        launched = await client.post(f"/api/v1/campaigns/{campaign['id']}/launch")
        assert launched.status_code == 202, launched.text
        audience = launched.json()["stats"]["audience"]
        assert audience == CUSTOMERS

        stop = asyncio.Event()
        loader = asyncio.create_task(keep_ingesting(ingest, stop))

        # Kill once both workers have written records and called the vendor, which is early
        # in the send: at RATE messages/s each, the campaign takes seconds more.
        def worked(worker: Any) -> bool:
            return (
                count_lines(worker.log, r'"wrote \d+ records') > 0
                and count_lines(worker.log, r'"vendor call: \d+ messages') > 0
            )

        async def both_working() -> bool:
            return all(worked(w) for w in cluster.workers)

        await wait_for(both_working, bool, within=60, what="both workers to write and send")

        async def stats() -> dict[str, Any]:
            got: dict[str, Any] = (await client.get(f"/api/v1/campaigns/{campaign['id']}")).json()["stats"]
            return got

        # Midway for real: part sent, part still to send when the processes die. A worker logs
        # its vendor call before it records the batch, so the first record may lag the log line.
        midway = await wait_for(stats, lambda s: s["pending"] < audience, within=30, what="a batch recorded")
        assert 0 < midway["pending"] < audience, midway
        killed_api, killed_worker = cluster.apis[0], cluster.workers[0]
        killed_api.child.kill()
        killed_worker.kill()
        await asyncio.sleep(3)
        # The session still works: every request now lands on the surviving process.
        assert {dashboard(browser) for _ in range(4)} == {"s2"}
        stop.set()
        await loader
        assert ingest.acked["orders"], ingest.answers

        async def campaign_state() -> dict[str, Any]:
            got: dict[str, Any] = (await client.get(f"/api/v1/campaigns/{campaign['id']}")).json()
            return got

        final = await wait_for(
            campaign_state, lambda c: c["status"] == "completed", within=120, what="the campaign to complete"
        )
        stored_orders = await wait_for(
            lambda: stored_ids(cluster.database_url, "orders", "so-o"),
            lambda ids: ids >= ingest.acked["orders"],
            within=120,
            what="every acknowledged order to be written",
        )
        metrics_text = (await client.get("/metrics")).text

    # Every acknowledged record is written; anything else stored was at least sent by us
    # (a request whose answer was lost with the killed process).
    assert stored_orders <= ingest.tried["orders"]
    assert await stored_ids(cluster.database_url, "customers", "so-c") == ingest.acked["customers"]

    # Exact aggregates: each customer's stored totals equal what its stored orders add up to.
    rows = await pg_fetch(
        cluster.database_url,
        """
        SELECT c.external_id, c.order_count, c.total_spend,
               count(o.external_id) AS n, coalesce(sum(o.amount), 0) AS spend
        FROM customers c LEFT JOIN orders o ON o.customer_external_id = c.external_id
        WHERE starts_with(c.external_id, 'so-c')
        GROUP BY c.external_id, c.order_count, c.total_spend
        """,
    )
    wrong = [
        r for r in rows if r["order_count"] != r["n"] or Decimal(r["total_spend"]) != Decimal(r["spend"])
    ]
    assert not wrong, wrong[:5]
    assert sum(r["n"] for r in rows) == len(stored_orders)

    # Exactly one message per reachable customer: one delivery each, and the vendor accepted
    # each delivery's key once (its log holds only keys new to it).
    deliveries = await pg_fetch(
        cluster.database_url,
        "SELECT id, customer_id, status FROM deliveries WHERE campaign_id = $1",
        campaign["id"],
    )
    assert len(deliveries) == audience == len({d["customer_id"] for d in deliveries})
    keys = [orjson.loads(line)["idempotency_key"] for line in cluster.vendor_log.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == audience
    assert set(keys) == {f"pulse-{d['id']}" for d in deliveries}
    assert Counter(d["status"] for d in deliveries).keys() <= {"delivered", "failed"}
    stats = final["stats"]
    assert stats["delivered"] + stats["failed"] == audience and stats["pending"] == 0

    # Both workers did part of the work, the killed one before it died.
    for worker in cluster.workers:
        assert count_lines(worker.log, r'"wrote \d+ records') > 0, worker.tail()
        assert count_lines(worker.log, r'"vendor call: \d+ messages') > 0, worker.tail()
    assert not cluster.workers[1].popen.poll(), cluster.workers[1].tail()

    # And the operator saw it: nothing left on the streams, every delivery counted.
    assert sample(metrics_text, "pulsecrm_stream_length", stream="ingest") == 0
    counted = sum(
        sample(metrics_text, "pulsecrm_deliveries", channel="sms", status=s) or 0
        for s in ("delivered", "failed")
    )
    assert counted == audience


async def wait_for(probe: Any, done: Any, *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        with contextlib.suppress(Exception):
            await asyncio.sleep(0.5)
