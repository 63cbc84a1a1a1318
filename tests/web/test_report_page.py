"""The campaign page as a report, the history's outcome columns and the dashboard's attributed
revenue: a campaign sent through the real dispatcher, orders ingested, attribution run."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from pulsecrm import formatting
from pulsecrm.customers.models import Customer
from pulsecrm.db import utcnow
from pulsecrm.delivery.dispatcher import Dispatcher
from pulsecrm.delivery.models import Delivery
from pulsecrm.outcomes import attribution
from pulsecrm.outcomes.models import CampaignHoldout
from tests.conftest import Web
from tests.factories import customer, order

PEOPLE = 40


def _vendor(request: httpx.Request) -> httpx.Response:
    """Accepts every message, as the mock vendor does when all goes well."""
    messages = orjson.loads(request.content)["messages"]
    results = [
        {"idempotency_key": m["idempotency_key"], "message_id": "vm_" + m["idempotency_key"]}
        for m in messages
    ]
    return httpx.Response(200, json={"results": results})


async def _attribute(web: Web) -> None:
    for _ in range(4):  # the first pass places the cursor; the next seed the launch and read the feed
        await web.api.services.db.write(lambda conn: attribution.catch_up(conn, now=utcnow()))


def _text(page: str) -> str:
    """What a person reads: tags gone, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


