"""When messages go out: scheduled campaigns, best-hour sending, quiet hours and the frequency
cap, through the API and the dispatcher, on a clock the test sets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from pulsecrm.campaigns import service
from pulsecrm.db import utcnow
from pulsecrm.delivery import quiet
from pulsecrm.delivery.dispatcher import Dispatcher
from pulsecrm.delivery.models import Delivery
from tests.conftest import Api, Web
from tests.delivery.test_dispatcher import FakeVendor, dispatcher, stats
from tests.web.test_pages import _api

IST = ZoneInfo("Asia/Kolkata")
EVERYONE = {"op": "and", "rules": []}


class Clock:
    """A settable clock for the dispatcher and the services."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def ist(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, tzinfo=IST)


async def _people(api: Api, n: int, *, start: int = 0) -> None:
    people = [
        {"external_id": f"c{i}", "name": f"Person{i} X", "phone": f"+91 90000 {i:05d}", "email": f"p{i}@x.in"}
        for i in range(start, start + n)
    ]
    assert (await api.client.post("/api/v1/customers", json=people)).status_code == 201


async def _create(api: Api, **extra: Any) -> int:
    body = {"name": "Hello", "message": "Hi {{ first_name }}", "rules": EVERYONE, **extra}
    answer = await api.client.post("/api/v1/campaigns", json=body)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _clocked(api: Api, clock: Clock, vendor: FakeVendor, **settings: Any) -> Dispatcher:
    d = dispatcher(api, vendor, **settings)
    d.clock = clock
    return d


# --- scheduled campaigns ---------------------------------------------------------------------


