"""Send-time suggestion: the hours an audience orders in, counted in SQL, shown in local time."""

from __future__ import annotations

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

    utc = (await client.post("/api/v1/ai/send-time", json={"rules": pune})).json()
    assert utc["hours"][12] == 3 and utc["hours"][14] == 1 and utc["hours"][3] == 1
    assert (utc["suggested_hour"], utc["timezone"]) == (12, "UTC")

    nobody = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Nowhere"}]}
    none = (await client.post("/api/v1/ai/send-time", json={"rules": nobody})).json()
    assert (none["orders"], none["suggested_hour"], none["share"]) == (0, None, 0.0)
    assert none["sentence"].startswith("This audience has no orders yet")

    for zone in ("Mars/Olympus", "../etc/passwd", "America"):
        bad = await client.post("/api/v1/ai/send-time", json={"timezone": zone})
        assert bad.status_code == 422 and "timezone" in bad.text
