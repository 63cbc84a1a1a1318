"""Lookalikes in a real browser: from a segment's page, find the customers like it, read what
sets it apart, save them as a list segment, and use that list in the builder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.ai import planted as p
from tests.web import test_browser as tb

pytestmark = pytest.mark.slow

# The browser tests' fixtures, used here as they are there.
browser = tb.browser
page = tb.page
shots = tb.shots
web_db = tb.web_db
stack_factory = tb.stack_factory


async def test_find_lookalikes_of_a_segment_and_save_them_as_a_list(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    stack = await stack_factory()
    data = p.planted(background=200, cluster=60, seed=20)
    async with stack.api() as api:
        assert (
            await api.post("/api/v1/customers", json=p.customer_payloads(data.records))
        ).status_code == 201
        assert (await api.post("/api/v1/orders", json=p.order_payloads(data.records))).status_code == 201
        rules = {"op": "and", "rules": [{"field": "external_id", "cmp": "in", "value": data.seed}]}
        seed_id = (await api.post("/api/v1/segments", json={"name": "Seed", "rules": rules})).json()["id"]

    await tb.sign_in(page, stack, f"/segments/{seed_id}")
    await page.get_by_label("How many").fill("40")
    await page.get_by_role("button", name="Find lookalikes").click()
    result = page.locator(".lookalike-result")
    await expect(result).to_contain_text("Found 40 customers like the 20 in “Seed”, out of 240 outside it.")
    await expect(result).to_contain_text("What sets “Seed” apart:")
    await expect(result.locator(".drivers li").first).to_be_visible()
    await expect(result).to_contain_text(re.compile(r"City: \d+% of the seed live in Pune"))
    await expect(result.locator("tbody tr")).to_have_count(10)
    await page.screenshot(path=shots / "segment-lookalikes.png", full_page=True)

    name = page.get_by_label("Save them as a list segment named")
    await expect(name).to_have_value("Like Seed")
    await name.fill("Pune lookalikes")
    await page.get_by_role("button", name="Save as list segment").click()
    await page.wait_for_url(re.compile(r"/segments/\d+\?saved=1$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Pune lookalikes list")
    await expect(page.locator("#list-note")).to_contain_text("A list segment: 40 customers saved on")
    await expect(page.locator("#count")).to_have_attribute("data-count", "40")
    list_id = int(page.url.split("/segments/")[1].split("?")[0])

    # The list in the builder of another segment: "List segment is in Pune lookalikes".
    await page.goto(stack.url + "/segments/new")
    await page.get_by_role("button", name="+ Condition").click()
    field = page.get_by_label("Field")
    await expect(field.locator("optgroup[label=Lists] option")).to_have_text(["List segment"])
    await field.select_option("segment")
    await expect(page.get_by_label("Comparison")).to_have_value("in_segment")
    await page.get_by_label("List segment", exact=True).select_option(label="Pune lookalikes (40)")
    await expect(page.locator("#count")).to_have_attribute("data-count", "40")
    await page.get_by_label("Comparison").select_option("not_in_segment")
    await expect(page.get_by_label("List segment", exact=True)).to_have_value(str(list_id))
    await expect(page.locator("#count")).to_have_attribute("data-count", str(len(data.records) - 40))
    await page.screenshot(path=shots / "segment-list-condition.png", full_page=True)