async def test_a_past_schedule_is_refused_naming_the_field(inline_api: Api) -> None:
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    body = {"name": "Late", "message": "Hi", "rules": EVERYONE, "scheduled_at": past}
    answer = await inline_api.client.post("/api/v1/campaigns", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["loc"] == ["body", "scheduled_at"]
    naive = {**body, "scheduled_at": "2030-01-01T10:00:00"}
    assert (await inline_api.client.post("/api/v1/campaigns", json=naive)).status_code == 422


async def test_a_scheduled_campaign_is_armed_then_fires_once_at_its_time(inline_api: Api) -> None:
    await _people(inline_api, 3)
    at = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    cid = await _create(inline_api, scheduled_at=at.isoformat())
    launched = await inline_api.client.post(f"/api/v1/campaigns/{cid}/launch")
    assert launched.status_code == 202
    body = launched.json()
    assert (body["status"], body["stats"]["audience"], body["launched_at"]) == ("scheduled", 0, None)
    assert datetime.fromisoformat(body["scheduled_at"]) == at
    listed = (await inline_api.client.get("/api/v1/campaigns", params={"status": "scheduled"})).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    await _people(inline_api, 2, start=3)  # joins before the time: the audience is frozen at firing

    clock, vendor = Clock(at - timedelta(seconds=1)), FakeVendor()
    first, second = _clocked(inline_api, clock, vendor), _clocked(inline_api, clock, vendor)
    try:
        assert await first.fire_due() == 0
        assert await first.run_once() == 0
        clock.now = at
        assert await first.fire_due() == 1
        assert await second.fire_due() == 0  # already running: fired once
        assert await first.fire_due() == 0
        assert await second.run_once() == 5
    finally:
        await first.close()
        await second.close()
    s = await stats(inline_api, cid)
    assert (s["status"], s["audience"], s["sent"]) == ("running", 5, 5)
    assert set(vendor.accepted.values()) == {1}
    body = (await inline_api.client.get(f"/api/v1/campaigns/{cid}")).json()
    assert datetime.fromisoformat(body["launched_at"]) == at


async def test_two_dispatchers_racing_fire_each_campaign_once(inline_api: Api) -> None:
    await _people(inline_api, 2)
    at = (utcnow() + timedelta(minutes=5)).replace(microsecond=0)
    ids = [await _create(inline_api, name=f"c{i}", scheduled_at=at.isoformat()) for i in range(4)]
    for cid in ids:
        assert (await inline_api.client.post(f"/api/v1/campaigns/{cid}/launch")).json()[
            "status"
        ] == "scheduled"
    clock = Clock(at + timedelta(milliseconds=1))
    racers = [_clocked(inline_api, clock, FakeVendor()) for _ in range(3)]
    try:
        fired = await asyncio.gather(*(d.fire_due() for d in racers))
    finally:
        for d in racers:
            await d.close()
    assert sum(fired) == 4
    async with inline_api.services.db.sessions() as session:
        counted = await session.execute(
            sa.select(Delivery.campaign_id, sa.func.count()).group_by(Delivery.campaign_id)
        )
        per_campaign = {int(cid): int(n) for cid, n in counted}
    assert per_campaign == {cid: 2 for cid in ids}


async def test_rescheduling_and_cancelling_before_the_time(inline_api: Api) -> None:
    await _people(inline_api, 1)
    at = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    cid = await _create(inline_api, scheduled_at=at.isoformat())
    await inline_api.client.post(f"/api/v1/campaigns/{cid}/launch")
    later = at + timedelta(hours=1)
    moved = await inline_api.client.post(
        f"/api/v1/campaigns/{cid}/schedule", json={"scheduled_at": later.isoformat()}
    )
    assert moved.status_code == 200 and moved.json()["status"] == "scheduled"
    past = await inline_api.client.post(
        f"/api/v1/campaigns/{cid}/schedule", json={"scheduled_at": "2020-01-01T00:00:00Z"}
    )
    assert past.status_code == 422 and past.json()["error"]["details"][0]["loc"] == ["body", "scheduled_at"]

    clock = Clock(at + timedelta(minutes=1))  # the old time: nothing fires
    d = _clocked(inline_api, clock, FakeVendor())
    try:
        assert await d.fire_due() == 0
        cancelled = await inline_api.client.post(f"/api/v1/campaigns/{cid}/cancel")
        assert cancelled.json()["status"] == "cancelled"
        clock.now = later + timedelta(minutes=1)
        assert await d.fire_due() == 0
    finally:
        await d.close()
    again = await inline_api.client.post(f"/api/v1/campaigns/{cid}/schedule", json={"scheduled_at": None})
    assert again.status_code == 409


async def test_a_draft_whose_time_passed_launches_at_once(inline_api: Api) -> None:
    await _people(inline_api, 1)
    cid = await _create(inline_api, scheduled_at=(utcnow() + timedelta(seconds=1)).isoformat())
    await asyncio.sleep(1.1)
    body = (await inline_api.client.post(f"/api/v1/campaigns/{cid}/launch")).json()
    assert (body["status"], body["stats"]["pending"]) == ("running", 1)


# --- best hour ---------------------------------------------------------------------------------


async def _orders(api: Api, customer: str, times: list[datetime]) -> None:
    orders = [
        {
            "external_id": f"{customer}-o{i}",
            "customer_external_id": customer,
            "amount": 100,
            "ordered_at": t.isoformat(),
        }
        for i, t in enumerate(times)
    ]
    assert (await api.client.post("/api/v1/orders", json=orders)).status_code == 201


async def test_each_customer_is_planned_at_their_best_hour(inline_api: Api) -> None:
    await _people(inline_api, 3)
    # c0 orders at 19:xx store time (and once in the morning); c1 at 11:xx, more often: the
    # audience's hour is 11; c2 never ordered and takes it.
    await _orders(inline_api, "c0", [ist(3, 19, 10), ist(5, 19, 55), ist(6, 8, 0)])
    # An order at 05:45 UTC is 11:15 in Kolkata (+05:30): the half hour matters.
    await _orders(inline_api, "c1", [ist(2, 11, 5), ist(4, 11, 40), datetime(2027, 1, 7, 5, 45, tzinfo=UTC)])
    hours = (await inline_api.client.post("/api/v1/campaigns/send-hours", json={"rules": EVERYONE})).json()
    assert hours["timezone"] == "Asia/Kolkata"
    assert {h: n for h, n in hours["hours"].items() if n} == {"11": 2, "19": 1}

    cid = await _create(inline_api, send_at="best_hour")
    launched_at = ist(15, 10, 20)
    settings = inline_api.services.settings
    async with inline_api.services.db.sessions() as session:
        catalog = await inline_api.services.catalog.get(session)
        await service.launch(session, cid, catalog, settings=settings, now=launched_at)
        await session.commit()
    async with inline_api.services.db.sessions() as session:
        rows = await session.execute(sa.select(Delivery.customer_id, Delivery.next_attempt_at))
        when = sorted(t for _, t in rows)
    assert when == [ist(15, 11), ist(15, 11), ist(15, 19)]
    s = await stats(inline_api, cid)
    assert (s["audience"], s["pending"]) == (3, 3)

    clock, vendor = Clock(ist(15, 10, 59)), FakeVendor()
    d = _clocked(inline_api, clock, vendor)
    try:
        assert await d.run_once() == 0
        clock.now = ist(15, 11)
        assert await d.run_once() == 2
        clock.now = ist(15, 18, 59)
        assert await d.run_once() == 0
        clock.now = ist(15, 19)
        assert await d.run_once() == 1
    finally:
        await d.close()
    assert sorted(m["to"][-1] for call in vendor.calls for m in call) == ["0", "1", "2"]


def test_best_hours_within_a_day_of_the_launch() -> None:
    from pulsecrm.campaigns.timing import hour_starts

    now = ist(15, 10, 20).astimezone(UTC)
    starts = hour_starts(now, IST)
    assert starts[10] == now  # the current hour: at once
    assert starts[11] == ist(15, 11) and starts[23] == ist(15, 23)
    assert starts[9] == ist(16, 9) and starts[0] == ist(16, 0)
    assert all(now <= s < now + timedelta(hours=24) for s in starts)


# --- quiet hours -------------------------------------------------------------------------------


def test_quiet_span_end() -> None:
    assert quiet.until(ist(15, 22, 30), "21:00-09:00", IST) == ist(16, 9)
    assert quiet.until(ist(16, 3, 0), "21:00-09:00", IST) == ist(16, 9)
    assert quiet.until(ist(16, 9, 0), "21:00-09:00", IST) is None
    assert quiet.until(ist(16, 20, 59), "21:00-09:00", IST) is None
    assert quiet.until(ist(16, 13, 0), "12:00-14:00", IST) == ist(16, 14)
    assert quiet.until(ist(16, 13, 0), None, IST) is None


async def test_a_message_due_at_2230_waits_until_0900(inline_api: Api) -> None:
    await _people(inline_api, 2)
    sms = await _create(inline_api)
    email = await _create(inline_api, channel="email", subject="Hello")
    for cid in (sms, email):
        await inline_api.client.post(f"/api/v1/campaigns/{cid}/launch")
    clock, vendor = Clock(ist(15, 22, 30)), FakeVendor()
    d = _clocked(inline_api, clock, vendor, sms_quiet_hours="21:00-09:00")
    try:
        assert await d.run_once() == 2  # e-mail has no quiet hours by default
        assert (await stats(inline_api, sms))["pending"] == 2
        clock.now = ist(16, 8, 59)
        assert await d.run_once() == 0
        clock.now = ist(16, 9)
        assert await d.run_once() == 2
    finally:
        await d.close()
    s = await stats(inline_api, sms)
    assert (s["pending"], s["sent"], s["failed"]) == (0, 2, 0)
    log = (await inline_api.client.get(f"/api/v1/campaigns/{sms}/deliveries")).json()["items"]
    assert {datetime.fromisoformat(item["sent_at"]) for item in log} == {ist(16, 9)}


# --- frequency cap -----------------------------------------------------------------------------


async def test_the_cap_leaves_out_and_counts_exactly(inline_api: Api) -> None:
    await _people(inline_api, 10)
    four = {"field": "external_id", "cmp": "in", "value": [f"c{i}" for i in range(4)]}
    first = await _create(inline_api, rules={"op": "and", "rules": [four]})
    await inline_api.client.post(f"/api/v1/campaigns/{first}/launch")
    vendor = FakeVendor()
    d = dispatcher(inline_api, vendor, frequency_cap_messages=1, frequency_cap_days=7)
    try:
        assert await d.run_once() == 4
        second = await _create(inline_api)
        await inline_api.client.post(f"/api/v1/campaigns/{second}/launch")
        assert await d.run_once() == 6
        assert await d.run_once() == 0
    finally:
        await d.close()
    s = await stats(inline_api, second)
    assert (s["audience"], s["sent"], s["capped"], s["pending"]) == (10, 6, 4, 0)
    capped = (
        await inline_api.client.get(f"/api/v1/campaigns/{second}/deliveries", params={"status": "capped"})
    ).json()["items"]
    assert sorted(c["customer_external_id"] for c in capped) == [f"c{i}" for i in range(4)]
    assert all("frequency cap" in c["error"] for c in capped)
    assert sum(len(call) for call in vendor.calls) == 10


async def test_the_cap_holds_when_two_dispatchers_send_two_campaigns_at_once(inline_api: Api) -> None:
    await _people(inline_api, 20)
    ids = [await _create(inline_api, name=f"c{i}") for i in range(2)]
    for cid in ids:
        await inline_api.client.post(f"/api/v1/campaigns/{cid}/launch")
    vendor = FakeVendor()
    racers = [
        dispatcher(inline_api, vendor, frequency_cap_messages=1, delivery_batch_size=5) for _ in range(2)
    ]
    try:
        for _ in range(100):  # a pass whose whole batch was capped sends nothing: go on until settled
            await asyncio.gather(*(d.run_once() for d in racers))
            if not any([(await stats(inline_api, cid))["pending"] for cid in ids]):
                break
    finally:
        for d in racers:
            await d.close()
    both = [await stats(inline_api, cid) for cid in ids]
    assert sum(s["sent"] for s in both) == 20
    assert sum(s["capped"] for s in both) == 20
    to = [m["to"] for call in vendor.calls for m in call]
    assert len(to) == len(set(to)) == 20


# --- pages -------------------------------------------------------------------------------------


async def test_pages_show_a_scheduled_campaign_in_store_time(web: Web) -> None:
    at = datetime(2031, 1, 15, 13, 30, tzinfo=UTC)  # 19:00 in Kolkata
    campaign = await _api(
        web,
        "POST",
        "/api/v1/campaigns",
        {
            "name": "Evening",
            "rules": EVERYONE,
            "message": "Hi",
            "scheduled_at": at.isoformat(),
            "send_at": "best_hour",
        },
    )
    await _api(web, "POST", f"/api/v1/campaigns/{campaign['id']}/launch")
    page = await web.client.get(f"/campaigns/{campaign['id']}")
    assert "badge-scheduled" in page.text
    assert "starts 15 Jan 2031, 19:00 IST" in page.text and "best hour" in page.text
    history = await web.client.get("/campaigns", params={"status": "scheduled"})
    assert "Evening" in history.text and '?status=scheduled" aria-current="page"' in history.text
    wizard = await web.client.get("/campaigns/new")
    assert 'value="best_hour"' in wizard.text and 'data-utc-offset="+05:30"' in wizard.text
    assert (await web.form(f"/campaigns/{campaign['id']}/cancel")).status_code == 303
    assert (await _api(web, "GET", f"/api/v1/campaigns/{campaign['id']}"))["status"] == "cancelled"


async def test_the_campaign_page_says_when_quiet_hours_end(web: Web) -> None:
    local = utcnow().astimezone(IST)
    span = f"{(local - timedelta(hours=1)):%H:%M}-{(local + timedelta(hours=1)):%H:%M}"
    web.api.services.settings = web.api.services.settings.model_copy(update={"sms_quiet_hours": span})
    await _people(web.api, 1)
    campaign = await _api(
        web, "POST", "/api/v1/campaigns", {"name": "Late", "rules": EVERYONE, "message": "Hi"}
    )
    launched = await _api(web, "POST", f"/api/v1/campaigns/{campaign['id']}/launch")
    live = await web.client.get(f"/campaigns/{campaign['id']}/live")
    assert "quiet hours for SMS: sending resumes" in live.text
    assert f"{(local + timedelta(hours=1)):%H:%M} IST" in live.text
    # The API says so too: a campaign held by quiet hours is not a stuck one.
    resumes = (local + timedelta(hours=1)).replace(second=0, microsecond=0)
    assert datetime.fromisoformat(launched["quiet_until"]) == resumes
    shown = await _api(web, "GET", f"/api/v1/campaigns/{campaign['id']}")
    assert datetime.fromisoformat(shown["quiet_until"]) == resumes
    listed = await _api(web, "GET", "/api/v1/campaigns?status=running")
    assert [c["quiet_until"] for c in listed["items"]] == [launched["quiet_until"]]
    web.api.services.settings = web.api.services.settings.model_copy(update={"sms_quiet_hours": None})
    assert (await _api(web, "GET", f"/api/v1/campaigns/{campaign['id']}"))["quiet_until"] is None
