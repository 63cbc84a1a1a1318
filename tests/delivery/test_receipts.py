"""The signed receipts webhook and the applier: idempotent, forward-only, nothing lost."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from pulsecrm.campaigns.models import Campaign
from pulsecrm.db import utcnow
from pulsecrm.delivery import store
from pulsecrm.delivery.models import Delivery, EngagementEvent, ParkedReceipt
from pulsecrm.delivery.receipts import sign
from tests.conftest import WEBHOOK_SECRET, Api, running_api


async def _sent_campaign(api: Api, customers: int = 5) -> int:
    """A launched campaign whose deliveries are recorded as sent with ids m1..mN (as the
    dispatcher would leave them)."""
    people = [
        {"external_id": f"c{i}", "name": f"P{i}", "phone": f"+91 90000 2{i:04d}"}
        for i in range(1, customers + 1)
    ]
    assert (await api.client.post("/api/v1/customers", json=people)).status_code in (201, 202)
    await api.drain()
    body = {"name": "t", "message": "Hi {{ name }}", "rules": {"op": "and", "rules": []}}
    cid = int((await api.client.post("/api/v1/campaigns", json=body)).json()["id"])
    assert (await api.client.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
    async with api.services.db.engine.begin() as conn:
        ids = await conn.execute(
            sa.select(Delivery.id).where(Delivery.campaign_id == cid).order_by(Delivery.id)
        )
        for n, (delivery_id,) in enumerate(ids, start=1):
            await conn.execute(
                sa.update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status="sent", vendor_message_id=f"m{n}", attempts=1)
            )
        await conn.execute(sa.update(Campaign).where(Campaign.id == cid).values(pending=0, sent=customers))
    return cid


def receipt(message_id: str, status: str = "delivered", **extra: Any) -> dict[str, Any]:
    return {"message_id": message_id, "status": status, "occurred_at": "2026-11-20T10:00:00Z", **extra}


async def post(
    api: Api,
    receipts: list[dict[str, Any]],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    header: str | None = None,
) -> Any:
    body = orjson.dumps({"receipts": receipts})
    signature = header if header is not None else sign(secret, body, timestamp)
    response = await api.client.post(
        "/api/v1/receipts",
        content=body,
        headers={"X-Pulse-Signature": signature, "Authorization": "", "content-type": "application/json"},
    )
    await api.drain()
    return response


async def stats(api: Api, cid: int) -> dict[str, Any]:
    campaign = (await api.client.get(f"/api/v1/campaigns/{cid}")).json()
    return dict(campaign["stats"]) | {"status": campaign["status"]}


async def counters_match_the_log(api: Api, cid: int) -> None:
    async with api.services.db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(Delivery.status, sa.func.count())
            .where(Delivery.campaign_id == cid)
            .group_by(Delivery.status)
        )
        by_status = dict(rows.all())
    s = await stats(api, cid)
    for status in ("pending", "sent", "delivered", "failed", "unknown"):
        assert s[status] == by_status.get(status, 0), (status, s, by_status)


async def test_receipts_settle_the_campaign_exactly_once(api: Api) -> None:
    cid = await _sent_campaign(api)
    first = await post(api, [receipt("m1"), receipt("m2"), receipt("m3", "failed", reason="invalid number")])
    assert first.status_code in (200, 202), first.text
    s = await stats(api, cid)
    assert (s["sent"], s["delivered"], s["failed"], s["status"]) == (2, 2, 1, "running")
    # Duplicates, a replay of the whole batch, and a contradicting late receipt change nothing.
    for batch in (
        [receipt("m1"), receipt("m1")],
        [receipt("m3", "delivered")],
        [receipt("m1"), receipt("m2"), receipt("m3", "failed", reason="invalid number")],
    ):
        await post(api, batch)
        s = await stats(api, cid)
        assert (s["sent"], s["delivered"], s["failed"]) == (2, 2, 1), batch
    # The rest arrive out of order; the campaign completes when nothing is left unconfirmed.
    await post(api, [receipt("m5"), receipt("m4", "failed", reason="blocked")])
    s = await stats(api, cid)
    assert (s["sent"], s["delivered"], s["failed"], s["status"], s["delivery_rate"]) == (
        0,
        3,
        2,
        "completed",
        0.6,
    )
    await counters_match_the_log(api, cid)
    log = (await api.client.get(f"/api/v1/campaigns/{cid}/deliveries", params={"status": "failed"})).json()
    assert sorted(d["error"] for d in log["items"]) == ["blocked", "invalid number"]


async def test_the_earliest_outcome_wins_within_a_batch(inline_api: Api) -> None:
    cid = await _sent_campaign(inline_api, customers=1)
    later = receipt("m1", "delivered") | {"occurred_at": "2026-11-20T10:05:00Z"}
    earlier = receipt("m1", "failed", reason="bounced") | {"occurred_at": "2026-11-20T10:00:00Z"}
    body = (await post(inline_api, [later, earlier])).json()
    assert (body["applied"], body["duplicates"]) == (1, 1)
    assert (await stats(inline_api, cid))["failed"] == 1


async def test_a_receipt_for_an_unknown_message_is_parked_not_lost(api: Api) -> None:
    await _sent_campaign(api, customers=1)
    response = await post(api, [receipt("m1"), receipt("not-sent-yet", "failed", reason="x")])
    assert response.status_code in (200, 202)
    async with api.services.db.sessions() as session:
        parked = list(await session.scalars(sa.select(ParkedReceipt)))
    assert [(p.message_id, p.status, p.reason) for p in parked] == [("not-sent-yet", "failed", "x")]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("no header", 401),
        ("wrong secret", 401),
        ("stale", 401),
        ("future", 401),
        ("garbled", 401),
        ("tampered body", 401),
    ],
)
async def test_bad_signatures_are_refused_and_nothing_applied(
    inline_api: Api, kind: str, expected: int
) -> None:
    cid = await _sent_campaign(inline_api, customers=1)
    receipts = [receipt("m1")]
    body = orjson.dumps({"receipts": receipts})
    headers = {
        "no header": "",
        "wrong secret": sign("not-the-secret", body),
        "stale": sign(WEBHOOK_SECRET, body, int(time.time()) - 301),
        "future": sign(WEBHOOK_SECRET, body, int(time.time()) + 301),
        "garbled": "v1=abc,t=yesterday",
        "tampered body": sign(WEBHOOK_SECRET, orjson.dumps({"receipts": [receipt("m1", "failed")]})),
    }
    response = await inline_api.client.post(
        "/api/v1/receipts", content=body, headers={"X-Pulse-Signature": headers[kind], "Authorization": ""}
    )
    assert response.status_code == expected, response.text
    assert (await stats(inline_api, cid))["delivered"] == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"receipts": []}', 422),
        (b'{"receipts": [{"message_id": "m1"}]}', 422),
        (
            b'{"receipts": [{"message_id": "m1", "status": "read", "occurred_at": "2026-11-20T10:00:00Z"}]}',
            422,
        ),
        (
            b'{"receipts": [{"message_id": "m1", "status": "delivered", '
            b'"occurred_at": "2026-11-20T10:00:00"}]}',  # no UTC offset
            422,
        ),
        (b'{"receipts": [], "extra": 1}', 422),
    ],
)
async def test_malformed_receipts_are_4xx_and_nothing_applied(
    inline_api: Api, body: bytes, status: int
) -> None:
    cid = await _sent_campaign(inline_api, customers=1)
    response = await inline_api.client.post(
        "/api/v1/receipts", content=body, headers={"X-Pulse-Signature": sign(WEBHOOK_SECRET, body)}
    )
    assert response.status_code == status, response.text
    assert (await stats(inline_api, cid))["delivered"] == 0


async def test_without_a_secret_the_webhook_is_unavailable(sqlite_url: str) -> None:
    async with running_api(sqlite_url, webhook_secret=None) as api:
        body = orjson.dumps({"receipts": [receipt("m1")]})
        response = await api.client.post(
            "/api/v1/receipts", content=body, headers={"X-Pulse-Signature": sign("anything", body)}
        )
        assert response.status_code == 503


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+05:30", "9999-12-31T23:00:00-05:00", "1066-10-14T09:00:00Z"]
)
async def test_a_receipt_time_no_database_stores_is_refused_at_the_door(api: Api, when: str) -> None:
    response = await post(api, [receipt("m1"), receipt("m2", occurred_at=when)])
    assert response.status_code == 422, response.text
    [detail] = response.json()["error"]["details"]
    assert detail["loc"] == ["receipts", 1, "occurred_at"]
    assert "1900" in detail["message"]


# --- engagement: opened and clicked ----------------------------------------------------------------


def at(minute: int) -> str:
    return f"2026-11-20T10:{minute:02d}:00Z"


async def _marks(api: Api, cid: int) -> dict[str, tuple[Any, Any, str]]:
    async with api.services.db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                Delivery.vendor_message_id, Delivery.opened_at, Delivery.clicked_at, Delivery.status
            ).where(Delivery.campaign_id == cid)
        )
        return {str(m): (o and o.minute, c and c.minute, str(s)) for m, o, c, s in rows.all()}


async def test_opens_and_clicks_count_once_per_message_in_any_order(api: Api) -> None:
    cid = await _sent_campaign(api, customers=3)
    # The click comes first, then the open it implies, then duplicates of both.
    await post(api, [receipt("m1", "clicked", occurred_at=at(5))])
    await post(api, [receipt("m1", "opened", occurred_at=at(1)), receipt("m1", "clicked", occurred_at=at(5))])
    await post(api, [receipt("m1", "clicked", occurred_at=at(9)), receipt("m2", "opened", occurred_at=at(2))])
    await post(api, [receipt("m2", "opened", occurred_at=at(2)), receipt("m1", "delivered")])
    s = await stats(api, cid)
    assert (s["opened"], s["clicked"], s["delivered"], s["sent"]) == (2, 1, 1, 2)
    marks = await _marks(api, cid)
    # The earliest of each, beside the status (an open never moves it).
    assert marks["m1"] == (1, 5, "delivered")
    assert marks["m2"] == (2, None, "sent")
    assert marks["m3"] == (None, None, "sent")
    async with api.services.db.engine.connect() as conn:
        events = (await conn.execute(sa.select(EngagementEvent.kind, sa.func.count()).group_by("kind"))).all()
    assert dict(events) == {"opened": 2, "clicked": 2}  # the clicks at 10:05 and 10:09
    await counters_match_the_log(api, cid)


async def test_engagement_for_a_message_not_recorded_yet_is_parked_then_applied(api: Api) -> None:
    cid = await _sent_campaign(api, customers=2)
    early = [receipt("late", "opened", occurred_at=at(3)), receipt("late", "clicked", occurred_at=at(4))]
    await post(api, [*early, receipt("late", "delivered", occurred_at=at(2))])
    async with api.services.db.engine.connect() as conn:
        parked = (
            await conn.execute(sa.select(ParkedReceipt.status).order_by(ParkedReceipt.status))
        ).scalars()
        assert list(parked) == ["clicked", "delivered", "opened"]
    assert (await stats(api, cid))["opened"] == 0
    # The send is recorded (as the dispatcher's `record` would), and the periodic pass settles them.
    async with api.services.db.engine.begin() as conn:
        await conn.execute(
            sa.update(Delivery).where(Delivery.vendor_message_id == "m2").values(vendor_message_id="late")
        )
        await store.settle_parked(conn, now=utcnow())
    s = await stats(api, cid)
    assert (s["opened"], s["clicked"], s["delivered"]) == (1, 1, 1)
    assert (await _marks(api, cid))["late"] == (3, 4, "delivered")
    async with api.services.db.engine.connect() as conn:
        assert (await conn.scalar(sa.select(sa.func.count()).select_from(ParkedReceipt))) == 0


async def test_a_receipt_parked_for_days_is_forgotten(api: Api) -> None:
    """A receipt for a message never recorded (a test send, a send lost to a killed worker)
    does not stay parked for ever; one parked recently still waits for its message."""
    await _sent_campaign(api, customers=1)
    await post(api, [receipt("test-send-1", "delivered"), receipt("fresh", "delivered")])
    async with api.services.db.engine.begin() as conn:
        await conn.execute(
            sa.update(ParkedReceipt)
            .where(ParkedReceipt.message_id == "test-send-1")
            .values(received_at=utcnow() - store.PARKED_RETENTION - timedelta(minutes=1))
        )
        await store.settle_parked(conn, now=utcnow())
    async with api.services.db.engine.connect() as conn:
        left = (await conn.execute(sa.select(ParkedReceipt.message_id))).scalars().all()
    assert left == ["fresh"]
