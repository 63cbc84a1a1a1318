"""Issue 14's helpers in a real browser: a campaign's tags edited and the history filtered by
one, the performance summary on a sent campaign's page, and the wizard's send-time suggestion
applied to the schedule (see test_browser.py for how the processes start)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.web import test_browser as tb

pytestmark = pytest.mark.slow

# The browser tests' fixtures, used here as they are there.
browser = tb.browser
page = tb.page
shots = tb.shots
web_db = tb.web_db
stack_factory = tb.stack_factory

PUNE = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Pune"}]}


async def test_a_tag_saved_on_the_page_filters_the_history(stack_factory: Any, page: Page, shots: Path) -> None:
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
