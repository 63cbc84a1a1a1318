"""The web app in a real browser: Debian's chromium driven by Playwright, against real processes.

`pulsecrm serve` (and, for campaigns, `pulsecrm vendor`) run as subprocesses on loopback; a
local OpenID Connect provider stands in for Google. Each main page is saved as a screenshot
under test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from pulsecrm.auth import service as auth_service
from pulsecrm.auth import users
from pulsecrm.campaigns import variants as ab_variants
from pulsecrm.db import Database, utcnow
from pulsecrm.delivery.receipts import sign
from pulsecrm.formatting import datetime_
from tests.cli_helpers import PULSECRM, cli_env, free_port, wait_healthy
from tests.conftest import PASSWORD, WEBHOOK_SECRET, _need
from tests.factories import customer, order

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
EMAIL = "marketer@example.com"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    _need("chromium", HAVE_CHROMIUM, "Debian's chromium is not installed (apt-get install -y chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
def shots(artifacts_dir: Path) -> Path:
    path = artifacts_dir / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def web_db(request: pytest.FixtureRequest) -> str:
    """PostgreSQL when it answers (always in CI), else SQLite."""
    try:
        url: str = request.getfixturevalue("pg_database_url")
    except pytest.skip.Exception:
        url = request.getfixturevalue("sqlite_url")
    return url


class Stack:
    """`pulsecrm serve` (and optionally `pulsecrm vendor`) as real processes."""

    def __init__(self, tmp: Path, database_url: str, **settings: str) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.vendor_port = free_port()
        self.env = {
            "database_url": database_url,
            "session_secret": "browser-test-session-secret",
            "webhook_secret": WEBHOOK_SECRET,
            "vendor_url": f"http://127.0.0.1:{self.vendor_port}",
            "vendor_port": str(self.vendor_port),
            "vendor_webhook_url": f"{self.url}/api/v1/receipts",
            "vendor_min_delay_ms": "5",
            "vendor_max_delay_ms": "30",
            **settings,
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []
        self.database_url = database_url
        self.key = ""

    def start(self, *args: str) -> None:
        log = (self.tmp / f"{args[0]}.log").open("ab")
        self.logs.append(log)
        self.procs.append(
            subprocess.Popen([PULSECRM, *args], cwd=self.tmp, env=cli_env(**self.env), stdout=log, stderr=log)
        )

    def wait(self, base: str) -> None:
        wait_healthy(base, self.tmp)

    async def prepare(self) -> None:
        db = Database(self.database_url)
        try:
            async with db.write_session() as session:
                await users.create_local(session, email=EMAIL, name="Mia Marketer", password=PASSWORD)
                self.key = (await auth_service.create_key(session, name="browser tests")).secret
                await session.commit()
        finally:
            await db.dispose()

    def api(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.logs:
            log.close()


@pytest.fixture
def stack_factory(tmp_path: Path, web_db: str) -> Iterator[Any]:
    stacks: list[Stack] = []

    async def make(*, vendor: bool = False, **settings: str) -> Stack:
        stack = Stack(tmp_path, web_db, **settings)
        await stack.prepare()
        if vendor:
            stack.start("vendor", "--port", str(stack.vendor_port))
        stack.start("serve", "--port", str(stack.port))
        await asyncio.to_thread(stack.wait, stack.url)
        if vendor:
            await asyncio.to_thread(stack.wait, f"http://127.0.0.1:{stack.vendor_port}")
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Anything the Content-Security-Policy refused is a page that does not work as written.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    yield page
    await context.close()
    assert not errors, f"script errors on the page: {errors}"


async def seed(stack: Stack, n: int = 200) -> None:
    cities = ["Mumbai", "Pune", "Delhi", "Kochi"]
    people = [
        customer(
            external_id=f"c{i:04}",
            name=f"Person {i:04}",
            city=cities[i % 4],
            email=f"p{i}@example.com",
            phone=f"+9198{i:08}",
        )
        for i in range(n)
    ]
    orders = [
        order(external_id=f"o{i}", customer_external_id=f"c{i % n:04}", amount=f"{(i * 37) % 9000 + 100}.00")
        for i in range(n * 2)
    ]
    async with stack.api() as api:
        assert (await api.post("/api/v1/customers", json=people)).status_code == 201
        assert (await api.post("/api/v1/orders", json=orders)).status_code == 201


async def sign_in(page: Page, stack: Stack, path: str = "/") -> None:
    await page.goto(stack.url + path)
    await page.get_by_label("E-mail").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(stack.url + path)


async def launch(page: Page) -> None:
    """Launch from the wizard's review step: the button, then the confirmation dialog's yes."""
    await page.get_by_role("button", name="Launch campaign").click()
    await page.get_by_role("dialog").get_by_role("button", name=re.compile(r"^Send ")).click()


async def test_sign_in_locally(stack_factory: Any, page: Page, shots: Path) -> None:
    stack = await stack_factory()
    await page.goto(stack.url + "/login")
    await page.screenshot(path=shots / "login.png")
    await page.get_by_label("E-mail").fill(EMAIL)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("don't match")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await expect(page.locator(".topbar")).to_contain_text(EMAIL)
    await page.screenshot(path=shots / "dashboard-empty.png", full_page=True)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in to Pulse CRM")).to_be_visible()


async def test_anonymous_visit_is_redirected_and_returns(stack_factory: Any, page: Page) -> None:
    stack = await stack_factory()
    await page.goto(stack.url + "/campaigns?status=running")
    assert page.url == stack.url + "/login?next=%2Fcampaigns%3Fstatus%3Drunning"
    await page.get_by_label("E-mail").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(stack.url + "/campaigns?status=running")
    await expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()


async def test_sign_in_through_an_oidc_provider(stack_factory: Any, page: Page, shots: Path) -> None:
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(port=0) as provider:
        issuer = f"http://127.0.0.1:{provider.server_port}"
        for sub, email in (("alice", "alice@example.com"), ("mallory", "mallory@elsewhere.org")):
            claims = {"email": email, "name": sub.title(), "email_verified": True}
            async with httpx.AsyncClient() as client:
                assert (await client.put(f"{issuer}/users/{sub}", json=claims)).status_code == 204
        stack = await stack_factory(
            oidc_issuer=issuer,
            oidc_client_id="pulsecrm",
            oidc_client_secret="any-secret",
            oidc_allowed_domains='["example.com"]',
        )
        await page.goto(stack.url + "/customers")
        await page.screenshot(path=shots / "login-oidc.png")
        await expect(page.get_by_label("Password")).to_have_count(0)  # no local form with OIDC on
        await page.get_by_role("button", name="Sign in with single sign-on").click()
        await page.wait_for_url(f"{issuer}/**")
        await page.locator("input[name=sub]").fill("alice")
        await page.get_by_role("button", name="Authorize").click()
        await page.wait_for_url(stack.url + "/customers")
        await expect(page.locator(".topbar")).to_contain_text("alice@example.com")

        # Someone the provider vouches for, from a domain not on the allow-list, stays out.
        await page.context.clear_cookies()
        await page.goto(stack.url + "/login")
        await page.get_by_role("button", name="Sign in with single sign-on").click()
        await page.wait_for_url(f"{issuer}/**")
        await page.locator("input[name=sub]").fill("mallory")
        await page.get_by_role("button", name="Authorize").click()
        await expect(page.get_by_role("alert")).to_contain_text("mallory@elsewhere.org is not allowed")
        await page.goto(stack.url + "/")
        assert "/login" in page.url


async def test_build_a_two_level_segment_by_clicking(stack_factory: Any, page: Page, shots: Path) -> None:
    stack = await stack_factory()
    await seed(stack)
    await sign_in(page, stack, "/segments/new")
    count = page.locator("#count")
    await expect(count).to_have_text("200")

    # Level one: total spend over 5,000.
    await page.get_by_role("button", name="+ Condition").click()
    await page.get_by_label("Value").fill("5000")
    # Level two: any of city is Mumbai / city is Pune.
    await page.get_by_role("button", name="+ Group").first.click()
    inner = page.locator("fieldset.group fieldset.group")
    await inner.get_by_label("Field").select_option("city")
    await inner.get_by_label("Comparison").select_option("eq")
    await inner.get_by_label("Value").fill("Mumbai")
    await inner.get_by_role("button", name="+ Condition").click()
    second = inner.locator(".condition").nth(1)
    await second.get_by_label("Field").select_option("city")
    await second.get_by_label("Comparison").select_option("eq")
    await second.get_by_label("Value").fill("Pune")
    await expect(inner.get_by_label("Match all or any")).to_have_value("or")

    rules = {
        "op": "and",
        "rules": [
            {"field": "total_spend", "cmp": "gt", "value": 5000},
            {
                "op": "or",
                "rules": [
                    {"field": "city", "cmp": "eq", "value": "Mumbai"},
                    {"field": "city", "cmp": "eq", "value": "Pune"},
                ],
            },
        ],
    }
    async with stack.api() as api:
        expected = (await api.post("/api/v1/segments/preview", json={"rules": rules})).json()["count"]
    assert 0 < expected < 200
    await expect(count).to_have_attribute("data-count", str(expected))
    await expect(page.locator("#sample tbody tr")).to_have_count(min(expected, 10))

    # A condition the API refuses shows its message next to that condition.
    await page.get_by_role("button", name="+ Condition").last.click()
    last = page.locator("fieldset.group > .condition").last
    await last.get_by_label("Field").select_option("created_at")
    await last.get_by_label("Comparison").select_option("within_last_days")
    await last.get_by_label("Days").fill("999999")
    await expect(last.locator(".nodeerror")).not_to_be_empty()
    await last.get_by_role("button", name="Remove condition").click()
    await expect(count).to_have_attribute("data-count", str(expected))

    await page.get_by_label("Name").fill("Big spenders in Mumbai or Pune")
    await page.screenshot(path=shots / "segment-builder.png", full_page=True)
    await page.get_by_role("button", name="Save segment").click()
    await page.wait_for_url("**/segments/*?saved=1")
    async with stack.api() as api:
        (saved,) = (await api.get("/api/v1/segments")).json()["items"]
    assert saved["last_count"] == expected and saved["rules"]["rules"][1]["op"] == "or"
    await page.goto(stack.url + "/segments")
    await page.screenshot(path=shots / "segments.png", full_page=True)


async def test_create_and_launch_a_campaign_until_completed(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    stack = await stack_factory(vendor=True)
    await seed(stack)
    async with stack.api() as api:  # two of Pune's 50 will be left out at launch
        for who in ("c0001", "c0005"):
            assert (await api.post(f"/api/v1/customers/{who}/unsubscribe")).status_code == 200
    await sign_in(page, stack, "/campaigns/new")
    await page.get_by_role("button", name="+ Condition").click()
    await page.get_by_label("Field").select_option("city")
    await page.get_by_label("Comparison").select_option("eq")
    await page.get_by_label("Value").fill("Pune")
    await expect(page.locator("#count")).to_have_attribute("data-count", "50")
    await page.screenshot(path=shots / "campaign-wizard-audience.png", full_page=True)
    await page.get_by_role("button", name="Next: the message").click()

    await page.get_by_label("Campaign name").fill("Pune hello")
    await page.get_by_label("Message", exact=True).fill("Hi ")
    await page.get_by_role("button", name="first_name").click()
    await page.get_by_label("Message", exact=True).press("End")
    await page.get_by_label("Message", exact=True).type(", thanks for shopping with us!")
    await expect(page.locator("#preview-message")).to_contain_text("Hi Person")
    await page.screenshot(path=shots / "campaign-wizard-message.png", full_page=True)
    await page.get_by_role("button", name="Next: review").click()
    await expect(page.locator("#review-count")).to_have_attribute("data-count", "48")
    await expect(page.locator("#review-reach")).to_have_text("50 match · 48 reachable by SMS")
    await expect(page.locator("#review-excluded")).to_have_text("Left out at launch: 2 unsubscribed.")
    await page.screenshot(path=shots / "campaign-wizard-review.png", full_page=True)

    # A test to oneself first: a bad number is named, a good one says where it went.
    await page.get_by_label("Your phone number").fill("call me")
    await page.get_by_role("button", name="Send a test to myself").click()
    await expect(page.locator("#test-send-result")).to_have_text(
        "Phone number: is not a phone number (digits, spaces and an optional leading +)"
    )
    await expect(page.get_by_label("Your phone number")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Your phone number").fill("+91 98765 43210")
    await page.get_by_role("button", name="Send a test to myself").click()
    await expect(page.locator("#test-send-result")).to_have_text(
        re.compile(
            r"^Test sent to \+91 98765 43210, filled in for Person \d+\. It is not counted in the campaign\.$"
        )
    )
    async with httpx.AsyncClient() as vendor:
        keys = (await vendor.get(f"http://127.0.0.1:{stack.vendor_port}/v1/keys")).json()["keys"]
    assert [k for k in keys if k.startswith("pulse-test-")], keys  # it went through the vendor

    # Launching asks first, naming the channel and the count; going back launches nothing.
    await page.get_by_role("button", name="Launch campaign").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_role("heading")).to_have_text("Launch “Pune hello”?")
    await expect(dialog).to_contain_text("It sends an SMS to 48 customers now.")
    await page.screenshot(path=shots / "campaign-wizard-confirm.png", full_page=True)
    await dialog.get_by_role("button", name="Go back").click()
    await expect(page.get_by_role("dialog")).to_have_count(0)
    async with stack.api() as api:
        assert (await api.get("/api/v1/campaigns")).json()["items"] == []
    await launch(page)

    await page.wait_for_url("**/campaigns/*")
    await expect(page.locator("#live .badge")).to_have_text("completed", timeout=60_000)
    await expect(page.locator('[data-stat="pending"]')).to_have_text("0")
    await page.screenshot(path=shots / "campaign.png", full_page=True)
    async with stack.api() as api:
        (campaign,) = (await api.get("/api/v1/campaigns")).json()["items"]
    stats = campaign["stats"]
    assert campaign["status"] == "completed" and stats["audience"] == 48
    assert stats["unsubscribed_excluded"] == 2
    assert stats["delivered"] + stats["failed"] + stats["unknown"] == 48
    assert stats["delivered"] >= 33  # the mock vendor delivers ~90%
    await expect(page.get_by_role("button", name="Pause")).to_have_count(0)  # actions follow the status
    await expect(page.locator('[data-stat="delivered"]')).to_have_text(str(stats["delivered"]))
    await page.get_by_label("Show").select_option("failed")
    await expect(page.locator("#log")).to_contain_text("failed" if stats["failed"] else "No failed messages")
    await page.goto(stack.url + "/campaigns")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await page.screenshot(path=shots / "campaigns.png", full_page=True)


async def test_revoke_an_api_key_and_see_it_refused(stack_factory: Any, page: Page, shots: Path) -> None:
    stack = await stack_factory()
    await sign_in(page, stack, "/settings/api-keys")
    await page.get_by_label("Name").fill("Shop backend")
    await page.get_by_role("button", name="Create key").click()
    secret = await page.get_by_label("The new API key").input_value()
    assert secret.startswith("pk_")
    await page.screenshot(path=shots / "api-keys.png", full_page=True)
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=stack.url, headers=headers) as client:
        assert (await client.get("/api/v1/customers")).status_code == 200
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        row = page.locator("tr", has_text="Shop backend")
        await row.get_by_role("button", name="Revoke").click()
        await expect(page.locator("tr", has_text="Shop backend")).to_contain_text("revoked")
        refused = await client.get("/api/v1/customers")
        assert refused.status_code == 401


async def test_main_pages_on_a_laptop_and_a_phone(stack_factory: Any, page: Page, shots: Path) -> None:
    stack = await stack_factory()
    await seed(stack)
    await sign_in(page, stack)
    for name, path in (
        ("dashboard", "/"),
        ("customers", "/customers"),
        ("customer", "/customers/c0007"),
        ("uploads", "/uploads"),
        ("users", "/settings/users"),
    ):
        await page.goto(stack.url + path)
        await expect(page.locator("h1")).to_be_visible()
        await page.screenshot(path=shots / f"{name}.png", full_page=True)
    # Search narrows the list as you type.
    await page.goto(stack.url + "/customers")
    await page.get_by_label("Search customers").fill("Person 0042")
    await expect(page.locator("#customer-rows tr")).to_have_count(1)
    # Keyboard: on a fresh page the skip link is the first stop, then the navigation.
    await page.goto(stack.url + "/")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Pulse CRM, dashboard")).to_be_focused()
    await page.set_viewport_size({"width": 390, "height": 844})
    for name, path in (("phone-dashboard", "/"), ("phone-segment-builder", "/segments/new")):
        await page.goto(stack.url + path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"{path} scrolls sideways on a phone ({width}px)"
        await page.screenshot(path=shots / f"{name}.png", full_page=True)


async def test_the_assistant_fills_the_builder_and_suggests_messages(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    stack = await stack_factory()
    await seed(stack)
    await sign_in(page, stack, "/segments/new")
    await page.get_by_label("Describe your audience in plain words").fill(
        "people who spent more than ₹5k in Mumbai or Pune"
    )
    await page.get_by_role("button", name="Fill in the rules").click()
    await expect(page.locator(".condition")).to_have_count(2)
    await expect(page.locator(".condition").first.get_by_label("Field")).to_have_value("total_spend")
    async with stack.api() as api:
        suggested = (
            await api.post(
                "/api/v1/ai/segment", json={"prompt": "people who spent more than ₹5k in Mumbai or Pune"}
            )
        ).json()
        expected = (await api.post("/api/v1/segments/preview", json={"rules": suggested["rules"]})).json()[
            "count"
        ]
    await expect(page.locator("#count")).to_have_attribute("data-count", str(expected))
    await expect(page.locator(".assistant-result")).to_contain_text("offline engine")
    await page.screenshot(path=shots / "segment-assistant.png", full_page=True)

    await page.goto(stack.url + "/campaigns/new")
    await page.get_by_role("button", name="Next: the message").click()
    await page.get_by_label("Need ideas? State the goal").fill("win back lapsed customers with 10% off")
    await page.get_by_role("button", name="Suggest messages").click()
    variants = page.locator(".variant")
    await expect(variants).to_have_count(3)
    await variants.nth(1).get_by_role("button", name="Use this").click()
    assert "{{" in await page.get_by_label("Message", exact=True).input_value()
    await expect(page.locator("#preview-message")).not_to_contain_text("{{")
    await expect(page.locator("#preview-meta")).to_contain_text("SMS part")
    # Another suggestion becomes variant B, previewed beside its own editor.
    await variants.nth(2).get_by_role("button", name="Add as a variant").click()
    assert "{{" in await page.get_by_label("Variant B message").input_value()
    await expect(page.get_by_label("Variant A message")).to_be_visible()
    await expect(page.locator("[data-ab-variant] .rendered")).not_to_contain_text("{{")
    await expect(page.locator("[data-ab-variant] .rendered")).not_to_contain_text("Start typing")
    await page.screenshot(path=shots / "campaign-wizard-suggestions.png", full_page=True)


async def test_a_campaign_with_a_holdout_reads_as_a_report(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    """Wizard with a holdout, real sending through the mock vendor, orders through the API, the
    background attribution pass: then the page shows what a marketer came for."""
    stack = await stack_factory(vendor=True, vendor_success_rate="1")
    people = [
        customer(external_id=f"c{i:02}", name=f"Person {i:02}", city="Pune", phone=f"+9197{i:08}")
        for i in range(40)
    ]
    async with stack.api() as api:
        assert (await api.post("/api/v1/customers", json=people)).status_code == 201
    await sign_in(page, stack, "/campaigns/new")
    await page.get_by_role("button", name="+ Condition").click()
    await page.get_by_label("Field").select_option("city")
    await page.get_by_label("Comparison").select_option("eq")
    await page.get_by_label("Value").fill("Pune")
    await expect(page.locator("#count")).to_have_attribute("data-count", "40")
    await page.get_by_role("button", name="Next: the message").click()
    await page.get_by_label("Campaign name").fill("Pune with a holdout")
    await page.get_by_label("Message", exact=True).fill("Hi, 10% off this week")
    await page.get_by_label("Holdout (% of the audience)").fill("60")
    await page.get_by_role("button", name="Next: review").click()
    await expect(page.get_by_role("alert").first).to_have_text(
        "The holdout must be a whole number from 0 to 50."
    )
    await page.get_by_label("Holdout (% of the audience)").fill("25")
    await page.get_by_label("Attribution window (days)").fill("7")
    await page.get_by_role("button", name="Next: review").click()
    await expect(page.locator("#review-holdout")).to_contain_text("25% of the reachable audience held out")
    await expect(page.locator("#review-attribution")).to_have_text(
        "Orders within 7 days of a message are credited to it"
    )
    await page.screenshot(path=shots / "campaign-wizard-holdout.png", full_page=True)
    await launch(page)
    await page.wait_for_url("**/campaigns/*")
    await expect(page.locator("#live .badge")).to_have_text("completed", timeout=60_000)
    cid = int(page.url.rsplit("/", 1)[1])

    async with stack.api() as api:
        created = (await api.get(f"/api/v1/campaigns/{cid}")).json()
        assert (created["holdout_percent"], created["attribution_days"]) == (25, 7)
        log = (await api.get(f"/api/v1/campaigns/{cid}/deliveries", params={"limit": 100})).json()["items"]
        messaged = sorted(d["customer_external_id"] for d in log)
        held = sorted({p["external_id"] for p in people} - set(messaged))
        assert held and len(messaged) + len(held) == 40
        buyers = messaged[:12]
        orders = [
            order(
                external_id=f"t{i}", customer_external_id=c, amount="1499.50", ordered_at=utcnow().isoformat()
            )
            for i, c in enumerate(buyers)
        ]
        orders.append(
            order(
                external_id="h0",
                customer_external_id=held[0],
                amount="999.00",
                ordered_at=utcnow().isoformat(),
            )
        )
        assert (await api.post("/api/v1/orders", json=orders)).status_code == 201
        for _ in range(60):  # the web process's own attribution pass credits them within seconds
            report = (await api.get(f"/api/v1/campaigns/{cid}/report")).json()
            if report["attributed"]["converted"] == 12 and report["control"]["converted"] == 1:
                break
            await asyncio.sleep(0.5)
        assert report["attributed"]["converted"] == 12, report
    assert report["lift"] is not None

    await page.reload()
    funnel = page.get_by_test_id("funnel")
    for step, value in (("audience", 40), ("reachable", 40), ("sent", len(messaged)), ("converted", 12)):
        await expect(funnel.locator(f'[data-funnel="{step}"] [data-value]')).to_have_text(str(value))
    await expect(funnel.locator('[data-funnel="delivered"]')).to_contain_text("100.0% of sent")
    await expect(funnel.locator('[data-funnel="converted"] th')).to_contain_text("Converted")
    await expect(page.locator('[data-stat="converted"]')).to_have_text("12")
    await expect(page.locator('[data-stat="revenue"]')).to_have_text("₹17,994")  # 12 x 1,499.50
    await expect(page.get_by_test_id("lift")).to_have_text(report["lift"]["sentence"])
    await expect(page.locator('[data-group="control"]')).to_contain_text("₹999")
    chart = page.get_by_test_id("activity-chart")
    await expect(chart).to_be_visible()
    for label in ("Time (UTC)", "Per 5 minutes", "Sent", "Orders"):
        await expect(chart).to_contain_text(label)
    await expect(page.get_by_test_id("revenue-chart")).to_contain_text("₹")
    await expect(page.get_by_test_id("timeline-empty")).to_have_count(0)
    await page.get_by_test_id("report").screenshot(path=shots / "campaign-report.png")
    await page.locator("#timeline").screenshot(path=shots / "campaign-timeline.png")
    await page.screenshot(path=shots / "campaign-report-page.png", full_page=True)

    await page.goto(stack.url + "/campaigns")
    row = page.locator("tbody tr").first
    await expect(row.locator('[data-col="converted"]')).to_have_text("12")
    await expect(row.locator('[data-col="revenue"]')).to_have_text("₹17,994")
    await page.goto(stack.url + "/")
    # Only credited orders: the held-out customer's purchase followed no message.
    await expect(page.get_by_test_id("attributed-revenue")).to_have_text("₹17,994")


async def _sent_and_opened(stack: Stack, opens: int = 3) -> tuple[int, list[str], list[str]]:
    """A campaign to Pune's customers, sent through the mock vendor until completed, then `opens`
    of its delivered messages opened (receipts through the signed webhook). Returns the
    campaign's id, the customers who opened, and those who received it and did not."""
    body = {
        "name": "Spring sale",
        "message": "Hi {{ first_name }}",
        "rules": {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Pune"}]},
    }
    async with stack.api() as api:
        cid = (await api.post("/api/v1/campaigns", json=body)).json()["id"]
        assert (await api.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
        for _ in range(600):
            if (await api.get(f"/api/v1/campaigns/{cid}")).json()["status"] == "completed":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the campaign did not complete within a minute")
        log = (await api.get(f"/api/v1/campaigns/{cid}/deliveries", params={"limit": 500})).json()["items"]
        delivered = [d for d in log if d["status"] == "delivered"]
        assert len(delivered) > opens
        receipts = [
            {"message_id": d["vendor_message_id"], "status": "opened", "occurred_at": d["sent_at"]}
            for d in delivered[:opens]
        ]
        payload = orjson.dumps({"receipts": receipts})
        answer = await api.post(
            "/api/v1/receipts",
            content=payload,
            headers={"X-Pulse-Signature": sign(WEBHOOK_SECRET, payload), "content-type": "application/json"},
        )
        assert answer.status_code in (200, 202), answer.text
    opened = [d["customer_external_id"] for d in delivered[:opens]]
    received = [d["customer_external_id"] for d in log if d["status"] in ("sent", "delivered", "unknown")]
    return int(cid), opened, [c for c in received if c not in opened]


async def test_build_an_engagement_condition_with_the_campaign_picker(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    # Only the opens these tests send: the mock vendor's own are off.
    stack = await stack_factory(vendor=True, vendor_open_rate="0", vendor_click_rate="0")
    await seed(stack, 40)
    cid, opened, others = await _sent_and_opened(stack)
    await sign_in(page, stack, "/segments/new")
    await page.get_by_role("button", name="+ Condition").click()
    field = page.get_by_label("Field")
    await expect(field.locator("optgroup[label=Engagement] option")).to_have_text(
        ["Received", "Opened", "Clicked", "Converted"]
    )
    await field.select_option("opened")
    await expect(page.get_by_label("Comparison")).to_have_value("in_campaign")
    await page.get_by_label("Campaign").select_option(label=f"Spring sale (#{cid})")
    count = page.locator("#count")
    await expect(count).to_have_attribute("data-count", str(len(opened)))
    await expect(page.locator("#sample tbody tr")).to_have_count(len(opened))
    await page.screenshot(path=shots / "segment-engagement.png", full_page=True)

    # "Didn't open it": received it and did not open, as the API counts it.
    await page.get_by_label("Comparison").select_option("not_in_campaign")
    await expect(page.get_by_label("Campaign")).to_have_value(str(cid))  # kept across the switch
    rules = {"op": "and", "rules": [{"field": "opened", "cmp": "not_in_campaign", "value": cid}]}
    async with stack.api() as api:
        expected = (await api.post("/api/v1/segments/preview", json={"rules": rules})).json()["count"]
    # Pune's 10 less the 3 who opened, and less any whose message the vendor failed.
    assert expected == len(others) > 0
    await expect(count).to_have_attribute("data-count", str(expected))

    # In the last N days, with its bounds checked by the API.
    await page.get_by_label("Comparison").select_option("within_last_days")
    await page.get_by_label("Days").fill("400")
    await expect(page.locator(".condition .nodeerror")).to_contain_text("between 1 and 365")
    await page.get_by_label("Days").fill("30")
    await expect(count).to_have_attribute("data-count", str(len(opened)))


async def test_the_customer_page_shows_the_message_history(
    stack_factory: Any, page: Page, shots: Path
) -> None:
    # Only the opens these tests send: the mock vendor's own are off.
    stack = await stack_factory(vendor=True, vendor_open_rate="0", vendor_click_rate="0")
    await seed(stack, 40)
    _, opened, not_opened = await _sent_and_opened(stack, opens=1)
    # An order after the message: the web process's attribution pass credits it to the message.
    order_body = order(
        external_id="o-spring",
        customer_external_id=opened[0],
        amount="1499.50",
        ordered_at=datetime.now(UTC).isoformat(),
    )
    async with stack.api() as api:
        assert (await api.post("/api/v1/orders", json=order_body)).status_code == 201
        for _ in range(300):
            history = (await api.get(f"/api/v1/customers/{opened[0]}/messages")).json()["items"]
            if history[0]["orders"]:
                break
            await asyncio.sleep(0.1)
    assert history[0]["orders"][0]["amount"] == "1499.50"
    await sign_in(page, stack, f"/customers/{opened[0]}")
    messages = page.locator("#messages")
    await expect(messages.get_by_role("heading", name="Messages")).to_be_visible()
    row = messages.locator("tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Spring sale")
    await expect(row).to_contain_text("delivered")
    await expect(row).to_contain_text("UTC")  # sent and opened, written as "1 Dec 2026, 04:30 UTC"
    await expect(row).not_to_contain_text("not opened")
    await expect(row).to_contain_text("no clicks")
    await expect(row).to_contain_text("o-spring: ₹1,499.50 on")
    await page.screenshot(path=shots / "customer-messages.png", full_page=True)
    await page.goto(f"{stack.url}/customers/{not_opened[0]}")
    await expect(page.locator("#messages tbody tr")).to_contain_text("not opened")
    await page.goto(f"{stack.url}/customers/c0000")  # Mumbai: not in the audience
    await expect(page.locator("#messages")).to_contain_text("No messages yet")


async def test_an_ab_test_from_the_wizard_to_its_winner(stack_factory: Any, page: Page, shots: Path) -> None:
    """Two variants tested on a share first: the wizard's checks and review, then the campaign
    page while the test runs, and after the winner is picked."""
    stack = await stack_factory(vendor=True, vendor_success_rate="1")
    await seed(stack)
    await sign_in(page, stack, "/campaigns/new")
    await expect(page.locator("#count")).to_have_attribute("data-count", "200")
    await page.get_by_role("button", name="Next: the message").click()
    await page.get_by_label("Campaign name").fill("Spring A/B")
    await page.get_by_label("Message", exact=True).fill("Hi {{ first_name }}, spring sale: 10% off")

    await page.get_by_role("button", name="Add a variant (A/B test)").click()
    await expect(page.get_by_label("Variant A message")).to_have_value(
        "Hi {{ first_name }}, spring sale: 10% off"
    )
    variant_b = page.get_by_label("Variant B message")
    await expect(variant_b).to_be_focused()
    await variant_b.fill("Last day of the spring sale, {{ first_name }}")
    await expect(page.locator("[data-ab-variant]").first.locator(".rendered")).to_have_text(
        "Last day of the spring sale, Person"
    )
    await expect(page.locator("#ab-help")).to_have_text(
        "Each customer gets one of the 2 variants: about 1 in 2 of the audience each."
    )
    # A third, then removed: the remove button says which.
    await page.get_by_role("button", name="Add a variant (A/B test)").click()
    await page.get_by_role("button", name="Remove variant C").click()
    await expect(page.locator("[data-ab-variant]")).to_have_count(1)
    # An empty variant is refused with a sentence, next to it.
    await page.get_by_role("button", name="Add a variant (A/B test)").click()
    await page.get_by_role("button", name="Next: review").click()
    await expect(page.get_by_role("alert").first).to_have_text("Write variant C's message.")
    await expect(page.get_by_label("Variant C message")).to_have_attribute("aria-invalid", "true")
    await page.get_by_role("button", name="Remove variant C").click()

    await page.get_by_label("Test first, then send the winner").check()
    await expect(page.locator("#ab-help")).to_have_text(
        "20% of the audience gets the variants first, split evenly; after 4 hours the one with the "
        "best click rate goes to the other 80%."
    )
    share = page.get_by_label("Test share (% of the audience)")
    await share.fill("90")
    await page.get_by_role("button", name="Next: review").click()
    await expect(page.get_by_role("alert").first).to_have_text(
        "The test share must be a whole number from 2 to 50."
    )
    await expect(share).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#test_percent-error")).to_have_text(
        "The test share must be a whole number from 2 to 50."
    )
    await page.screenshot(path=shots / "campaign-wizard-variants.png", full_page=True)
    await share.fill("20")
    await expect(share).not_to_have_attribute("aria-invalid", "true")
    await page.get_by_role("button", name="Next: review").click()

    await expect(page.locator("#review-ab")).to_have_text(
        "Test first: 20% of the audience gets the 2 variants, split evenly; after 4 hours the one with "
        "the best click rate goes to the other 80%."
    )
    await expect(page.locator('[data-review-variant="A"]')).to_contain_text("Hi Person, spring sale")
    await expect(page.locator('[data-review-variant="B"]')).to_contain_text(
        "Last day of the spring sale, Person"
    )
    await page.screenshot(path=shots / "campaign-wizard-variants-review.png", full_page=True)

    # A refusal from the API (here the API's own answer to a broken variant B) is shown next to
    # the field it names, on that field's step.
    async with stack.api() as api:
        broken = [{"message": "Hi"}, {"message": "Hi {{ first_name | nope }}"}]
        refused = await api.post(
            "/api/v1/campaigns", json={"name": "x", "rules": {"op": "and", "rules": []}, "variants": broken}
        )
    assert refused.status_code == 422, refused.text
    (detail,) = refused.json()["error"]["details"]

    async def refuse(route: Any) -> None:
        await route.fulfill(status=422, content_type="application/json", body=refused.text)

    await page.route("**/api/v1/campaigns", refuse)
    await launch(page)
    await expect(page.get_by_role("heading", name="What should it say?")).to_be_visible()
    await expect(variant_b).to_have_attribute("aria-invalid", "true")
    await expect(variant_b).to_be_focused()
    await expect(page.locator(f"#{await variant_b.get_attribute('aria-describedby')}")).to_have_text(
        detail["message"]
    )
    await expect(page.get_by_role("alert").first).to_have_text(refused.json()["error"]["message"])
    await page.unroute("**/api/v1/campaigns", refuse)
    await page.get_by_role("button", name="Next: review").click()
    await launch(page)
    await page.wait_for_url(re.compile(r".*/campaigns/\d+$"))
    cid = int(page.url.rsplit("/", 1)[1])

    async with stack.api() as api:
        created = (await api.get(f"/api/v1/campaigns/{cid}")).json()
        assert created["variant_test"] == {"percent": 20, "hours": 4, "metric": "clicked"}
        assert [v["message"] for v in created["variants"]] == [
            "Hi {{ first_name }}, spring sale: 10% off",
            "Last day of the spring sale, {{ first_name }}",
        ]
        launched = datetime.fromisoformat(created["launched_at"])
        for _ in range(60):  # the test's messages go out; the rest wait for the winner
            report = (await api.get(f"/api/v1/campaigns/{cid}/report")).json()
            test = report["variants"]
            if len(test) == 2 and all(v["delivered"] == v["customers"] > 0 for v in test):
                break
            await asyncio.sleep(0.5)
        assert [v["label"] for v in test] == ["A", "B"], report
        assert all(v["delivered"] == v["customers"] > 0 for v in test), report
        assert 20 <= sum(v["customers"] for v in test) <= 60  # about 20% of 200

    await page.reload()
    table = page.get_by_test_id("variants-table")
    await expect(table).to_be_visible()
    for v in test:
        await expect(table.locator(f'[data-variant="{v["label"]}"]')).to_contain_text(
            f"{v['label']} {v['customers']} {v['sent']} {v['delivered']}"
        )
    decides = datetime_(launched + timedelta(hours=4))
    await expect(page.get_by_test_id("variants-plan")).to_contain_text(
        f"Testing on 20% — winner picked at {decides}."
    )
    await expect(table).not_to_contain_text("Winner")
    await page.get_by_test_id("variants").screenshot(path=shots / "campaign-variants-testing.png")

    db = Database(stack.database_url)
    try:
        picked = await db.write(
            lambda conn: ab_variants.pick_winners(conn, now=launched + timedelta(hours=4))
        )
    finally:
        await db.dispose()
    assert picked == 1
    async with stack.api() as api:
        winner = (await api.get(f"/api/v1/campaigns/{cid}")).json()["winner"]
    assert winner["reason"].startswith(f"{winner['label']} won on click rate: ")

    await page.reload()
    await expect(page.get_by_test_id("variants-note")).to_have_text(winner["reason"])
    await expect(table.locator("[data-winner]")).to_have_count(1)
    await expect(table.locator("[data-winner] th")).to_have_text(f"{winner['label']} Winner")
    await expect(page.get_by_test_id("variants-plan")).not_to_contain_text("Testing on")
    # The winner goes to the rest, and the campaign finishes.
    await expect(page.locator("#live .badge")).to_have_text("completed", timeout=60_000)
    await expect(page.locator('[data-stat="delivered"]')).to_have_text("200")
    await page.screenshot(path=shots / "campaign-variants.png", full_page=True)
    # On a phone the variants' table scrolls in its own box; the page does not scroll sideways.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await expect(page.get_by_test_id("variants-table")).to_be_attached()
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= 390
