"""Defects a new user met in the web app, each seen in a real browser (issue 15).

Every test here failed on the code before the fix; the report of the change lists how that was
checked. The fixtures (real `pulsecrm serve` and vendor processes, Debian's chromium) are those
of test_browser.py; its `page` also fails a test on any script error or anything the
Content-Security-Policy refused.
"""

# ruff: noqa: F811 - the fixtures imported from test_browser are used as parameters

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.factories import customer, order
from tests.web.test_browser import (  # noqa: F401 - fixtures, used by name
    Stack,
    browser,
    page,
    shots,
    sign_in,
    stack_factory,
    web_db,
)

pytestmark = pytest.mark.slow
CITIES = ["Mumbai", "Pune", "Delhi", "Kochi"]


async def seed(stack: Stack, n: int = 40) -> None:
    """n customers over four cities; customer i spent 1,000 * (i + 1) + 961 rupees."""
    people = [
        customer(
            external_id=f"c{i:03}",
            name=f"Person{i:03} Test",
            city=CITIES[i % 4],
            email=f"p{i}@example.com",
            phone=f"+9198{i:08}",
            attributes={"marketing_opt_in": i % 2 == 0, "tier": "gold", "visits": 1200 + i},
        )
        for i in range(n)
    ]
    orders = [
        order(external_id=f"o{i}", customer_external_id=f"c{i:03}", amount=f"{1000 * (i + 1) + 961}.00")
        for i in range(n)
    ]
    async with stack.api() as api:
        assert (await api.post("/api/v1/customers", json=people)).status_code == 201
        assert (await api.post("/api/v1/orders", json=orders)).status_code == 201


async def test_a_key_name_is_shown_as_text_and_never_runs(stack_factory: Any, page: Page) -> None:
    stack = await stack_factory()
    await sign_in(page, stack, "/settings/api-keys")
    payload = "'+(window.__pwned=1)+'\"><img src=x onerror=window.__pwned=2>"
    await page.get_by_label("Name").fill(payload)
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_role("heading", name=f"Key “{payload}” created")).to_be_visible()
    messages: list[str] = []

    async def dismiss(dialog: Any) -> None:
        messages.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    row = page.locator("tr", has_text="window.__pwned")
    await expect(row.locator("td").first).to_have_text(payload)
    await row.get_by_role("button", name="Revoke").click()
    await expect(row).to_contain_text("active")  # dismissed: still active
    assert messages == [f"Revoke “{payload}”? Anything using it stops working."]
    assert await page.evaluate("window.__pwned") is None
    response = await page.request.get(stack.url + "/settings/api-keys")
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_a_key_needs_a_scope(stack_factory: Any, page: Page) -> None:
    stack = await stack_factory()
    await sign_in(page, stack, "/settings/api-keys")
    await page.get_by_label("Name").fill("Allowed nothing")
    for box in await page.get_by_role("checkbox").all():
        await box.uncheck()
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Choose at least one thing the key is allowed to do."
    )
    await expect(page.get_by_label("The new API key")).to_have_count(0)
    await expect(page.locator("tr", has_text="Allowed nothing")).to_have_count(0)


async def test_the_api_reference_works_under_the_policy(stack_factory: Any, page: Page) -> None:
    stack = await stack_factory()
    await sign_in(page, stack, "/docs")
    response = await page.reload()
    assert response and "script-src 'self'" in response.headers.get("content-security-policy", "")
    await expect(page.get_by_role("heading", name="Pulse CRM")).to_be_visible(timeout=20_000)
    await expect(page.get_by_text("/api/v1/customers").first).to_be_visible()


async def test_the_assistant_prints_no_null(stack_factory: Any, page: Page) -> None:
    stack = await stack_factory()
    await seed(stack)
    await sign_in(page, stack, "/segments/new")
    await page.get_by_label("Describe your audience in plain words").fill("customers in Pune")
    await page.get_by_role("button", name="Fill in the rules").click()
    result = page.locator(".assistant-result")
    await expect(result).to_contain_text("offline engine")
    assert "null" not in await result.inner_text()
    await expect(result).to_contain_text("Customers who match: city is Pune.")

    await page.goto(stack.url + "/campaigns/new")
    await page.get_by_label("Describe the audience in plain words").fill("customers in Pune")
    await page.get_by_role("button", name="Fill in the rules").click()
    result = page.locator(".assistant-result")
    await expect(result).to_contain_text("offline engine")
    assert "null" not in await result.inner_text()