async def _sent_campaign(web: Web, **fields: Any) -> tuple[int, list[str], list[str]]:
    people = [
        customer(external_id=f"c{i:02}", name=f"P {i}", city="Pune", phone=f"+9198{i:08}")
        for i in range(PEOPLE)
    ]
    assert (await web.api.client.post("/api/v1/customers", json=people)).status_code == 201
    body = {"name": "Report me", "rules": {"op": "and", "rules": []}, "message": "Hi", **fields}
    created = await web.api.client.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    cid = int(created.json()["id"])
    await _attribute(web)
    assert (await web.api.client.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
    dispatcher = Dispatcher.build(
        web.api.services.db, web.api.services.settings, None, transport=httpx.MockTransport(_vendor)
    )
    try:
        while await dispatcher.run_once():
            pass
    finally:
        await dispatcher.close()
    async with web.api.services.db.sessions() as session:
        messaged = (
            await session.scalars(
                sa.select(Customer.external_id)
                .join(Delivery, Delivery.customer_id == Customer.id)
                .order_by(Customer.external_id)
            )
        ).all()
        held = (
            await session.scalars(
                sa.select(Customer.external_id)
                .join(CampaignHoldout, CampaignHoldout.customer_id == Customer.id)
                .order_by(Customer.external_id)
            )
        ).all()
    return cid, list(messaged), list(held)


async def test_the_campaign_page_reads_as_a_report(web: Web) -> None:
    cid, messaged, held = await _sent_campaign(web, holdout_percent=20, attribution_days=7)
    assert (len(messaged), len(held)) == (32, 8)
    now = utcnow().isoformat()
    # 16 of 32 messaged customers buy (1,250.50 each), 1 of 8 held out buys.
    orders = [
        order(external_id=f"t{i}", customer_external_id=c, amount="1250.50", ordered_at=now)
        for i, c in enumerate(messaged[:16])
    ]
    orders.append(order(external_id="h0", customer_external_id=held[0], amount="999.00", ordered_at=now))
    assert (await web.api.client.post("/api/v1/orders", json=orders)).status_code == 201
    await _attribute(web)

    report = (await web.api.client.get(f"/api/v1/campaigns/{cid}/report")).json()
    assert report["attributed"]["converted"] == 16 and report["lift"] is not None
    page = await web.client.get(f"/campaigns/{cid}")
    assert page.status_code == 200
    text = _text(page.text)
    funnel = {
        step: _text(row)
        for step, row in re.findall(r'<tr data-funnel="(\w+)">(.*?)</tr>', page.text, flags=re.S)
    }
    assert list(funnel) == ["audience", "reachable", "sent", "delivered", "opened", "clicked", "converted"]
    assert funnel["audience"].startswith("Audience matched the rules 40")
    assert "Reachable could be messaged 40 100.0% of audience" in funnel["reachable"]
    assert "Sent went out 32 80.0% of reachable" in funnel["sent"]
    assert "Converted ordered, credited to a message 16 50.0% of sent" in funnel["converted"]
    assert "Converted 16 50.0% of messages sent" in text
    assert "Revenue ₹20,008 credited to this campaign" in text  # 16 x 1,250.50
    assert "Revenue per message ₹625.25" in text
    assert report["lift"]["sentence"] in text
    assert "Treatment (messaged) 32 16 50.0% 16 ₹20,008" in text
    assert "Control (held out, 20%) 8 1 12.5% 1 ₹999" in text
    assert "Orders count within 7 days of a message" in text
    # The chart: drawn on the server, with axes, ticks and a legend.
    assert 'data-testid="activity-chart"' in page.text and 'data-testid="revenue-chart"' in page.text
    assert "Time (UTC)" in text and "Per 5 minutes" in text and "Revenue per 5 minutes" in text
    y_ticks = re.findall(r'<text class="tick y"[^>]*>([^<]+)</text>', page.text)
    assert y_ticks[:5] == ["0", "10", "20", "30", "40"]  # the counts' axis reaches the 32 sends
    assert y_ticks[5:] == ["₹0", "₹10,000", "₹20,000", "₹30,000"]  # revenue's reaches ₹20,008
    assert "Sent Opens Clicks Orders" in text
    assert "No activity yet" not in text

    # The polled parts carry the same figures.
    live = _text((await web.client.get(f"/campaigns/{cid}/live")).text)
    assert report["lift"]["sentence"] in live and "₹20,008" in live
    chart = await web.client.get(f"/campaigns/{cid}/chart")
    assert 'data-testid="activity-chart"' in chart.text and 'hx-trigger="every 30s"' in chart.text

    history = _text((await web.client.get("/campaigns")).text)
    assert "Converted Revenue" in history and "16 ₹20,008" in history
    home = await web.client.get("/")
    assert 'data-testid="attributed-revenue">₹20,008<' in home.text
    assert "16 orders placed since" in _text(home.text)
    # The trend: today's credited orders, on today's bar of the attributed revenue chart.
    assert "Attributed revenue ₹20,008" in _text(home.text)
    today = formatting.date_(utcnow().astimezone(formatting.store_zone()).date())
    assert f"<title>{today}: ₹20,008</title>" in home.text.split('data-testid="trend-4"')[1]


async def test_without_a_holdout_the_page_says_why_there_is_no_lift(web: Web) -> None:
    cid, _, held = await _sent_campaign(web)
    assert held == []
    page = _text((await web.client.get(f"/campaigns/{cid}")).text)
    assert "No control group: lift can't be measured." in page
    assert "Control (held out" not in page
    # Sent, nothing bought yet: the chart shows the sends, the revenue chart stays flat.
    assert "Sent Opens Clicks Orders" in page and "No activity yet" not in page


async def test_a_draft_has_no_activity_yet(web: Web) -> None:
    body = {"name": "Draft", "rules": {"op": "and", "rules": []}, "message": "Hi"}
    cid = (await web.api.client.post("/api/v1/campaigns", json=body)).json()["id"]
    page = _text((await web.client.get(f"/campaigns/{cid}")).text)
    assert "No activity yet" in page and "Not launched yet." in page
    home = await web.client.get("/")
    assert 'data-testid="attributed-revenue">₹0<' in home.text


async def test_the_wizard_asks_for_holdout_and_attribution_window(web: Web) -> None:
    wizard = (await web.client.get("/campaigns/new")).text
    assert re.search(r'name="holdout_percent" type="number" min="0" max="50" step="1" value="0"', wizard)
    assert re.search(r'name="attribution_days" type="number" min="1" max="30" step="1" value="5"', wizard)
    assert 'id="review-holdout"' in wizard and 'id="review-attribution"' in wizard
