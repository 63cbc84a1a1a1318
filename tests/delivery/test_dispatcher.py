"""The dispatcher against a fake vendor (httpx.MockTransport behind the real vendor channel):
sends, retries, the error policy, limits, crashes."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from pulsecrm.db import utcnow
from pulsecrm.delivery import store
from pulsecrm.delivery.channels import Sent
from pulsecrm.delivery.dispatcher import Dispatcher
from pulsecrm.delivery.models import Delivery
from tests.conftest import Api, running_api


class FakeVendor:
    """Deduplicates by idempotency key, like the real one; can be told to fail first."""

    def __init__(self, plan: list[int] | None = None, retry_after: str | None = None) -> None:
        self.plan = list(plan or [])
        self.retry_after = retry_after
        self.ids: dict[str, str] = {}
        self.calls: list[list[dict[str, Any]]] = []
        self.accepted = Counter[str]()
        self.down = False
        self._n = itertools.count(1)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        messages = orjson.loads(request.content)["messages"]
        self.calls.append(messages)
        if self.plan:
            status = self.plan.pop(0)
            if status == 0:
                raise httpx.ReadTimeout("timed out", request=request)
            if status != 200:
                headers = {"Retry-After": self.retry_after} if self.retry_after else {}
                return httpx.Response(status, headers=headers, json={"error": "injected"})
        results = []
        for m in messages:
            key = m["idempotency_key"]
            duplicate = key in self.ids
            if not duplicate:
                self.ids[key] = f"vm_{next(self._n)}"
                self.accepted[key] += 1
            results.append({"idempotency_key": key, "message_id": self.ids[key], "duplicate": duplicate})
        return httpx.Response(200, json={"results": results})


async def _campaign(api: Api, *, people: int = 5, rate_limit: int | None = None, phones: bool = True) -> int:
    customers = [
        {
            "external_id": f"c{i}",
            "name": f"Person{i} X",
            "city": "Pune",
            **({"phone": f"+91 90000 0000{i}"} if phones or i % 2 else {}),
        }
        for i in range(people)
    ]
    assert (await api.client.post("/api/v1/customers", json=customers)).status_code == 201
    body = {
        "name": "Hello",
        "message": "Hi {{ first_name }} from {{ city }}",
        "rules": {"op": "and", "rules": []},
        "rate_limit": rate_limit,
    }
    cid = int((await api.client.post("/api/v1/campaigns", json=body)).json()["id"])
    assert (await api.client.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
    return cid


def dispatcher(api: Api, vendor: FakeVendor, **settings: Any) -> Dispatcher:
    config = api.services.settings.model_copy(update={"delivery_max_attempts": 3, **settings})
    return Dispatcher.build(api.services.db, config, None, transport=httpx.MockTransport(vendor))


async def stats(api: Api, cid: int) -> dict[str, Any]:
    body = (await api.client.get(f"/api/v1/campaigns/{cid}")).json()
    return dict(body["stats"]) | {"status": body["status"]}


async def make_due(api: Api) -> None:
    """Skip the backoff wait, as time passing would."""
    async with api.services.db.engine.begin() as conn:
        await conn.execute(
            sa.update(Delivery)
            .where(Delivery.status == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def test_sends_each_customer_one_personal_message(inline_api: Api) -> None:
    cid = await _campaign(inline_api)
    vendor = FakeVendor()
    d = dispatcher(inline_api, vendor)
    try:
        assert await d.run_once() == 5
        assert await d.run_once() == 0
    finally:
        await d.close()
    assert len(vendor.calls) == 1
    bodies = sorted(m["body"] for m in vendor.calls[0])
    assert bodies == [f"Hi Person{i} from Pune" for i in range(5)]
    assert len({m["idempotency_key"] for m in vendor.calls[0]}) == 5
    s = await stats(inline_api, cid)
    assert (s["pending"], s["sent"], s["status"]) == (0, 5, "running")
    log = (await inline_api.client.get(f"/api/v1/campaigns/{cid}/deliveries")).json()["items"]
    assert {d["status"] for d in log} == {"sent"}
    assert len({d["vendor_message_id"] for d in log}) == 5


async def test_vendor_errors_pause_the_campaign_without_using_up_attempts(inline_api: Api) -> None:
    cid = await _campaign(inline_api, people=6)
    vendor = FakeVendor(plan=[500, 503, 500])
    d = dispatcher(inline_api, vendor, delivery_batch_size=2, delivery_concurrency=1)
    try:
        for _ in range(3):  # three batches refused in a row: the policy pauses the campaign
            assert await d.run_once() == 2
        body = (await inline_api.client.get(f"/api/v1/campaigns/{cid}")).json()
        assert body["status"] == "paused"
        assert body["pause"]["by_policy"] is True
        assert body["pause"]["reason"] == "vendor answered 500 (3 batches in a row)"
        assert (body["stats"]["pending"], body["stats"]["failed"]) == (6, 0)
        async with inline_api.services.db.sessions() as session:
            assert set(await session.scalars(sa.select(Delivery.attempts))) == {0}  # none used up
        assert await d.run_once() == 0  # paused: nothing is claimed
        vendor.down = True
        assert await d.probe_paused() == 0  # still away: stays paused
        vendor.down = False
        assert await d.probe_paused() == 1
        await make_due(inline_api)
        while await d.run_once():
            pass
    finally:
        await d.close()
    body = (await inline_api.client.get(f"/api/v1/campaigns/{cid}")).json()
    assert (body["status"], body["pause"], body["stats"]["sent"]) == ("running", None, 6)
    assert set(vendor.accepted.values()) == {1}


async def test_a_person_paused_campaign_is_not_resumed_by_the_probe(inline_api: Api) -> None:
    cid = await _campaign(inline_api, people=2)
    d = dispatcher(inline_api, FakeVendor())
    try:
        assert (await inline_api.client.post(f"/api/v1/campaigns/{cid}/pause")).status_code == 200
        assert await d.probe_paused() == 0
    finally:
        await d.close()
    body = (await inline_api.client.get(f"/api/v1/campaigns/{cid}")).json()
    assert body["status"] == "paused" and body["pause"]["by_policy"] is False


async def test_giving_up_after_a_timeout_is_unknown_and_a_late_receipt_settles_it(inline_api: Api) -> None:
    from pulsecrm.delivery.receipts import sign

    cid = await _campaign(inline_api, people=1)
    vendor = FakeVendor(plan=[0, 0, 0])  # every call timed out: the vendor may have it
    d = dispatcher(inline_api, vendor)
    try:
        for _ in range(3):
            await d.run_once()
            await make_due(inline_api)
    finally:
        await d.close()
    s = await stats(inline_api, cid)
    assert (s["pending"], s["failed"], s["unknown"], s["status"]) == (0, 0, 1, "completed")
    late = orjson.dumps(
        {"receipts": [{"message_id": "vm_1", "status": "delivered", "occurred_at": "2026-11-20T10:00:00Z"}]}
    )
    async with inline_api.services.db.engine.begin() as conn:  # the vendor's id, learnt from its log
        await conn.execute(sa.update(Delivery).values(vendor_message_id="vm_1"))
    await inline_api.client.post(
        "/api/v1/receipts", content=late, headers={"X-Pulse-Signature": sign("test-webhook-secret", late)}
    )
    s = await stats(inline_api, cid)
    assert (s["unknown"], s["delivered"]) == (0, 1)


async def test_429_waits_at_least_retry_after_then_succeeds(inline_api: Api) -> None:
    cid = await _campaign(inline_api, people=2)
    vendor = FakeVendor(plan=[429], retry_after="30")
    d = dispatcher(inline_api, vendor)
    try:
        await d.run_once()
        async with inline_api.services.db.sessions() as session:
            waits = [n - utcnow() for n in await session.scalars(sa.select(Delivery.next_attempt_at))]
        assert all(w > timedelta(seconds=25) for w in waits if w is not None)
        await make_due(inline_api)
        await d.run_once()
    finally:
        await d.close()
    assert (await stats(inline_api, cid))["sent"] == 2


async def test_pause_stops_sending_and_resume_continues_without_repeats(inline_api: Api) -> None:
    cid = await _campaign(inline_api, people=6)
    vendor = FakeVendor()
    d = dispatcher(inline_api, vendor, delivery_batch_size=2, delivery_concurrency=1)
    try:
        assert await d.run_once() == 2
        await inline_api.client.post(f"/api/v1/campaigns/{cid}/pause")
        assert await d.run_once() == 0
        assert await d.run_once() == 0
        await inline_api.client.post(f"/api/v1/campaigns/{cid}/resume")
        while await d.run_once():
            pass
    finally:
        await d.close()
    assert sum(vendor.accepted.values()) == 6
    assert set(vendor.accepted.values()) == {1}
    assert (await stats(inline_api, cid))["sent"] == 6


async def test_a_crashed_sender_is_retried_and_the_vendor_drops_the_duplicate(inline_api: Api) -> None:
    cid = await _campaign(inline_api, people=4)
    vendor = FakeVendor()
    first = dispatcher(inline_api, vendor)
    # The first sender claims and the vendor accepts, then it dies before recording anything.
    claimed = await first.claim(cid, 10)
    async with first.db.read() as session:
        from pulsecrm.campaigns.models import Campaign

        campaign = await session.get(Campaign, cid)
    assert campaign is not None
    recorded = first.record
    first.record = _die  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await first.send(campaign, claimed)
    first.record = recorded  # type: ignore[method-assign]
    await first.close()
    assert len(vendor.accepted) == 4
    # Its lease runs out; another sender claims the same deliveries and sends them again.
    await make_due(inline_api)
    second = dispatcher(inline_api, vendor)
    try:
        assert await second.run_once() == 4
    finally:
        await second.close()
    assert all(m["idempotency_key"] in vendor.ids for m in vendor.calls[1])
    assert set(vendor.accepted.values()) == {1}  # each customer got one message
    s = await stats(inline_api, cid)
    assert (s["pending"], s["sent"]) == (0, 4)


async def test_a_due_retry_is_claimed_before_the_fresh_ones_and_none_twice(inline_api: Api) -> None:
    cid = await _campaign(inline_api, people=5)
    d = dispatcher(inline_api, FakeVendor())
    try:
        first = [c.delivery_id for c in await d.claim(cid, 2)]
        async with inline_api.services.db.engine.begin() as conn:
            ids = list(
                (
                    await conn.execute(
                        sa.select(Delivery.id).where(Delivery.campaign_id == cid).order_by(Delivery.id)
                    )
                ).scalars()
            )
        assert first == ids[:2]  # the launch's fresh messages, in audience order
        async with inline_api.services.db.engine.begin() as conn:  # their lease ran out
            await conn.execute(
                sa.update(Delivery)
                .where(Delivery.id.in_(first))
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        second = [c.delivery_id for c in await d.claim(cid, 3)]
        rest = [c.delivery_id for c in await d.claim(cid, 10)]
    finally:
        await d.close()
    assert second == ids[:3]  # both retries first, then the next fresh one
    assert rest == ids[3:]
    assert await d.claim(cid, 10) == []


async def _die(*_: Any, **__: Any) -> None:
    raise RuntimeError("killed before recording")


async def test_customers_without_a_phone_are_left_out_at_launch_and_counted(inline_api: Api) -> None:
    cid = await _campaign(inline_api, people=4, phones=False)
    d = dispatcher(inline_api, FakeVendor())
    try:
        await d.run_once()
    finally:
        await d.close()
    s = await stats(inline_api, cid)
    assert (s["audience"], s["unreachable_excluded"], s["sent"], s["failed"]) == (2, 2, 2, 0)


async def test_rate_limit_caps_messages_per_second_from_the_start(inline_api: Api) -> None:
    cid = await _campaign(inline_api, people=10, rate_limit=3)
    started = time.monotonic()
    d = dispatcher(inline_api, FakeVendor())
    sent = 0
    try:
        while sent < 3:
            assert time.monotonic() - started < 30, "the rate-limited campaign stopped sending"
            sent += await d.run_once()
            # Never more than the bucket earned since it started empty: no burst at start-up,
            # and no more than 3 a second after. (A slow machine only sends fewer.)
            assert sent <= 3 * (time.monotonic() - started)
            await asyncio.sleep(0.05)
    finally:
        await d.close()
    assert (await stats(inline_api, cid))["sent"] == sent


async def test_early_receipts_apply_when_the_send_is_recorded_and_stale_sends_become_unknown(
    inline_api: Api,
) -> None:
    from pulsecrm.delivery.receipts import sign

    cid = await _campaign(inline_api, people=2)
    vendor = FakeVendor()
    early = orjson.dumps(
        {"receipts": [{"message_id": "vm_1", "status": "delivered", "occurred_at": "2026-11-20T10:00:00Z"}]}
    )
    response = await inline_api.client.post(
        "/api/v1/receipts", content=early, headers={"X-Pulse-Signature": sign("test-webhook-secret", early)}
    )
    assert response.json()["parked"] == 1
    d = dispatcher(inline_api, vendor, delivery_unconfirmed_seconds=0.001)
    try:
        await d.run_once()
        s = await stats(inline_api, cid)
        assert (s["sent"], s["delivered"]) == (1, 1)  # the parked receipt landed at once
        assert await d.sweep() == 1
    finally:
        await d.close()
    s = await stats(inline_api, cid)
    assert (s["sent"], s["unknown"], s["delivered"], s["status"]) == (0, 1, 1, "completed")


async def test_a_customer_who_unsubscribed_after_launch_is_cancelled_and_the_rest_sent(
    inline_api: Api,
) -> None:
    # Regression: `store.record` looked up an outcome for the withdrawn delivery too, which the
    # transport never saw, and raised KeyError: the whole batch stayed claimed, retried forever.
    cid = await _campaign(inline_api)
    assert (await inline_api.client.post("/api/v1/customers/c2/unsubscribe")).status_code == 200
    vendor = FakeVendor()
    d = dispatcher(inline_api, vendor)
    try:
        assert await d.run_once() == 5
    finally:
        await d.close()
    assert sorted(m["body"] for m in vendor.calls[0]) == [f"Hi Person{i} from Pune" for i in (0, 1, 3, 4)]
    s = await stats(inline_api, cid)
    assert (s["pending"], s["sent"], s["cancelled"]) == (0, 4, 1), s
    log = (await inline_api.client.get(f"/api/v1/campaigns/{cid}/deliveries?status=cancelled")).json()[
        "items"
    ]
    assert [d["error"] for d in log] == ["unsubscribed after launch"]


async def test_a_customer_deleted_by_hand_after_launch_is_not_messaged(inline_api: Api) -> None:
    # Pulse deletes no customer, but someone with SQL access may. PostgreSQL has no key from
    # deliveries to customers (`models.audience_key`): the delivery stays, and is cancelled with
    # the reason when its turn comes, so the counters still add up. SQLite's key takes it along.
    cid = await _campaign(inline_api)
    db = inline_api.services.db
    async with db.engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM customers WHERE external_id = 'c2'"))
    vendor = FakeVendor()
    d = dispatcher(inline_api, vendor)
    try:
        await d.run_once()
    finally:
        await d.close()
    assert sorted(m["body"] for m in vendor.calls[0]) == [f"Hi Person{i} from Pune" for i in (0, 1, 3, 4)]
    async with db.engine.connect() as conn:
        rows = sorted((await conn.execute(sa.select(Delivery.status, Delivery.error))).all())
    if db.engine.dialect.name == "sqlite":
        assert rows == [("sent", None)] * 4
        return
    assert rows == [("cancelled", "the customer was deleted")] + [("sent", None)] * 4
    s = await stats(inline_api, cid)
    assert (s["pending"], s["sent"], s["cancelled"]) == (0, 4, 1), s


@pytest.mark.postgres
async def test_cancel_waits_for_a_sender_instead_of_deadlocking(pg_database_url: str) -> None:
    # Regression: cancel locked the campaign, then its deliveries; a sender recording a batch
    # locks deliveries, then the campaign (its counters): PostgreSQL killed one as a deadlock
    # and the cancel answered 500. Cancel now takes the senders' order.
    async with running_api(pg_database_url) as api:
        cid = await _campaign(api)
        now = utcnow()
        async with api.services.db.engine.begin() as sender:
            claimed = await store.claim(
                sender,
                campaign_id=cid,
                limit=2,
                lease_until=now + timedelta(seconds=60),
                now=now,
                idempotent=True,
            )
            cancelling = asyncio.ensure_future(api.client.post(f"/api/v1/campaigns/{cid}/cancel"))
            await asyncio.sleep(0.5)  # the cancel now waits for the claimed rows
            assert not cancelling.done(), cancelling.result().text
            sent = [Sent(c.delivery_id, f"vm_lock_{c.delivery_id}") for c in claimed]
            await store.record(sender, claimed, sent, idempotent=True, max_attempts=3, now=now, withdrawn={})
        answer = await asyncio.wait_for(cancelling, 15)
        assert answer.status_code == 200, answer.text
        s = await stats(api, cid)
        assert (s["status"], s["pending"], s["sent"], s["cancelled"]) == ("cancelled", 0, 2, 3), s


async def test_each_customer_gets_the_message_of_their_variant(inline_api: Api) -> None:
    customers = [
        {"external_id": f"c{i}", "name": f"Person{i} X", "phone": f"+91 90000 0100{i}"} for i in range(8)
    ]
    assert (await inline_api.client.post("/api/v1/customers", json=customers)).status_code == 201
    body = {
        "name": "A/B",
        "variants": [{"message": "A for {{ first_name }}"}, {"message": "B for {{ first_name }}"}],
        "rules": {"op": "and", "rules": []},
    }
    cid = int((await inline_api.client.post("/api/v1/campaigns", json=body)).json()["id"])
    assert (await inline_api.client.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
    vendor = FakeVendor()
    d = dispatcher(inline_api, vendor)
    try:
        assert await d.run_once() == 8
    finally:
        await d.close()
    async with inline_api.services.db.engine.connect() as conn:
        variant_of = dict(
            (
                await conn.execute(
                    sa.select(Delivery.id, Delivery.variant).where(Delivery.campaign_id == cid)
                )
            ).all()
        )
    sent = {int(m["idempotency_key"].rsplit("-", 1)[-1]): m["body"] for m in vendor.calls[0]}
    assert {d: body.split(" ")[0] for d, body in sent.items()} == {d: "AB"[v] for d, v in variant_of.items()}


async def test_an_idle_dispatcher_rests_and_a_launch_still_starts_sending(inline_api: Api) -> None:
    """With nothing to send the loop rests longer each pass (it ran twenty a second, a sixth of
    an idle worker's core), and a campaign launched meanwhile starts within its longest rest."""
    d = dispatcher(inline_api, FakeVendor())
    passes = 0
    run_once = d.run_once

    async def counted() -> int:
        nonlocal passes
        passes += 1
        return await run_once()

    d.run_once = counted  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.create_task(d.run(stop))
    try:
        await asyncio.sleep(2)
        assert 3 <= passes <= 10  # rests of 0.05, 0.1, 0.2, 0.4, then 0.5 s
        cid = await _campaign(inline_api, people=2)
        launched = time.monotonic()
        while (await stats(inline_api, cid))["sent"] < 2:
            assert time.monotonic() - launched < 3, "the launch was not picked up"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await loop
        await d.close()