async def test_the_status_under_the_count_agrees_with_it(stack_factory: Any, page: Page) -> None:
    stack = await stack_factory()
    await seed(stack)
    await sign_in(page, stack, "/segments/new")
    count, status = page.locator("#count"), page.locator("#count-status")
    await expect(count).to_have_attribute("data-count", "40")
    await page.get_by_role("button", name="+ Condition").click()
    await expect(status).to_have_text("1 condition still needs a value and is not counted yet.")
    # Typed, not yet left: the count already includes it, and so must the words under it.
    await page.get_by_label("Value").press_sequentially("20000")
    await expect(count).to_have_attribute("data-count", "21")
    await expect(status).to_have_text("customers match")


async def test_writing_the_message(stack_factory: Any, page: Page, shots: Path) -> None:
    stack = await stack_factory()
    await seed(stack)
    await sign_in(page, stack, "/campaigns/new")
    await page.get_by_role("button", name="+ Condition").click()
    await page.get_by_label("Field").select_option("city")
    await page.get_by_label("Comparison").select_option("eq")
    await page.get_by_label("Value").fill("Kochi")
    await expect(page.locator("#count")).to_have_attribute("data-count", "10")
    await page.get_by_role("button", name="Next: the message").click()

    # An error goes away once what it is about is fixed.
    error = page.locator('[data-step="2"] .steperror')
    await page.get_by_role("button", name="Next: review").click()
    await expect(error).to_have_text("Give the campaign a name.")
    await page.get_by_label("Campaign name").fill("Kochi thanks")
    await expect(error).to_be_empty()

    # The preview is someone this campaign reaches (Kochi: c003, c007, ...), with sums written
    # as money. The store's top spender (c039, in Kochi too) is not the first of the audience.
    message = page.get_by_label("Message", exact=True)
    await message.fill("Hi {{ first_name }} of {{ city }}, you spent {{ total_spend }}.")
    preview = page.locator("#preview-message")
    await expect(preview).to_have_text("Hi Person003 of Kochi, you spent ₹4,961.")
    await expect(page.locator("#preview-meta")).to_contain_text("As Person003 Test (c003) reads it")

    # A broken template: plain words, no length.
    await message.fill("Hello {% if %}x{% endif %}")
    await expect(preview).to_contain_text("a {% … %} tag is missing its condition")
    await expect(preview).not_to_contain_text("Expected an expression")
    await expect(page.locator("#preview-meta")).to_be_empty()
    await page.screenshot(path=shots / "wizard-broken-template.png", full_page=True)

    # Suggestions show what the customer reads, not template code.
    await page.get_by_label("Need ideas? State the goal").fill("win back lapsed customers with 10% off")
    await page.get_by_role("button", name="Suggest messages").click()
    variants = page.locator(".variant")
    await expect(variants).to_have_count(3)
    for text in await variants.all_inner_texts():
        assert "{{" not in text and "{%" not in text, text


async def test_a_campaign_reads_as_a_report_and_its_log_follows(stack_factory: Any, page: Page) -> None:
    stack = await stack_factory(vendor=True)
    await seed(stack)
    rules = {
        "op": "and",
        "rules": [
            {"field": "total_spend", "cmp": "gt", "value": 5000},
            {
                "op": "or",
                "rules": [
                    {"field": "city", "cmp": "eq", "value": "Mumbai"},
                    {"field": "city", "cmp": "eq", "value": "Pune"},
                    {"field": "last_order_at", "cmp": "within_last_days", "value": 30},
                ],
            },
        ],
    }
    body = {
        "name": "Slow hello",
        "rules": rules,
        "message": "{% if last_order_at %}Hi {{ first_name }}, thanks!{% endif %}",
        "rate_limit": 1,  # slow enough that the page is open while it sends
    }
    async with stack.api() as api:
        first = (await api.post("/api/v1/campaigns", json=body)).json()
        second = (
            await api.post("/api/v1/campaigns", json=body | {"name": "Second", "rate_limit": None})
        ).json()
        assert (await api.post(f"/api/v1/campaigns/{second['id']}/launch")).status_code == 202
        launched = await api.post(f"/api/v1/campaigns/{first['id']}/launch")
        audience = launched.json()["stats"]["audience"]
    assert audience > 5  # half of them opted out of marketing (marketing_opt_in: false)
    await sign_in(page, stack, f"/campaigns/{first['id']}")
    await expect(page.get_by_test_id("audience-rules")).to_have_text(
        "Total spend over ₹5,000 and (city is Mumbai or Pune, or ordered in the last 30 days)."
    )
    content = await page.locator("main").inner_text()
    assert "{%" not in content and "{{" not in content and '"op"' not in content
    await expect(page.get_by_test_id("message")).to_have_text("Hi Person004, thanks!")
    await expect(page.locator("#log")).to_contain_text("pending")
    # No reload from here on: the log follows the counters until every message is settled.
    await expect(page.locator("#live .badge")).to_have_text("completed", timeout=90_000)
    await expect(page.locator('[data-stat="sent"]')).to_have_text("0", timeout=30_000)
    await expect(page.locator("#log")).not_to_contain_text("pending")
    await expect(page.locator("#log")).not_to_contain_text("awaiting")
    numbers = [int(n) for n in await page.locator("#log tbody tr td:first-child").all_inner_texts()]
    assert numbers == list(range(1, audience + 1))
    # Another campaign's log starts at 1 too.
    await page.goto(stack.url + f"/campaigns/{second['id']}")
    await expect(page.locator("#log tbody tr td:first-child").first).to_have_text("1")


