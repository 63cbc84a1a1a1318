"""Opens and clicks end to end with real processes: `serve`, `worker` and `vendor` on PostgreSQL +
Redis. The vendor reports some delivered messages opened and clicked on the signed webhook; our
own tracked links, clicked on `serve`, ride the receipts stream to the worker. Every count is
per customer, and equals the marks in the log."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from pulsecrm.config import Settings
from pulsecrm.db import Database
from pulsecrm.delivery import tokens
from pulsecrm.delivery.models import Delivery, EngagementEvent, TrackedLink
from tests.delivery.test_end_to_end import settled, stack, wait

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
CUSTOMERS = 300
SECRET = "e2e-session-secret"
URL = "https://shop.example/e2e?utm=sms"


async def _log(database_url: str, cid: int) -> dict[str, Any]:
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            marks = (
                await conn.execute(
                    sa.select(sa.func.count(Delivery.opened_at), sa.func.count(Delivery.clicked_at)).where(
                        Delivery.campaign_id == cid
                    )
                )
            ).one()
            links = (
                await conn.execute(
                    sa.select(TrackedLink.id, TrackedLink.url).where(TrackedLink.campaign_id == cid)
                )
            ).all()
            unclicked = list(
                (
                    await conn.execute(
                        sa.select(Delivery.id)
                        .where(
                            Delivery.campaign_id == cid,
                            Delivery.clicked_at.is_(None),
                            Delivery.status == "delivered",
                        )
                        .order_by(Delivery.id)
                        .limit(5)
                    )
                ).scalars()
            )
            events = await conn.scalar(
                sa.select(sa.func.count()).where(
                    EngagementEvent.campaign_id == cid, EngagementEvent.link_id != 0
                )
            )
    finally:
        await db.dispose()
    return {
        "opened": marks[0],
        "clicked": marks[1],
        "links": [(int(i), str(u)) for i, u in links],
        "unclicked": unclicked,
        "our_clicks": int(events or 0),
    }


def test_vendor_engagement_and_our_tracked_links_count_once_per_customer(
    tmp_path: Path, pg_database_url: str, redis_prefix: str
) -> None:
    extra = {
        "session_secret": SECRET,
        "vendor_open_rate": "0.5",
        "vendor_click_rate": "0.2",
        "vendor_engagement_min_delay_ms": "5",
        "vendor_engagement_max_delay_ms": "50",
    }
    with stack(tmp_path, pg_database_url, redis_prefix, **extra) as (s, client):
        people = [
            {"external_id": f"e{i:04d}", "name": f"Person {i}", "phone": f"+91 8{i:09d}"}
            for i in range(CUSTOMERS)
        ]
        assert client.post("/api/v1/customers", json=people).status_code == 202
        s.start("worker", "worker")
        wait(lambda: client.get("/api/v1/ingest/status").json()["backlog"] == 0, 60, s)
        body = {
            "name": "E2E links",
            "message": f"Hi {{{{ first_name }}}}, see {URL}",
            "rules": {"op": "and", "rules": []},
        }
        cid = int(client.post("/api/v1/campaigns", json=body).json()["id"])
        assert client.post(f"/api/v1/campaigns/{cid}/launch").status_code == 202
        wait(lambda: settled(client, cid), 120, s)

        def quiet() -> bool:
            vendor = httpx.get(f"{s.vendor}/v1/stats").json()
            return bool(vendor["receipts_pending"] == 0)

        wait(quiet, 60, s)
        stats: dict[str, Any] = {}

        def counted() -> bool:
            nonlocal stats
            stats = client.get(f"/api/v1/campaigns/{cid}").json()["stats"]
            log = asyncio.run(_log(pg_database_url, cid))
            return bool(
                (stats["opened"], stats["clicked"]) == (log["opened"], log["clicked"]) and stats["opened"]
            )

        wait(counted, 60, s)
        delivered = stats["delivered"]
        assert 0.35 <= stats["opened"] / delivered <= 0.65, stats
        assert 0.1 <= stats["clicked"] / delivered <= 0.3, stats

        # The worker stored the message's link; our own clicks on `serve`, twice each.
        log = asyncio.run(_log(pg_database_url, cid))
        [(link_id, url)] = log["links"]
        assert url == URL
        key = tokens.key_for(Settings(_env_file=None, session_secret=SECRET))  # type: ignore[call-arg]
        before = stats["clicked"]
        for delivery_id in log["unclicked"]:
            for _ in range(2):
                answer = httpx.get(f"{s.api}/r/{tokens.make(key, cid, delivery_id, link_id)}")
                assert answer.status_code == 302 and answer.headers["location"] == URL
        forged = httpx.get(f"{s.api}/r/{tokens.make(b'x' * 32, cid, log['unclicked'][0], link_id)}")
        assert forged.status_code == 404 and "location" not in forged.headers

        deadline = time.monotonic() + 30
        while asyncio.run(_log(pg_database_url, cid))["our_clicks"] < 2 * len(log["unclicked"]):
            assert time.monotonic() < deadline, s.tail()
            time.sleep(0.2)
        stats = client.get(f"/api/v1/campaigns/{cid}").json()["stats"]
        assert stats["clicked"] == before + len(log["unclicked"])
        assert asyncio.run(_log(pg_database_url, cid))["our_clicks"] == 2 * len(log["unclicked"])
