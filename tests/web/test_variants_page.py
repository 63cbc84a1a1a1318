"""The campaign page of an A/B campaign: the variants' table, the test's plan while it runs, the
winner and why once picked; and the live panel's 2-second poll, which reads counters only."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import event

from pulsecrm import formatting
from pulsecrm.campaigns import variants
from pulsecrm.delivery import store
from pulsecrm.delivery.dispatcher import Dispatcher
from pulsecrm.delivery.models import Delivery
from pulsecrm.delivery.receipts import Engagement
from tests.conftest import Web
from tests.factories import customer
from tests.web.test_report_page import _text, _vendor

EVERYONE = {"op": "and", "rules": []}
TWO = [{"message": "Hi {{ first_name }}, 10% off"}, {"message": "Last day: 10% off"}]


async def _people(web: Web, n: int = 40) -> None:
    people = [
        customer(external_id=f"c{i:02}", name=f"P{i}", phone=f"+9198{i:08}", email=f"p{i}@example.com")
        for i in range(n)
    ]
    assert (await web.api.client.post("/api/v1/customers", json=people)).status_code == 201


async def _send_due(web: Web) -> None:
    dispatcher = Dispatcher.build(
        web.api.services.db, web.api.services.settings, None, transport=httpx.MockTransport(_vendor)
    )
    try:
        while await dispatcher.run_once():
            pass
    finally:
        await dispatcher.close()


def _rows(page: str) -> dict[str, str]:
    return {
        label: _text(row)
        for label, row in re.findall(r'<tr data-variant="(\w)"[^>]*>(.*?)</tr>', page, flags=re.S)
    }


async def test_a_test_shows_its_plan_then_the_winner_and_why(web: Web) -> None:
    await _people(web)
    body = {
        "name": "A/B on the page",
        "rules": EVERYONE,
        "variants": TWO,
        "variant_test": {"percent": 50, "hours": 4, "metric": "clicked"},
    }
    created = (await web.api.client.post("/api/v1/campaigns", json=body)).json()
    cid = created["id"]
    launched = (await web.api.client.post(f"/api/v1/campaigns/{cid}/launch")).json()
    start = datetime.fromisoformat(launched["launched_at"])
    await _send_due(web)  # only the test's half goes out before the winner is known

    page = (await web.client.get(f"/campaigns/{cid}")).text
    text = _text(page)
    assert f"Testing on 50% — winner picked at {formatting.datetime_(start + timedelta(hours=4))}." in text
    assert "the best click rate then goes to the other 50% of the audience" in text
    rows = _rows(page)
    assert list(rows) == ["A", "B"]
    report = (await web.api.client.get(f"/api/v1/campaigns/{cid}/report")).json()
    for v in report["variants"]:
        # label, customers, sent, delivered, opened, clicked, converted, revenue, click rate, conversion rate
        assert rows[v["label"]] == f"{v['label']} {v['customers']} {v['sent']} 0 0 0 0 ₹0 0.0% 0.0%"
    assert 0 < sum(v["customers"] for v in report["variants"]) < 40  # the test: about half
    assert "Winner" not in text
    # Each variant as a customer reads it, not its template.
    assert "Variant A" in text and "Variant B" in text and "Last day: 10% off" in text
    assert "{{" not in text
    # The section refreshes on its own, slowly; the 2-second panel does not carry it.
    partial = (await web.client.get(f"/campaigns/{cid}/variants")).text
    assert 'hx-trigger="every 30s"' in partial and _rows(partial) == rows
    assert 'data-testid="variants"' not in (await web.client.get(f"/campaigns/{cid}/live")).text

    # B's messages are clicked, A's are not: B wins on click rate.
    async with web.api.services.db.sessions() as session:
        b_ids = (
            await session.scalars(
                sa.select(Delivery.id).where(Delivery.campaign_id == cid, Delivery.variant == 1)
            )
        ).all()
    clicks = [Engagement(delivery_id=d, kind="clicked", occurred_at=start) for d in b_ids]
    await web.api.services.db.write(lambda conn: store.apply_engagement(conn, clicks, now=start))
    decided = await web.api.services.db.write(
        lambda conn: variants.pick_winners(conn, now=start + timedelta(hours=4))
    )
    assert decided == 1
    winner = (await web.api.client.get(f"/api/v1/campaigns/{cid}")).json()["winner"]
    assert winner["label"] == "B" and winner["reason"].startswith("B won on click rate: B 100.0%")

    page = (await web.client.get(f"/campaigns/{cid}")).text
    text = _text(page)
    assert winner["reason"] in text
    assert re.search(r'<tr data-variant="B" data-winner', page)
    assert _rows(page)["B"].startswith("B Winner ")
    assert "Testing on" not in text
    assert "Tested on 50% of the audience for 4 hours; the winner went to the other 50%" in text


async def test_an_even_split_draft_shows_each_variant_and_its_subject(web: Web) -> None:
    await _people(web, 3)
    body: dict[str, Any] = {
        "name": "Split",
        "channel": "email",
        "rules": EVERYONE,
        "subject": "For you, {{ first_name }}",
        "variants": [TWO[0] | {"subject": "Hello {{ first_name }}"}, TWO[1]],
    }
    created = await web.api.client.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    page = (await web.client.get(f"/campaigns/{created.json()['id']}")).text
    text = _text(page)
    assert "Split evenly: each of the 2 variants goes to about 1 in 2 of the audience." in text
    assert (
        "Variant Customers Sent Delivered Opened Clicked Converted Revenue Click rate Conversion rate"
        not in text
    )
    assert "Variant Subject Customers Sent" in text
    rows = _rows(page)
    assert rows["A"] == "A Hello P0 0 — — — — — — — —"
    assert rows["B"] == "B For you, P0 0 — — — — — — — —"  # the campaign's subject
    assert "Not launched yet: each variant's figures appear here once it goes out." in text


async def test_without_variants_there_is_no_variants_section(web: Web) -> None:
    body = {"name": "Plain", "rules": EVERYONE, "message": "Hi"}
    cid = (await web.api.client.post("/api/v1/campaigns", json=body)).json()["id"]
    page = (await web.client.get(f"/campaigns/{cid}")).text
    assert 'data-testid="variants"' not in page and 'data-testid="message"' in page
    assert (await web.client.get(f"/campaigns/{cid}/variants")).status_code == 404


async def test_the_live_poll_reads_counters_not_deliveries(web: Web) -> None:
    """Polled every 2 s: it must cost the same for ten messages and a million."""
    await _people(web, 10)
    body = {"name": "Live", "rules": EVERYONE, "variants": TWO}
    cid = (await web.api.client.post("/api/v1/campaigns", json=body)).json()["id"]
    assert (await web.api.client.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
    await _send_due(web)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engines = {web.api.services.db.engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        live = await web.client.get(f"/campaigns/{cid}/live")
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)
    assert live.status_code == 200 and 'data-stat="sent">10<' in live.text
    assert statements, "the listener saw nothing: it watches the wrong engine"
    assert not [s for s in statements if re.search(r"\bdeliveries\b", s)], statements


async def test_the_wizard_offers_variants_with_sensible_test_defaults(web: Web) -> None:
    wizard = (await web.client.get("/campaigns/new")).text
    assert "Add a variant (A/B test)" in wizard
    assert "Split evenly" in wizard and "Test first, then send the winner" in wizard
    assert re.search(r'name="test_percent" type="number" min="2" max="50" step="1" value="20"', wizard)
    assert re.search(r'name="test_hours" type="number" min="1" max="72" step="1" value="4"', wizard)
    assert '<option value="clicked">clicks (click rate)</option>' in wizard
    assert re.search(r'<script src="/static/ab\.js\?v=\w+" defer></script>', wizard)


async def test_a_test_cancelled_before_its_winner_says_so(web: Web) -> None:
    await _people(web, 10)
    body = {"name": "Stopped", "rules": EVERYONE, "variants": TWO, "variant_test": {"percent": 50}}
    cid = (await web.api.client.post("/api/v1/campaigns", json=body)).json()["id"]
    assert (await web.api.client.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
    assert (await web.api.client.post(f"/api/v1/campaigns/{cid}/cancel")).status_code == 200
    text = _text((await web.client.get(f"/campaigns/{cid}")).text)
    assert "The test on 50% of the audience ended without a winner: the campaign is cancelled." in text
    assert "Testing on" not in text and "winner is picked" not in text
