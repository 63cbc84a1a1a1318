"""The delivery process tests' shared steps: a vendor and `serve` on ports chosen first (each
needs the other's address), customers seeded through the API, a campaign launched."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.cli_helpers import free_port, wait_healthy
from tests.conftest import REDIS_URL
from tests.faults.procs import Child, Processes


def wait_for(what: str, condition: Callable[[], bool], seconds: float, procs: Processes) -> float:
    """Poll until `condition()`; the seconds it took. Fails with the processes' logs."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"{what}: not within {seconds:g} s\n{procs.tails()}")
        time.sleep(0.05)
    return time.monotonic() - start


class Ports:
    def __init__(self) -> None:
        self.api, self.vendor = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.api}"
        self.vendor_url = f"http://127.0.0.1:{self.vendor}"

    def settings(self) -> dict[str, str]:
        return {
            "vendor_url": self.vendor_url,
            "vendor_port": str(self.vendor),
            "vendor_webhook_url": f"{self.api_url}/api/v1/receipts",
            "vendor_min_delay_ms": "5",
            "vendor_max_delay_ms": "50",
        }


def stream_settings(
    database_url: str, redis_prefix: str, ports: Ports, key_log: Path, **extra: str
) -> dict[str, str]:
    """Stream mode on the shared Redis (under the test's prefix) and a vendor that always
    accepts and logs every idempotency key it takes to `key_log`."""
    return Processes.settings(
        database_url,
        REDIS_URL,
        redis_prefix=redis_prefix,
        redis_allow_volatile="true",  # the shared test Redis keeps nothing on disk
        vendor_log_path=str(key_log),
        vendor_success_rate="1",
        **(ports.settings() | extra),
    )


def start_vendor(processes: Processes, ports: Ports, settings: dict[str, str]) -> Child:
    child = processes.spawn("vendor", "vendor", "--port", str(ports.vendor), **settings)
    wait_healthy(ports.vendor_url, processes.logs)
    return child


def start_serve(processes: Processes, port: int, settings: dict[str, str]) -> Child:
    child = processes.spawn("serve", "serve", "--port", str(port), **settings)
    wait_healthy(f"http://127.0.0.1:{port}", processes.logs)
    return child


def api_client(base: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def seed(api: httpx.Client, procs: Processes, people: list[dict[str, Any]]) -> None:
    """POST customers; in stream mode wait until the workers have written them."""
    answer = api.post("/api/v1/customers", json=people)
    assert answer.status_code in (201, 202), answer.text
    if answer.status_code == 202:
        wait_for("ingested", lambda: api.get("/api/v1/ingest/status").json()["backlog"] == 0, 60, procs)


def launch(api: httpx.Client, name: str, *, rate_limit: int | None) -> dict[str, Any]:
    """Create and launch a campaign to every customer; the launch's answer."""
    body = {"name": name, "message": "Hi {{ first_name }}", "rules": {"op": "and", "rules": []}}
    created = api.post("/api/v1/campaigns", json={**body, "rate_limit": rate_limit})
    assert created.status_code == 201, created.text
    launched = api.post(f"/api/v1/campaigns/{created.json()['id']}/launch")
    assert launched.status_code == 202, launched.text
    return dict(launched.json())
