"""A scheduled campaign with real processes: `serve`, two `worker`s and the `vendor` on
PostgreSQL + Redis. One worker is killed and restarted before the campaign's time; it must
still start within a second of its time, once (one "started" line across both workers' logs,
one delivery per customer, each idempotency key accepted by the vendor once)."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.delivery.stack import Ports, start_serve, start_vendor, stream_settings, wait_for
from tests.faults.procs import Child, Processes

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
CUSTOMERS = 40
LEAD_SECONDS = 8.0


def test_a_scheduled_campaign_starts_once_on_time_across_a_restart_and_two_workers(
    tmp_path: Path, pg_database_url: str, redis_prefix: str, processes: Processes
) -> None:
    ports = Ports()
    key_log = tmp_path / "vendor-keys.jsonl"
    settings = stream_settings(pg_database_url, redis_prefix, ports, key_log, vendor_max_delay_ms="20")
    start_vendor(processes, ports, settings)
    start_serve(processes, ports.api, settings)
    api_url = ports.api_url
    first = processes.worker(**settings)
    processes.worker(**settings)
    key = processes.api_key(**settings)
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        _schedule_and_check(api, processes, settings, first, key_log)


def _schedule_and_check(
    api: httpx.Client, processes: Processes, settings: dict[str, str], first: Child, key_log: Path
) -> None:

    people = [
        {"external_id": f"c{i}", "name": f"P{i} X", "phone": f"+91 91000 {i:05d}"} for i in range(CUSTOMERS)
    ]
    assert api.post("/api/v1/customers", json=people).status_code in (201, 202)
    wait_for("ingested", lambda: api.get("/api/v1/ingest/status").json()["backlog"] == 0, 60, processes)
    at = (datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    body = {"name": "At eight", "message": "Hi", "rules": {"op": "and", "rules": []}}
    created = api.post("/api/v1/campaigns", json={**body, "scheduled_at": at.isoformat()})
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert api.post(f"/api/v1/campaigns/{cid}/launch").json()["status"] == "scheduled"

    first.kill()  # a crash before the time, then a restart: the schedule is a row, not a timer
    processes.worker(**settings)
    assert datetime.now(UTC) < at - timedelta(seconds=1), "too slow to restart before the time"

    def campaign() -> dict[str, object]:
        return dict(api.get(f"/api/v1/campaigns/{cid}").json())

    wait_for("started", lambda: campaign()["status"] != "scheduled", LEAD_SECONDS + 10, processes)
    launched = datetime.fromisoformat(str(campaign()["launched_at"]))
    assert at <= launched <= at + timedelta(seconds=1), (at, launched)
    wait_for("sent", lambda: campaign()["stats"]["pending"] == 0, 30, processes)  # type: ignore[index]
    stats = campaign()["stats"]
    assert stats["audience"] == CUSTOMERS  # type: ignore[index]

    first_sent = min(
        datetime.fromisoformat(d["sent_at"])
        for d in api.get(f"/api/v1/campaigns/{cid}/deliveries", params={"limit": 500}).json()["items"]
    )
    assert first_sent - at <= timedelta(seconds=1.5), first_sent - at
    time.sleep(0.5)  # let the vendor's log catch up with its last answers
    keys = Counter(json.loads(line)["idempotency_key"] for line in key_log.read_text().splitlines() if line)
    assert len(keys) == CUSTOMERS and set(keys.values()) == {1}
    started = sum(
        child.log.read_text().count(f"scheduled campaign {cid} started")
        for child in processes.children
        if child.name == "worker"
    )
    assert started == 1, processes.tails()
