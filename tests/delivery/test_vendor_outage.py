"""The vendor dies for 30 s mid-campaign: real `serve`, `worker` and `vendor` processes on
PostgreSQL + Redis.

A rate-limited campaign of a few thousand SMS (~15 s of sending) loses its vendor to a
SIGKILL a few seconds in; the vendor comes back 30 s later on the same port, its key log
read back so it still knows every idempotency key it accepted, as a real provider does.
The error policy must pause the campaign within seconds, saying the vendor is the reason;
no delivery may be `failed` for the outage; the campaign must resume by itself once the
vendor answers and complete; and the vendor's key log, across both of its lives, must hold
each reachable customer's key exactly once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from pulsecrm.db import Database
from pulsecrm.delivery.models import Delivery
from tests.delivery.stack import Ports, start_serve, start_vendor, stream_settings, wait_for
from tests.faults.procs import Processes

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
CUSTOMERS = 3_000
RATE = 160  # ~15 s for the 2,700 reachable customers
OUTAGE_SECONDS = 30.0


def accepted_keys(log: Path) -> Counter[str]:
    return Counter(
        json.loads(line)["idempotency_key"] for line in log.read_text().splitlines() if line.endswith("}")
    )


async def keys_and_statuses(database_url: str, cid: int) -> tuple[set[str], Counter[str]]:
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            rows = (
                await conn.execute(sa.select(Delivery.id, Delivery.status).where(Delivery.campaign_id == cid))
            ).all()
    finally:
        await db.dispose()
    return {f"pulse-{i}" for i, _ in rows}, Counter(status for _, status in rows)


def test_a_vendor_outage_pauses_the_campaign_and_it_resumes_without_losing_or_repeating_anyone(
    tmp_path: Path, pg_database_url: str, redis_prefix: str, processes: Processes
) -> None:
    ports = Ports()
    vendor_url = ports.vendor_url
    key_log = tmp_path / "vendor-keys.jsonl"
    # The vendor accepts everything, so a `failed` delivery can only come from the outage.
    settings = stream_settings(
        pg_database_url,
        redis_prefix,
        ports,
        key_log,
        delivery_timeout_seconds="2",
        delivery_lease_seconds="3",
        # Receipts the dead vendor owed never come: those messages become `unknown` this long
        # after they were sent, so the campaign can complete within the test.
        delivery_unconfirmed_seconds="20",
    )

    vendor = start_vendor(processes, ports, settings)
    serve = start_serve(processes, ports.api, settings)
    api_url = ports.api_url
    assert serve.alive()
    key = processes.api_key(**settings)
    processes.worker(**settings)
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        people: list[dict[str, Any]] = [
            {
                "external_id": f"c{i:05d}",
                "name": f"Person {i}",
                **({"phone": f"+91 9{i:09d}"} if i % 10 else {}),
            }
            for i in range(CUSTOMERS)
        ]
        assert api.post("/api/v1/customers", json=people).status_code == 202
        wait_for("ingested", lambda: api.get("/api/v1/ingest/status").json()["backlog"] == 0, 60, processes)
        body = {"name": "Outage", "message": "Hi {{ first_name }}", "rules": {"op": "and", "rules": []}}
        cid = int(api.post("/api/v1/campaigns", json={**body, "rate_limit": RATE}).json()["id"])
        launched = api.post(f"/api/v1/campaigns/{cid}/launch")
        assert launched.status_code == 202, launched.text
        stats = launched.json()["stats"]
        reachable = CUSTOMERS - CUSTOMERS // 10
        assert (stats["audience"], stats["unreachable_excluded"]) == (reachable, CUSTOMERS // 10), stats

        def campaign() -> dict[str, Any]:
            return dict(api.get(f"/api/v1/campaigns/{cid}").json())

        wait_for("sending", lambda: campaign()["stats"]["pending"] <= reachable - 3 * RATE, 30, processes)
        vendor.kill()
        died = time.monotonic()
        wait_for("paused by the policy", lambda: campaign()["status"] == "paused", 15, processes)
        to_paused = time.monotonic() - died
        paused = campaign()
        assert paused["pause"]["by_policy"] is True, paused
        assert "vendor" in paused["pause"]["reason"], paused
        assert paused["stats"]["pending"] > 0, "the campaign finished before the vendor died"
        pending_while_paused = paused["stats"]["pending"]
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - died)))
        outage = campaign()
        assert outage["status"] == "paused", outage
        assert outage["stats"]["failed"] == 0, outage
        # Nothing was claimed while paused (the batches in flight at the pause excepted).
        assert outage["stats"]["pending"] >= pending_while_paused, (paused, outage)

        start_vendor(processes, ports, settings)
        back = time.monotonic()
        # Sending again = the new vendor process receives its first send request.
        wait_for(
            "sending again", lambda: httpx.get(f"{vendor_url}/v1/stats").json()["requests"] > 0, 30, processes
        )
        to_sending = time.monotonic() - back
        wait_for("completed", lambda: campaign()["status"] == "completed", 120, processes)
        final = campaign()
        second_life = httpx.get(f"{vendor_url}/v1/stats").json()
    print(
        f"\nvendor outage: paused {to_paused:.2f} s after the vendor died; "
        f"sending again {to_sending:.2f} s after it returned (probe every 2 s); "
        f"pause reason {paused['pause']['reason']!r}; the restarted vendor took "
        f"{second_life['accepted']} new keys and {second_life['duplicates']} repeats"
    )
    assert to_paused < 5, to_paused
    assert to_sending < 5, to_sending
    assert final["pause"] is None
    audience_keys, statuses = asyncio.run(keys_and_statuses(pg_database_url, cid))
    assert statuses["failed"] == 0, statuses
    assert statuses["pending"] == 0, statuses
    assert final["stats"]["failed"] == 0, final
    accepted = accepted_keys(key_log)
    assert set(accepted) == audience_keys  # every reachable customer reached the vendor
    assert [k for k, n in accepted.items() if n > 1] == []  # and none twice, across the restart
