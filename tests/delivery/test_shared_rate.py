"""One rate for all senders, measured with real processes: `pulsecrm worker`s sharing buckets in
Redis, `pulsecrm serve`s sharing them in PostgreSQL (no Redis), and a channel ceiling
(PULSECRM_SMS_MAX_RATE) held across two campaigns.

Each figure is the number of deliveries recorded sent in the 20 s after the launch, over 20:
the first second included, so a bucket that started full (a burst of up to twice the rate)
or a per-process limit (N times the rate) would fall outside the 5 %.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.cli_helpers import free_port
from tests.conftest import REDIS_URL
from tests.delivery.stack import Ports, api_client, launch, seed, start_serve, start_vendor
from tests.faults.procs import Processes, pg_fetch

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
WINDOW = 20.0
CUSTOMERS = 3_200  # more than any 20 s window sends, so no campaign runs dry inside it


def people() -> list[dict[str, Any]]:
    return [
        {"external_id": f"c{i:05d}", "name": f"Person {i}", "phone": f"+91 9{i:09d}"}
        for i in range(CUSTOMERS)
    ]


def measured_rate(database_url: str, launched: list[dict[str, Any]]) -> float:
    """Messages/s these campaigns recorded sent from the first one's launch, over WINDOW."""
    start = min(datetime.fromisoformat(c["launched_at"]) for c in launched)
    # Let the window close, and the batches granted inside it be recorded.
    time.sleep(max(0.0, start.timestamp() + WINDOW + 1.5 - time.time()))
    rows = asyncio.run(
        pg_fetch(
            database_url,
            "SELECT count(*) FROM deliveries WHERE campaign_id = ANY($1::bigint[]) "
            "AND sent_at >= $2 AND sent_at < $2 + make_interval(secs => $3)",
            [c["id"] for c in launched],
            start,
            WINDOW,
        )
    )
    first = asyncio.run(
        pg_fetch(
            database_url,
            "SELECT extract(epoch FROM min(sent_at) - $2::timestamptz) "
            "FROM deliveries WHERE campaign_id = ANY($1::bigint[])",
            [c["id"] for c in launched],
            start,
        )
    )
    print(f"\nfirst message sent {float(first[0][0]):.2f} s after the launch")
    return float(rows[0][0]) / WINDOW


def within(name: str, rate: float, limit: float) -> None:
    """Within 5 % of `limit`: never above; below only when the machine had the CPU to reach it."""
    assert rate <= 1.05 * limit, (name, rate)
    # The limit is a ceiling no load excuses; reaching it needs CPU. On a machine whose run
    # queue is over twice its cores (shared CI, other engineers' suites) the senders starve and
    # the lower bound says nothing about the limiter: it is then reported, not asserted.
    if os.getloadavg()[0] > 2 * (os.cpu_count() or 1):
        print(
            f"{name}: {rate:.1f}/s, lower bound not checked: "
            f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
    else:
        assert rate >= 0.95 * limit, (name, rate)


def cancel(api: httpx.Client, launched: list[dict[str, Any]]) -> None:
    for c in launched:
        assert api.post(f"/api/v1/campaigns/{c['id']}/cancel").status_code == 200


@pytest.mark.redis
def test_workers_share_one_rate_and_the_channel_ceiling_through_redis(
    pg_database_url: str, redis_prefix: str, processes: Processes
) -> None:
    ports = Ports()
    settings = Processes.settings(
        pg_database_url,
        REDIS_URL,
        redis_prefix=redis_prefix,
        redis_allow_volatile="true",  # the shared test Redis keeps nothing on disk
        sms_max_rate="150",
        **ports.settings(),
    )
    start_vendor(processes, ports, settings)
    start_serve(processes, ports.api, settings)
    key = processes.api_key(**settings)
    processes.worker(**settings)
    processes.worker(**settings)
    rates: dict[str, float] = {}
    with api_client(ports.api_url, key) as api:
        seed(api, processes, people())
        # The ceiling first, while the channel's bucket is new (empty): two campaigns without
        # a rate of their own share its 150/s.
        both = [launch(api, "Unlimited A", rate_limit=None), launch(api, "Unlimited B", rate_limit=None)]
        rates["ceiling 150/s, 2 campaigns, 2 workers"] = measured_rate(pg_database_url, both)
        cancel(api, both)
        two = [launch(api, "Two workers", rate_limit=100)]
        rates["rate_limit 100/s, 2 workers"] = measured_rate(pg_database_url, two)
        cancel(api, two)
        processes.worker(**settings)
        three = [launch(api, "Three workers", rate_limit=100)]
        rates["rate_limit 100/s, 3 workers"] = measured_rate(pg_database_url, three)
        cancel(api, three)
    print(f"\nshared rates through Redis (messages/s over {WINDOW:g} s from launch): {rates}")
    for (name, rate), limit in zip(rates.items(), (150, 100, 100), strict=True):
        within(name, rate, limit)


def test_serve_processes_share_one_rate_through_the_database(
    pg_database_url: str, processes: Processes
) -> None:
    ports = Ports()
    settings = Processes.settings(pg_database_url, None, **ports.settings())
    start_vendor(processes, ports, settings)
    # Without Redis each `serve` sends campaigns in-process; two of them share the bucket rows.
    start_serve(processes, ports.api, settings)
    start_serve(processes, free_port(), settings)
    key = processes.api_key(**settings)
    with api_client(ports.api_url, key) as api:
        seed(api, processes, people())
        one = [launch(api, "Two serves", rate_limit=100)]
        rate = measured_rate(pg_database_url, one)
        cancel(api, one)
    print(f"\nshared rate through PostgreSQL, 2 serve processes: {rate:.1f} messages/s at rate_limit 100")
    within("rate_limit 100/s, 2 serve processes", rate, 100)
