"""E-mail campaigns over SMTP end to end: real `serve` and `worker` processes, a real aiosmtpd.

The SMTP server takes the content of every message past the 60th but holds its answer, so the
worker is SIGKILLed while messages are surely on the wire; a new worker finishes the campaign.
SMTP has no idempotency key, so the promise is at most once: every Message-ID arrives at most
once, every delivery ends `sent` or `unknown` (none failed, none pending), every `sent` one did
arrive, and whatever arrived is `sent` or `unknown`.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from pulsecrm.db import Database
from pulsecrm.delivery.models import Delivery
from tests.delivery.smtp_server import Recorder, smtp_server
from tests.delivery.test_end_to_end import counters_equal_the_log, settled, stack, wait

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
CUSTOMERS = 400
MESSAGE_ID = re.compile(r"<pulse-(\d+)\.(\d+)@shop\.example>")


def test_a_worker_killed_mid_send_sends_no_email_twice(
    tmp_path: Path, pg_database_url: str, redis_prefix: str
) -> None:
    # Killed with a message on each connection waiting for its answer: whatever the timing, the
    # kill lands mid-send (a kill between a pass's recording and its next claim would not).
    recorder = Recorder(hold_after=60)
    smtp = {
        "email_transport": "smtp",
        "smtp_security": "none",
        "smtp_from": "Pulse Shop <news@shop.example>",
        "smtp_pool_size": "2",
        "delivery_batch_size": "20",
        "delivery_concurrency": "2",
    }
    with (
        smtp_server(recorder) as mail,
        stack(tmp_path, pg_database_url, redis_prefix, smtp_port=str(mail.port), **smtp) as (s, client),
    ):
        people = [
            {"external_id": f"c{i:04d}", "name": f"Person {i}", "email": f"person{i}@example.com"}
            for i in range(CUSTOMERS)
        ]
        assert client.post("/api/v1/customers", json=people).status_code == 202
        s.start("worker", "worker")
        wait(lambda: client.get("/api/v1/ingest/status").json()["backlog"] == 0, 60, s)
        body = {
            "name": "SMTP E2E",
            "channel": "email",
            "subject": "A word for {{ first_name }}",
            "message": "Hello {{ first_name }},\n\nOur news.",
            "rules": {"op": "and", "rules": []},
        }
        created = client.post("/api/v1/campaigns", json=body)
        assert created.status_code == 201, created.text
        cid = int(created.json()["id"])
        launched = client.post(f"/api/v1/campaigns/{cid}/launch")
        assert launched.status_code == 202, launched.text
        assert launched.json()["stats"]["audience"] == CUSTOMERS

        wait(recorder.holding.is_set, 60, s)
        s.procs["worker"].kill()
        s.procs["worker"].wait()
        recorder.release.set()
        assert len(recorder.received) < CUSTOMERS, "killed too late"
        s.start("worker", "worker")
        wait(lambda: settled(client, cid), 120, s)
        stats = client.get(f"/api/v1/campaigns/{cid}").json()["stats"]

    ids = recorder.message_ids
    counts = Counter(ids)
    assert [m for m, n in counts.items() if n > 1] == [], "an e-mail arrived twice"
    arrived = set()
    for message_id in ids:
        match = MESSAGE_ID.fullmatch(message_id)
        assert match and int(match.group(2)) == cid, message_id
        arrived.add(int(match.group(1)))
    status = asyncio.run(_statuses(pg_database_url, cid))
    assert len(status) == CUSTOMERS
    assert set(status.values()) <= {"sent", "unknown"}, Counter(status.values())
    sent = {d for d, st in status.items() if st == "sent"}
    unknown = {d for d, st in status.items() if st == "unknown"}
    assert sent <= arrived, "recorded sent but never arrived"
    assert arrived <= sent | unknown
    # The batches on the wire at the kill: claimed, maybe sent, never resent.
    assert unknown, "the kill left nothing in flight"
    # At most what was claimed at the kill: a pass claims `concurrency` batches, then sends them.
    assert len(unknown) <= 2 * 20
    assert stats["sent"] == len(sent) and stats["unknown"] == len(unknown) and stats["failed"] == 0
    counters_equal_the_log(pg_database_url, cid, stats)


async def _statuses(database_url: str, cid: int) -> dict[int, str]:
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(Delivery.id, Delivery.status).where(Delivery.campaign_id == cid)
            )
            return {int(i): str(st) for i, st in rows.all()}
    finally:
        await db.dispose()
