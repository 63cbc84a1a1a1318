"""Web app figures: rule edit → updated count on screen, and what a first page load transfers.

Loads 100,000 customers into PostgreSQL with COPY (bench/segments.py's loader), starts
`pulsecrm serve`, signs in with Debian's chromium (Playwright), and on the segment builder
changes a condition's value `--runs` times, reading the page's own measurement of the time
from the keystroke to the new count on screen (the 150 ms debounce included). Then it records
every response of a cold load (empty cache) of the dashboard and of the builder. Prints one
JSON object.

    .venv/bin/python bench/web.py [--customers 100000] [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, Response, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulsecrm.auth import users
from pulsecrm.db import Database
from segments import URL, env, load, pctl

PULSECRM = str(Path(sys.executable).parent / "pulsecrm")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
EMAIL, PASSWORD = "bench@example.com", "bench password"


async def make_user() -> None:
    db = Database(URL)
    try:
        async with db.write_session() as session:
            await users.create_local(session, email=EMAIL, name="Bench", password=PASSWORD)
            await session.commit()
    finally:
        await db.dispose()


async def sign_in(page: Page, base: str, path: str = "/") -> None:
    await page.goto(f"{base}/login?next={path}")
    await page.get_by_label("E-mail").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(base + path)


async def cold_load(browser: Browser, base: str, path: str) -> dict[str, Any]:
    """Everything a first visit to `path` transfers: a new context (empty cache) that carries
    only a signed-in session cookie."""
    signing = await browser.new_context()
    await sign_in(await signing.new_page(), base)
    cookies = await signing.cookies()
    await signing.close()
    context = await browser.new_context()
    await context.add_cookies(cookies)  # type: ignore[arg-type]
    page = await context.new_page()
    sizes: dict[str, int] = {}
    pending: list[asyncio.Future[None]] = []

    async def record(response: Response) -> None:
        name = response.url.split("?")[0].removeprefix(base) or "/"
        sizes[name] = len(await response.body())

    page.on("response", lambda r: pending.append(asyncio.ensure_future(record(r))))
    await page.goto(base + path, wait_until="networkidle")
    await asyncio.gather(*pending)
    await context.close()
    document = sizes.get(path, 0)
    return {
        "bytes": sum(sizes.values()),
        "html_bytes": document,
        "asset_bytes": sum(sizes.values()) - document,
        "files": sizes,
    }


async def measure(base: str, runs: int) -> dict[str, Any]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        loads = {
            name: await cold_load(browser, base, path)
            for name, path in (("dashboard", "/"), ("segment_builder", "/segments/new"))
        }
        page = await (await browser.new_context()).new_page()
        await sign_in(page, base, "/segments/new")
        await page.wait_for_selector("#count[data-count]")
        await page.get_by_role("button", name="+ Condition").click()
        value = page.get_by_label("Value")
        times = []
        counts = set()
        for i in range(runs):
            previous = await page.get_attribute("#count", "data-ms")
            await value.fill(str(1000 + (i * 977) % 15000))
            await page.wait_for_function(
                "prev => { const c = document.querySelector('#count'); "
                "return c.dataset.ms !== prev && !c.hasAttribute('aria-busy'); }",
                arg=previous,
                timeout=10_000,
            )
            times.append(float(await page.evaluate("window.__pulsePreviewMs")))
            counts.add(await page.get_attribute("#count", "data-count"))
            await page.evaluate("document.querySelector('#count').dataset.ms = 'seen'")
        await browser.close()
    return {
        "edit_to_count_p50_ms": pctl(times, 50),
        "edit_to_count_p95_ms": pctl(times, 95),
        "edit_to_count_max_ms": round(max(times), 1),
        "debounce_ms": 150,
        "distinct_counts_seen": len(counts),
        "first_load": loads,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    started = time.perf_counter()
    copy_rps = asyncio.run(load(args.customers))
    asyncio.run(make_user())
    port = 18000 + random.randint(0, 999)
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as out:
        server = subprocess.Popen([PULSECRM, "serve", "--port", str(port)], env=env(), stdout=out, stderr=out)
        try:
            for _ in range(100):
                try:
                    if httpx.get(base + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            result = asyncio.run(measure(base, args.runs))
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(
        json.dumps(
            {
                "cores": os.cpu_count(),
                "customers": args.customers,
                "copy_rows_per_s": int(copy_rps),
                "runs": args.runs,
                **result,
                "runtime_seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
