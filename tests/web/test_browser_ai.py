"""Issue 14's helpers in a real browser: a campaign's tags edited and the history filtered by
one, the performance summary on a sent campaign's page, and the wizard's send-time suggestion
applied to the schedule, and customers like a sent campaign's converters found from its page
(see test_browser.py for how the processes start)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from pulsecrm.ai.send_time import next_start
from pulsecrm.db import utcnow
from tests.factories import customer, order
from tests.web import test_browser as tb

pytestmark = pytest.mark.slow

# The browser tests' fixtures, used here as they are there.
browser = tb.browser
page = tb.page
shots = tb.shots
web_db = tb.web_db
stack_factory = tb.stack_factory

PUNE = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Pune"}]}


async def test_a_tag_saved_on_the_page_filters_the_history(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    stack = await stack_factory()
    async with stack.api() as api:
        for name, message in (("Store hours", "Our hours change on Monday"), ("Sale", "20% off today")):
            body = {"name": name, "message": message, "rules": PUNE}
            assert (await api.post("/api/v1/campaigns", json=body)).status_code == 201
        hours = (await api.get("/api/v1/campaigns")).json()["items"][1]
    assert hours["name"] == "Store hours" and hours["tags"] == []

    await tb.sign_in(page, stack, f"/campaigns/{hours['id']}")
    tags = page.locator("#tags")
    await expect(tags.get_by_test_id("no-tags")).to_have_text("No tags.")
    await tags.get_by_text("Edit tags").click()
    await tags.get_by_label("loyalty").check()
    await tags.get_by_role("button", name="Save tags").click()
    await page.wait_for_url(re.compile(rf"/campaigns/{hours['id']}#tags$"))
    await expect(tags.get_by_test_id("tags")).to_have_text("loyalty")
    await expect(tags.get_by_label("loyalty")).to_be_checked()

    await page.get_by_role("link", name="Campaigns").first.click()
    rows = page.locator("table tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.filter(has_text="Sale").get_by_test_id("tags")).to_have_text("festive-sale")
    await page.get_by_test_id("tag-filter").get_by_role("link", name="loyalty").click()
    await page.wait_for_url(stack.url + "/campaigns?tag=loyalty")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Store hours")
    await expect(rows.first.get_by_test_id("tags")).to_have_text("loyalty")
    await page.screenshot(path=shots / "campaigns-by-tag.png", full_page=True)
    await page.get_by_role("link", name="Drafts").click()
    await page.wait_for_url(stack.url + "/campaigns?status=draft&tag=loyalty")
    await expect(rows).to_have_count(1)


async def test_a_sent_campaign_page_shows_its_summary(stack_factory: Any, page: Page, shots: Path) -> None:
    stack = await stack_factory(vendor=True, vendor_success_rate="1")
    await tb.seed(stack, n=20)  # 5 in each of four cities
    async with stack.api() as api:
        body = {"name": "Everyone", "message": "Hi {{ first_name }}", "rules": {"op": "and", "rules": []}}
        created = await api.post("/api/v1/campaigns", json=body)
        assert created.status_code == 201, created.text
    cid = created.json()["id"]

    await tb.sign_in(page, stack, f"/campaigns/{cid}")
    summary = page.get_by_test_id("summary")
    await expect(summary.get_by_role("heading", name="Summary")).to_be_visible()
    await expect(summary.get_by_test_id("summary-empty")).to_contain_text("Nothing has been sent yet.")

    await page.get_by_role("button", name="Launch", exact=True).click()
    await page.get_by_role("dialog").get_by_role("button", name=re.compile(r"^Send ")).click()
    await expect(page.locator("#live .badge")).to_have_text("completed", timeout=60_000)
    await page.reload()
    sentences = summary.locator("li")
    await expect(sentences.first).to_have_text(
        "Of 20 messages, 20 were delivered and 0 failed: a 100.0% delivery rate."
    )
    await expect(summary).to_contain_text("Delivery was even across cities, spend and recency.")
    count = await sentences.count()
    assert 3 <= count <= 6
    async with stack.api() as api:
        said = (await api.post(f"/api/v1/ai/campaigns/{cid}/summary")).json()["sentences"]
    assert await sentences.all_inner_texts() == said
    await expect(summary.get_by_test_id("summary-empty")).to_have_count(0)
    assert await summary.get_attribute("hx-get") is None  # settled: no longer refreshed
    await page.screenshot(path=shots / "campaign-summary.png", full_page=True)


async def test_the_wizard_suggests_a_send_time_and_applies_it(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    stack = await stack_factory()
    people = [customer(external_id=f"c{i:02}", name=f"Person {i:02}", city="Pune") for i in range(12)]
    # In India (the store's zone): 8 orders at 18:15, 2 at 20:30, 2 at 08:30.
    at = ["2026-10-01T12:45:00Z"] * 8 + ["2026-10-01T15:00:00Z"] * 2 + ["2026-10-01T03:00:00Z"] * 2
    orders = [
        order(external_id=f"o{i}", customer_external_id=f"c{i:02}", ordered_at=t) for i, t in enumerate(at)
    ]
    async with stack.api() as api:
        assert (await api.post("/api/v1/customers", json=people)).status_code == 201
        assert (await api.post("/api/v1/orders", json=orders)).status_code == 201

    await tb.sign_in(page, stack, "/campaigns/new")
    await expect(page.locator("#count")).to_have_attribute("data-count", "12")
    await page.get_by_role("button", name="Next: the message").click()
    await page.get_by_label("Campaign name").fill("Evening")
    await page.get_by_label("Message", exact=True).fill("Hi, dinner is on us tonight")
    await page.get_by_role("button", name="Next: review").click()
    await page.get_by_label("Each customer at their best hour").check()

    await page.get_by_role("button", name="Suggest a time").click()
    result = page.locator("#send-time-result")
    await expect(result.get_by_test_id("send-time-sentence")).to_have_text(
        "83% of this audience's 12 orders were placed between 18:00 and 21:00 (Asia/Kolkata): send at 18:00."
    )
    expected = next_start(18, ZoneInfo("Asia/Kolkata"), utcnow())
    label = f"18:00 on {expected.day} {expected:%b %Y}"
    await result.get_by_role("button", name=f"Start at {label}").click()
    await expect(page.locator("input[name=scheduled_at]")).to_have_value(expected.strftime("%Y-%m-%dT%H:%M"))
    await expect(page.get_by_label("Each message as soon as the campaign starts")).to_be_checked()
    await expect(result.get_by_test_id("send-time-applied")).to_have_text(
        f"Starts at {label} (Asia/Kolkata)."
    )
    await page.screenshot(path=shots / "campaign-wizard-send-time.png", full_page=True)

    # Saved as it reads: that moment, store time.
    await page.get_by_role("button", name="Save as draft").click()
    await page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    cid = int(page.url.rsplit("/", 1)[1])
    async with stack.api() as api:
        saved = (await api.get(f"/api/v1/campaigns/{cid}")).json()
    assert datetime.fromisoformat(saved["scheduled_at"]) == expected and saved["send_at"] == "now"


async def test_a_sent_campaign_finds_customers_like_its_converters(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    stack = await stack_factory(vendor=True, vendor_success_rate="1", attribution_interval_seconds="0.2")
    await tb.seed(stack, n=40)  # 10 in each of four cities
    async with stack.api() as api:
        pune = {"op": "and", "rules": [{"field": "external_id", "cmp": "in", "value": ["c0001", "c0005"]}]}
        created = await api.post(
            "/api/v1/campaigns", json={"name": "Pune pair", "message": "Hi", "rules": pune}
        )
        assert created.status_code == 201, created.text
    cid = created.json()["id"]

    await tb.sign_in(page, stack, f"/campaigns/{cid}")
    await expect(page.locator("#lookalike")).to_have_count(0)  # a draft has no converters to resemble
    await page.get_by_role("button", name="Launch", exact=True).click()
    await page.get_by_role("dialog").get_by_role("button", name=re.compile(r"^Send ")).click()
    await expect(page.locator("#live .badge")).to_have_text("completed", timeout=60_000)
    await page.reload()
    section = page.locator("#lookalike")
    await section.get_by_label("How many").fill("8")
    await section.get_by_role("button", name="Find lookalikes").click()
    await expect(section.locator(".lookalike-result")).to_contain_text(
        "the seed is empty: nobody this campaign has converted yet"
    )

    bought = utcnow().isoformat()
    async with stack.api() as api:
        orders = [
            order(external_id=f"buy-{c}", customer_external_id=c, amount="4000.00", ordered_at=bought)
            for c in ("c0001", "c0005")
        ]
        assert (await api.post("/api/v1/orders", json=orders)).status_code == 201
        for _ in range(100):  # the attribution pass runs every 0.2 s in serve
            report = (await api.get(f"/api/v1/campaigns/{cid}/report")).json()
            if report["attributed"]["converted"] == 2:
                break
            await asyncio.sleep(0.1)
        assert report["attributed"]["converted"] == 2, report

    await section.get_by_role("button", name="Find lookalikes").click()
    result = section.locator(".lookalike-result")
    await expect(result).to_contain_text(
        "Found 8 customers like the 2 who converted after “Pune pair”, out of 38"
    )
    await expect(result).to_contain_text("What sets these converters apart:")
    await expect(result.locator("tbody tr")).to_have_count(8)
    await page.screenshot(path=shots / "campaign-lookalikes.png", full_page=True)
    name = section.get_by_label("Save them as a list segment named")
    await expect(name).to_have_value("Like Pune pair")
    await section.get_by_role("button", name="Save as list segment").click()
    await page.wait_for_url(re.compile(r"/segments/\d+\?saved=1$"))
    await expect(page.locator("#list-note")).to_contain_text("A list segment: 8 customers saved on")
