"""Send-time suggestion: the hours an audience orders in, counted in SQL, shown in local time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pulsecrm.ai.send_time import next_start
from pulsecrm.db import utcnow
from tests.conftest import Api

# (customer, city, UTC times of their orders)
PEOPLE = [
    ("a", "Pune", ["2026-10-01T12:45:00Z", "2026-10-03T12:50:00Z"]),  # 18:15, 18:20 in India
    ("b", "Pune", ["2026-10-02T12:40:00Z", "2026-10-04T14:10:00Z"]),  # 18:10, 19:40
    ("c", "Pune", ["2026-10-05T03:00:00Z"]),  # 08:30
    ("d", "Delhi", ["2026-10-05T03:00:00Z", "2026-10-06T03:10:00Z"]),  # another audience
]


async def test_send_time_from_order_hours(inline_api: Api) -> None:
    client = inline_api.client
    customers = [{"external_id": i, "name": f"N {i}", "city": c} for i, c, _ in PEOPLE]
    orders = [
        {"external_id": f"{i}-{k}", "customer_external_id": i, "amount": "100", "ordered_at": at}
        for i, _, times in PEOPLE
        for k, at in enumerate(times)
    ]
    assert (await client.post("/api/v1/customers", json=customers)).status_code in (201, 202)
    assert (await client.post("/api/v1/orders", json=orders)).status_code in (201, 202)
    pune = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Pune"}]}

    india = await client.post("/api/v1/ai/send-time", json={"rules": pune, "timezone": "Asia/Kolkata"})
    assert india.status_code == 200, india.text
    body = india.json()
    assert body["orders"] == 5
    assert (
        body["hours"][18] == 3
        and body["hours"][19] == 1
        and body["hours"][8] == 1
        and sum(body["hours"]) == 5
    )
    assert (body["suggested_hour"], body["share"]) == (17, 0.8)  # 17:00-20:00 holds 4 of 5
    assert body["sentence"] == (
        "80% of this audience's 5 orders were placed between 17:00 and 20:00 (Asia/Kolkata): send at 17:00."
    )

    # The next 17:00 in India, as the wizard puts it in the schedule.
    next_at = datetime.fromisoformat(body["next_at"])
    assert body["next_at"][-6:] == "+05:30" and (next_at.hour, next_at.minute) == (17, 0)
    assert 0 < (next_at - utcnow()).total_seconds() <= 86_400

    utc = (await client.post("/api/v1/ai/send-time", json={"rules": pune})).json()
    assert utc["hours"][12] == 3 and utc["hours"][14] == 1 and utc["hours"][3] == 1
    assert (utc["suggested_hour"], utc["timezone"]) == (12, "UTC")

    nobody = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Nowhere"}]}
    none = (await client.post("/api/v1/ai/send-time", json={"rules": nobody})).json()
    assert (none["orders"], none["suggested_hour"], none["share"]) == (0, None, 0.0)
    assert none["sentence"].startswith("This audience has no orders yet") and none["next_at"] is None

    for zone in ("Mars/Olympus", "../etc/passwd", "America"):
        bad = await client.post("/api/v1/ai/send-time", json={"timezone": zone})
        assert bad.status_code == 422 and "timezone" in bad.text


def test_the_next_start_of_an_hour_in_a_zone() -> None:
    india = ZoneInfo("Asia/Kolkata")
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 15:30 in India
    assert next_start(17, india, now).isoformat() == "2026-12-01T17:00:00+05:30"  # later today
    assert next_start(9, india, now).isoformat() == "2026-12-02T09:00:00+05:30"  # passed: tomorrow
    assert next_start(15, india, now).isoformat() == "2026-12-02T15:00:00+05:30"  # 15:30 is past it
    exactly = datetime(2026, 12, 1, 11, 30, tzinfo=UTC)  # 17:00 in India, to the second
    assert next_start(17, india, exactly).isoformat() == "2026-12-02T17:00:00+05:30"
    # Across a daylight-saving change: the offset is that day's, and a skipped hour moves past the gap.
    york = ZoneInfo("America/New_York")
    saturday = datetime(2027, 3, 13, 20, 0, tzinfo=UTC)  # 15:00 EST, the day before the change
    assert next_start(9, york, saturday).isoformat() == "2027-03-14T09:00:00-04:00"
    assert next_start(2, york, saturday).isoformat() == "2027-03-14T03:00:00-04:00"
