"""Web app figures: rule edit → updated count on screen, what a first page load transfers
(on the wire, compressed where the app compresses, and unpacked), and a CSV import's rows per
second through the upload page.

Loads 100,000 customers into PostgreSQL with COPY (bench/segments.py's loader), starts
`pulsecrm serve`, signs in with Debian's chromium (Playwright), and on the segment builder
changes a condition's value `--runs` times, reading the page's own measurement of the time
from the keystroke to the new count on screen (the 150 ms debounce included). Then it records
every response of a cold load (empty cache) of the dashboard and of the builder, as sent
(`transferred_bytes`) and unpacked (`bytes`). Last, a person imports a CSV of `--import-rows`
customers (another tool's header spellings and extra columns) on the upload page, from the
click on Import to "Done" on screen; beside it, the API's rate for the same kind of customers
(POST /api/v1/customers, batches of 1,000 over 4 connections, on the same server and database
afterwards) and COPY's rate on the same machine in the same run (`copy_rows_per_s`). Prints one
JSON object.

    .venv/bin/python bench/web.py [--customers 100000] [--runs 40] [--import-rows 1000000]
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
from segments import URL, drop, env, load, pctl

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
    wire: dict[str, int] = {}
    pending: list[asyncio.Future[None]] = []

    async def record(response: Response) -> None:
        name = response.url.split("?")[0].removeprefix(base) or "/"
        sizes[name] = len(await response.body())
        # What crossed the network: the body as sent (gzipped when the app compressed it);
        # chromium gives no size (a negative one) for a few, which count as unpacked.
        sent = (await response.request.sizes())["responseBodySize"]
        wire[name] = sent if sent >= 0 else sizes[name]

    page.on("response", lambda r: pending.append(asyncio.ensure_future(record(r))))
    await page.goto(base + path, wait_until="networkidle")
    await asyncio.gather(*pending)
    await context.close()
    document = sizes.get(path, 0)
    return {
        "transferred_bytes": sum(wire.values()),
        "bytes": sum(sizes.values()),
        "html_bytes": document,
        "asset_bytes": sum(sizes.values()) - document,
        "files": sizes,
        "files_transferred": wire,
    }


def write_csv(path: Path, rows: int) -> None:
    """A customers CSV as another tool would export it: header spellings to map, extra columns."""
    cities = ["Mumbai", "Delhi", "Pune", "Bengaluru", "Chennai", "Kolkata", "Jaipur"]
    with path.open("w") as out:
        out.write("Customer ID,Full Name,E-mail,Phone Number,City,Signup Date,tier,marketing_opt_in\n")
        for i in range(rows):
            out.write(
                f"imp-{i:07d},Person {i},person{i}@example.com,+91 9{i:09d},{cities[i % 7]},"
                f"2025-{1 + i % 12:02d}-{1 + i % 28:02d},{('gold', 'silver', 'bronze')[i % 3]},{'yes' if i % 2 else 'no'}\n"
            )


async def import_through_the_page(browser: Browser, base: str, rows: int) -> dict[str, Any]:
    """A person imports a `rows`-row CSV on /uploads: pick the file, see the mapping, click Import,
    wait for "Done". Timed from the click to "Done" on screen (upload, parse, write)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.csv"
        write_csv(path, rows)
        size = path.stat().st_size
        page = await (await browser.new_context()).new_page()
        await sign_in(page, base, "/uploads")
        await page.set_input_files("#file", str(path))
        await page.wait_for_selector("#mapping-table select")
        started = time.perf_counter()
        await page.get_by_role("button", name="Import").click()
        await page.wait_for_function(
            "() => ['Done', 'Failed', 'Not imported'].includes(document.querySelector('#upload-phase').textContent)",
            timeout=3_600_000,
            polling=200,
        )
        seconds = time.perf_counter() - started
        phase = await page.text_content("#upload-phase")
        said = await page.text_content("#upload-result")
        await page.context.close()
    return {
        "rows": rows,
        "file_bytes": size,
        "phase": phase,
        "said": (said or "").strip()[:300],
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
    }


def api_key() -> str:
    made = subprocess.run(
        [PULSECRM, "apikey", "create", "--name", "bench", "--scope", "ingest"],
        env=env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(word for word in made.split() if word.startswith("pk_"))


async def through_the_api(base: str, rows: int, batch: int = 1000, connections: int = 4) -> dict[str, Any]:
    """The same customers (same columns, new ids) POSTed to /api/v1/customers in batches of
    `batch` over `connections` connections: the speed of the API the import is compared with."""
    cities = ["Mumbai", "Delhi", "Pune", "Bengaluru", "Chennai", "Kolkata", "Jaipur"]

    def body(start: int) -> bytes:
        return json.dumps(
            [
                {
                    "external_id": f"api-{i:07d}",
                    "name": f"Person {i}",
                    "email": f"api{i}@example.com",
                    "phone": f"+91 8{i:09d}",
                    "city": cities[i % 7],
                    "created_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00+00:00",
                    "attributes": {
                        "tier": ("gold", "silver", "bronze")[i % 3],
                        "marketing_opt_in": bool(i % 2),
                    },
                }
                for i in range(start, min(rows, start + batch))
            ]
        ).encode()

    starts = iter(range(0, rows, batch))
    headers = {"authorization": f"Bearer {api_key()}", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:

        async def post_all() -> None:
            for start in starts:
                response = await client.post("/api/v1/customers", content=body(start))
                assert response.status_code in (201, 202), response.text[:300]

        began = time.perf_counter()
        await asyncio.gather(*(post_all() for _ in range(connections)))
        seconds = time.perf_counter() - began
    return {
        "rows": rows,
        "batch": batch,
        "connections": connections,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
    }


async def measure(base: str, runs: int, import_rows: int) -> dict[str, Any]:
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
        imported = await import_through_the_page(browser, base, import_rows) if import_rows else None
        await browser.close()
    api = await through_the_api(base, import_rows) if import_rows else None
    return {
        "csv_import_through_upload_page": imported,
        "same_customers_through_the_api": api,
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
    parser.add_argument("--import-rows", type=int, default=1_000_000, help="0: skip the CSV import")
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
            result = asyncio.run(measure(base, args.runs, args.import_rows))
        finally:
            server.terminate()
            server.wait(timeout=10)
            asyncio.run(drop())  # the bench's own database, made by `load`
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
