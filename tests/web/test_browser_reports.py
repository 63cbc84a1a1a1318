"""Pages that read as reports, in a real browser: the dashboard's trends and its 30/90 switch,
the customer list's total, segment filters and export, a customer's segments, and a draft's
launch confirmation and test send (see test_browser.py for how the processes start)."""

# ruff: noqa: F811 - the fixtures imported from test_browser are used as parameters

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from pulsecrm.db import utcnow
from tests.factories import order
from tests.web.test_browser import (  # noqa: F401 - fixtures, used by name
    EMAIL,
    browser,
    page,
    seed,
    shots,
    sign_in,
    stack_factory,
    web_db,
)

pytestmark = pytest.mark.slow

PUNE = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Pune"}]}


async def test_the_dashboard_shows_trends_and_switches_period(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    stack = await stack_factory()
    await seed(stack, n=20)
    recent = [
        order(
            external_id=f"r{i}",
            customer_external_id=f"c{i:04}",
            amount="1000.00",
            ordered_at=(utcnow() - timedelta(days=i * 20)).isoformat(),
        )
        for i in range(4)  # today, 20, 40 and 60 days ago
    ]
    async with stack.api() as api:
        assert (await api.post("/api/v1/orders", json=recent)).status_code == 201
    await sign_in(page, stack)
    trends = page.get_by_test_id("trends")
    await expect(trends.get_by_role("heading", name="Last 30 days")).to_be_visible()
    await expect(trends.get_by_role("link", name="30 days")).to_have_attribute("aria-current", "page")
    await expect(trends.locator("svg.timechart")).to_have_count(4)
    await expect(trends.get_by_role("img", name="Orders per day")).to_be_visible()
    await expect(trends.get_by_role("img", name="Attributed revenue per day")).to_be_visible()
    totals = trends.get_by_test_id("trend-total")
    await expect(totals.nth(0)).to_have_text("2")  # orders: today's and 20 days ago
    await expect(totals.nth(1)).to_have_text("₹2,000")
    await page.screenshot(path=shots / "dashboard-trends.png", full_page=True)

    await trends.get_by_role("link", name="90 days").click()
    await page.wait_for_url(stack.url + "/?days=90")
    await expect(trends.get_by_role("heading", name="Last 90 days")).to_be_visible()
    await expect(trends.get_by_role("link", name="90 days")).to_have_attribute("aria-current", "page")
    await expect(totals.nth(0)).to_have_text("4")
    await trends.get_by_text("The numbers behind the charts").click()
    await expect(trends.locator("tbody tr")).to_have_count(90)


async def test_the_customer_list_filters_by_segment_and_exports(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    stack = await stack_factory()
    await seed(stack)  # 200 customers, 50 in each of four cities
    async with stack.api() as api:
        assert (await api.post("/api/v1/segments", json={"name": "Pune", "rules": PUNE})).status_code == 201
    await sign_in(page, stack, "/customers")
    total = page.get_by_test_id("customer-total")
    await expect(total).to_have_text("200 customers")
    await page.get_by_label("Segment").select_option(label="In segment: Pune")
    await expect(total).to_have_text("50 customers · City is Pune")
    await expect(page.locator("#customer-rows tr")).to_have_count(26)  # 25 and "Show more"
    await page.get_by_label("Search customers").fill("Person 001")
    await expect(total).to_have_text("2 customers · City is Pune · matching “Person 001”")
    await page.screenshot(path=shots / "customers-filtered.png", full_page=True)

    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Export CSV").click()
    download = await waiting.value
    saved = await download.path()
    rows = list(csv.DictReader(io.StringIO(await asyncio.to_thread(saved.read_text))))
    assert sorted(r["name"] for r in rows) == ["Person 0013", "Person 0017"]
    assert {r["city"] for r in rows} == {"Pune"} and rows[0]["phone"].startswith("'+9198")

    # A customer's page names the segments they are in.
    await page.get_by_role("link", name="Person 0013").click()
    await expect(page.get_by_test_id("member-of")).to_have_text("Pune")

    # The builder's rules, unsaved, list their customers too.
    await page.goto(stack.url + "/segments/new")
    await page.get_by_role("button", name="+ Condition").click()
    await page.get_by_label("Field").select_option("city")
    await page.get_by_label("Comparison").select_option("eq")
    await page.get_by_label("Value").fill("Mumbai")
    await expect(page.locator("#count")).to_have_text("50")
    await page.get_by_role("button", name="List these customers").click()
    await page.wait_for_url(re.compile(r".*/customers\?rules=.*"))
    await expect(total).to_have_text("50 customers · City is Mumbai · clear the rules")


async def test_a_draft_tests_by_email_then_launches_after_its_dialog(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    stack = await stack_factory(vendor=True)
    await seed(stack)
    body = {
        "name": "Pune e-mail",
        "channel": "email",
        "rules": PUNE,
        "subject": "Hello {{ first_name }}",
        "message": "Hi {{ first_name }}, new arrivals this week.",
    }
    async with stack.api() as api:
        created = await api.post("/api/v1/campaigns", json=body)
        assert created.status_code == 201, created.text
    cid = created.json()["id"]
    await sign_in(page, stack, f"/campaigns/{cid}")
    box = page.locator("#test-send-box")
    await expect(box).to_contain_text(f"Sends the e-mail once to your address, {EMAIL}")
    await expect(page.get_by_label("Your phone number")).to_be_hidden()
    await page.get_by_role("button", name="Send a test to myself").click()
    await expect(page.locator("#test-send-result")).to_have_text(
        re.compile(
            rf"^Test sent to {re.escape(EMAIL)}, filled in for Person \d+\. "
            r"It is not counted in the campaign\.$"
        )
    )

    await page.get_by_role("button", name="Launch", exact=True).click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_role("heading")).to_have_text("Launch “Pune e-mail”?")
    await expect(dialog).to_contain_text("It sends an e-mail to 50 customers now")
    await page.screenshot(path=shots / "campaign-draft-confirm.png")
    await page.keyboard.press("Escape")  # backing out launches nothing
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await expect(page.locator("#live .badge")).to_have_text("draft")

    await page.get_by_role("button", name="Launch", exact=True).click()
    await dialog.get_by_role("button", name="Send e-mail to 50 customers").click()
    await expect(page.locator("#live .badge")).to_have_text("completed", timeout=60_000)
    await expect(page.locator("#test-send-box")).to_have_count(0)  # only before launch
    async with stack.api() as api:
        stats = (await api.get(f"/api/v1/campaigns/{cid}")).json()["stats"]
    assert stats["audience"] == 50 and stats["delivered"] + stats["failed"] + stats["unknown"] == 50