async def test_a_customer_reads_as_words(stack_factory: Any, page: Page) -> None:
    stack = await stack_factory()
    await seed(stack)
    await sign_in(page, stack, "/customers/c004")
    details = page.locator("dl.details")
    await expect(details).to_contain_text("Marketing opt in")
    await expect(details.locator("dt", has_text="Marketing opt in").locator("+ dd")).to_have_text("Yes")
    await expect(details.locator("dt", has_text="Visits").locator("+ dd")).to_have_text("1,204")
    text = await page.locator("main").inner_text()
    assert "True" not in text and "marketing_opt_in" not in text
    await expect(page.locator(".cards")).to_contain_text("₹5,961")


PHONE_PAGES = (
    "/",
    "/customers",
    "/customers/c001",
    "/segments",
    "/segments/new",
    "/campaigns",
    "/campaigns/new",
    "/uploads",
    "/settings/api-keys",
    "/settings/users",
)


async def test_pages_fit_a_phone(stack_factory: Any, page: Page, shots: Path) -> None:
    stack = await stack_factory()
    await seed(stack)
    async with stack.api() as api:
        for name in ("Mumbai shoppers with a long name that wraps", "Pune"):
            rules = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Mumbai"}]}
            assert (
                await api.post("/api/v1/segments", json={"name": name, "rules": rules})
            ).status_code == 201
        campaign = {"name": "Phone check", "rules": rules, "message": "Hi {{ first_name }}"}
        created = (await api.post("/api/v1/campaigns", json=campaign)).json()
    await sign_in(page, stack)
    await page.set_viewport_size({"width": 390, "height": 844})
    too_wide = {}
    for path in (*PHONE_PAGES, f"/campaigns/{created['id']}"):
        await page.goto(stack.url + path)
        await expect(page.locator("h1")).to_be_visible()
        width = await page.evaluate("document.scrollingElement.scrollWidth")
        if width > 390:
            too_wide[path] = width
        await page.screenshot(
            path=shots / f"phone{path.replace('/', '-') or '-dashboard'}.png", full_page=True
        )
    assert not too_wide, f"pages that scroll sideways at 390 px: {too_wide}"
    # Every main destination is reachable in the navigation without scrolling it sideways.
    await page.goto(stack.url + "/")
    for name in ("Dashboard", "Customers", "Segments", "Campaigns", "Uploads", "Settings"):
        link = page.locator(".topbar").get_by_role("link", name=name, exact=True)
        await expect(link).to_be_in_viewport(ratio=1)


async def test_a_file_exported_from_another_tool_imports_after_checking_its_columns(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    from tests.web.test_uploads import EXPORT

    stack = await stack_factory()
    await sign_in(page, stack, "/uploads")
    await page.get_by_label("File (.csv or .ndjson)").set_input_files(
        files=[{"name": "export.csv", "mimeType": "text/csv", "buffer": EXPORT}]
    )
    mapping = page.locator("#mapping")
    await expect(mapping.get_by_role("heading", name="Check the columns")).to_be_visible()
    await expect(mapping.get_by_label("Column “E-mail” goes to")).to_have_value("email")
    await expect(mapping.get_by_label("Column “Signup Date” goes to")).to_have_value("created_at")
    await expect(mapping.get_by_label("Column “Loyalty Points” goes to")).to_have_value(
        "attributes.loyalty_points"
    )
    await expect(mapping.locator("tbody tr")).to_have_count(3)
    await expect(mapping.locator("tbody")).to_contain_text("not-an-email")
    await mapping.get_by_label("Column “tier” goes to").select_option(label="Leave out")
    await page.screenshot(path=shots / "upload-mapping.png", full_page=True)
    async with stack.api() as api:  # nothing written before the user imports
        assert (await api.get("/api/v1/customers")).json()["items"] == []
    await page.get_by_role("button", name="Import").click()
    result = page.locator("#upload-result")
    await expect(result).to_contain_text("Read 3 rows: 2 imported, 1 rejected.")
    await expect(result).to_contain_text("line 3:")
    async with stack.api() as api:
        asha = (await api.get("/api/v1/customers/X1")).json()
    assert asha["attributes"] == {"marketing_opt_in": True, "loyalty_points": 1200, "pin": "0411"}
