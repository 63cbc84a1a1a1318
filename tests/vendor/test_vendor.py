"""The mock vendor: idempotent sends, signed batched receipts that survive webhook failures,
injected faults, and the real `pulsecrm vendor` process."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from pulsecrm.delivery.receipts import verify
from pulsecrm.errors import Unauthorized
from pulsecrm.vendor.app import create_app
from pulsecrm.vendor.config import VendorSettings
from tests.cli_helpers import PULSECRM, cli_env, free_port

SECRET = "vendor-test-secret"


@asynccontextmanager
async def serve(app: ASGIApp, *, lifespan: str = "off") -> AsyncIterator[str]:
    """Serve `app` on a loopback port of its own; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False, ws="none")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "server did not start"
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Receiver:
    """A stand-in for the receipts webhook that checks signatures and can fail on purpose."""

    fail_first: int = 0
    calls: int = 0
    bad_signatures: int = 0
    content_types: set[str] = field(default_factory=set)
    batches: list[list[dict[str, Any]]] = field(default_factory=list)  # the ones answered 2xx

    @property
    def receipts(self) -> list[dict[str, Any]]:
        return [r for batch in self.batches for r in batch]

    async def endpoint(self, request: Request) -> Response:
        self.calls += 1
        body = await request.body()
        try:
            verify(SECRET, request.headers.get("x-pulse-signature"), body)
        except Unauthorized:
            self.bad_signatures += 1
            return Response(status_code=401)
        self.content_types.add(request.headers.get("content-type", ""))
        if self.calls <= self.fail_first:
            return Response(status_code=500)
        self.batches.append(json.loads(body)["receipts"])
        return JSONResponse({"status": "applied"})


@asynccontextmanager
async def receiver(**kw: Any) -> AsyncIterator[tuple[Receiver, str]]:
    r = Receiver(**kw)
    app = Starlette(routes=[Route("/api/v1/receipts", r.endpoint, methods=["POST"])])
    async with serve(app) as url:
        yield r, f"{url}/api/v1/receipts"


def settings(**overrides: Any) -> VendorSettings:
    values: dict[str, Any] = {
        "webhook_secret": SECRET,
        "webhook_url": "http://127.0.0.1:9/unused",
        "min_delay_ms": 0,
        "max_delay_ms": 20,
        "receipt_linger_ms": 20,
        "retry_initial_ms": 20,
        "seed": 1,
        # Delivery outcomes alone unless a test asks for opens and clicks.
        "open_rate": 0,
        "click_rate": 0,
    }
    values.update(overrides)
    return VendorSettings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def vendor(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The vendor app in-process, its lifespan (and so its receipt sender) running."""
    app = create_app(settings(**overrides))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vendor") as client,
    ):
        yield client


def msg(key: str, *, channel: str = "sms", **extra: Any) -> dict[str, Any]:
    to = "+919800000000" if channel == "sms" else "a@example.com"
    return {"idempotency_key": key, "to": to, "channel": channel, "subject": None, "body": "hi", **extra}


async def eventually(check: Callable[[], Awaitable[bool] | bool], within: float = 10) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if await result if isinstance(result, Awaitable) else result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# --- sending ----------------------------------------------------------------------------------


async def test_batch_answers_ids_in_order_and_dedupes_by_key() -> None:
    async with vendor() as client:
        first = await client.post("/v1/messages/batch", json={"messages": [msg("a"), msg("b"), msg("a")]})
        assert first.status_code == 200
        results = first.json()["results"]
        assert [r["idempotency_key"] for r in results] == ["a", "b", "a"]
        assert [r["duplicate"] for r in results] == [False, False, True]
        a, b = results[0]["message_id"], results[1]["message_id"]
        assert a.startswith("vm_") and b.startswith("vm_") and a != b
        assert results[2]["message_id"] == a

        again = (await client.post("/v1/messages/batch", json={"messages": [msg("c"), msg("b")]})).json()
        assert [(r["duplicate"], r["message_id"] == b) for r in again["results"]] == [
            (False, False),
            (True, True),
        ]
        single = await client.post("/v1/messages", json=msg("a", channel="email", subject="Hello"))
        assert single.json() == {"idempotency_key": "a", "message_id": a, "duplicate": True}
        fresh = (await client.post("/v1/messages", json=msg("d"))).json()
        assert fresh["duplicate"] is False and fresh["message_id"] not in (a, b)

        stats = (await client.get("/v1/stats")).json()
        assert stats["accepted"] == 4 and stats["duplicates"] == 3 and stats["requests"] == 4
        assert stats["errors_injected"] == {"500": 0, "429": 0, "timeout": 0}
        assert (await client.get("/v1/keys")).json() == {"keys": {"a": 3, "b": 2, "c": 1, "d": 1}}
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (json.dumps({"messages": [msg(f"k{i}") for i in range(1001)]}).encode(), 413),
        (json.dumps({"messages": []}).encode(), 422),
        (json.dumps({"messages": [msg("k", channel="fax")]}).encode(), 422),
        (json.dumps({"messages": [msg("x" * 201)]}).encode(), 422),
        (json.dumps({"messages": [msg("")]}).encode(), 422),
        (json.dumps({"messages": [msg("ok"), {"idempotency_key": "k"}]}).encode(), 422),
        (json.dumps({"messages": [msg("k", priority="high")]}).encode(), 422),
        (json.dumps([msg("k")]).encode(), 422),
    ],
)
async def test_bad_batches_are_refused_whole(content: bytes, status: int) -> None:
    async with vendor() as client:
        response = await client.post("/v1/messages/batch", content=content)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"]
        assert (await client.get("/v1/keys")).json() == {"keys": {}}
        assert (await client.get("/v1/stats")).json()["accepted"] == 0


async def test_a_full_batch_of_1000_is_taken_and_bad_single_is_422() -> None:
    async with vendor() as client:
        response = await client.post(
            "/v1/messages/batch", json={"messages": [msg(f"k{i}") for i in range(1000)]}
        )
        assert response.status_code == 200
        assert len({r["message_id"] for r in response.json()["results"]}) == 1000
        bad = await client.post("/v1/messages", json={"to": "x", "channel": "sms", "body": "b"})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["loc"] == ["idempotency_key"]


async def test_new_keys_are_logged_before_the_answer(tmp_path: Path) -> None:
    log = tmp_path / "keys.jsonl"
    async with vendor(log_path=str(log)) as client:
        results = (await client.post("/v1/messages/batch", json={"messages": [msg("a"), msg("b")]})).json()
        await client.post("/v1/messages", json=msg("a"))
        lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == [{**r} for r in results["results"]]


# --- receipts ---------------------------------------------------------------------------------


async def test_receipts_are_signed_batched_and_about_as_successful_as_configured() -> None:
    async with receiver() as (rx, url), vendor(webhook_url=url, seed=7, max_delay_ms=50) as client:
        for part in range(2):
            batch = [msg(f"m{part}-{i}", channel="sms" if i % 2 else "email") for i in range(1000)]
            assert (await client.post("/v1/messages/batch", json={"messages": batch})).status_code == 200
        await eventually(lambda: len(rx.receipts) >= 2000)
        await eventually(lambda: _pending_is_zero(client))
        stats = (await client.get("/v1/stats")).json()

    assert rx.bad_signatures == 0 and rx.content_types == {"application/json"}
    assert stats["receipts_sent"] == 2000 and stats["receipts_pending"] == 0
    receipts = rx.receipts
    assert len({r["message_id"] for r in receipts}) == 2000 == len(receipts)
    assert max(len(b) for b in rx.batches) <= 500
    assert len(rx.batches) < 100  # batched, not one call per receipt
    delivered = [r for r in receipts if r["status"] == "delivered"]
    failed = [r for r in receipts if r["status"] == "failed"]
    assert len(delivered) + len(failed) == 2000
    assert abs(len(delivered) / 2000 - 0.9) <= 0.03
    assert all("reason" not in r for r in delivered)
    assert all(r["reason"] for r in failed)
    assert len({r["reason"] for r in failed}) > 2
    assert all(datetime.fromisoformat(r["occurred_at"]).utcoffset() is not None for r in receipts)


async def test_delivered_messages_are_opened_and_clicked_later_as_configured() -> None:
    rates = {"open_rate": 0.4, "click_rate": 0.1, "engagement_min_delay_ms": 5, "engagement_max_delay_ms": 30}
    async with receiver() as (rx, url), vendor(webhook_url=url, seed=5, **rates) as client:
        batch = [msg(f"e{i}", channel="email") for i in range(1000)]
        assert (await client.post("/v1/messages/batch", json={"messages": batch})).status_code == 200
        await eventually(lambda: _pending_is_zero(client))
    by_status: dict[str, dict[str, datetime]] = {}
    for r in rx.receipts:
        assert r["message_id"] not in by_status.setdefault(r["status"], {})  # one of each at most
        by_status[r["status"]][r["message_id"]] = datetime.fromisoformat(r["occurred_at"])
    delivered, opened, clicked = (by_status.get(s, {}) for s in ("delivered", "opened", "clicked"))
    assert set(clicked) <= set(opened) <= set(delivered)  # only delivered messages are opened
    assert abs(len(opened) / len(delivered) - 0.4) <= 0.05
    assert abs(len(clicked) / len(delivered) - 0.1) <= 0.03
    assert all(delivered[m] < opened[m] for m in opened)
    assert all(opened[m] < clicked[m] for m in clicked)
    assert all("reason" not in r for r in rx.receipts if r["status"] != "failed")


async def _pending_is_zero(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/v1/stats")).json()["receipts_pending"] == 0)


async def test_a_failing_webhook_gets_every_receipt_once_in_the_end() -> None:
    async with receiver(fail_first=4) as (rx, url), vendor(webhook_url=url, success_rate=0.5) as client:
        keys = [msg(f"r{i}") for i in range(300)]
        ids = {
            r["message_id"]
            for r in (await client.post("/v1/messages/batch", json={"messages": keys})).json()["results"]
        }
        pending = (await client.get("/v1/stats")).json()["receipts_pending"]
        assert pending == 300
        await eventually(lambda: len(rx.receipts) >= 300)
        await eventually(lambda: _pending_is_zero(client))
    assert rx.calls > 4 and rx.bad_signatures == 0
    assert Counter(r["message_id"] for r in rx.receipts) == Counter(ids)


async def test_an_unreachable_webhook_keeps_receipts_pending() -> None:
    port = free_port()  # nothing listens there
    async with vendor(webhook_url=f"http://127.0.0.1:{port}/api/v1/receipts") as client:
        await client.post("/v1/messages/batch", json={"messages": [msg("x"), msg("y")]})
        await asyncio.sleep(0.3)
        stats = (await client.get("/v1/stats")).json()
    assert stats["receipts_sent"] == 0 and stats["receipts_pending"] == 2


# --- injected faults --------------------------------------------------------------------------


async def test_injected_500s_accept_nothing() -> None:
    async with vendor(error_500_rate=0.5, seed=3) as client:
        statuses = {}
        for i in range(60):
            response = await client.post("/v1/messages", json=msg(f"k{i}"))
            statuses[f"k{i}"] = response.status_code
            if response.status_code == 500:
                assert response.json()["error"]["code"] == "internal_error"
        ok = {k for k, s in statuses.items() if s == 200}
        failed = {k for k, s in statuses.items() if s == 500}
        assert len(ok) + len(failed) == 60
        assert 15 <= len(failed) <= 45
        stats = (await client.get("/v1/stats")).json()
        assert stats["accepted"] == len(ok) and stats["requests"] == 60
        assert stats["errors_injected"]["500"] == len(failed)
        assert set((await client.get("/v1/keys")).json()["keys"]) == ok


async def test_injected_429_says_when_to_come_back() -> None:
    async with vendor(error_429_rate=1) as client:
        response = await client.post("/v1/messages/batch", json={"messages": [msg("a")]})
        assert response.status_code == 429 and response.headers["retry-after"] == "1"
        stats = (await client.get("/v1/stats")).json()
        assert stats["accepted"] == 0 and stats["errors_injected"]["429"] == 1


async def test_a_slow_answer_still_accepts_the_message() -> None:
    async with receiver() as (rx, url):
        app = create_app(settings(webhook_url=url, timeout_rate=1, timeout_seconds=0.8))
        async with serve(app, lifespan="on") as base, httpx.AsyncClient(base_url=base) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post("/v1/messages", json=msg("slow"), timeout=0.3)
            # The client gave up, but the vendor took the message: a retry is a duplicate.
            retry = await client.post("/v1/messages", json=msg("slow"), timeout=5)
            assert retry.json()["duplicate"] is True
            stats = (await client.get("/v1/stats")).json()
            assert stats["accepted"] == 1 and stats["errors_injected"]["timeout"] == 2
            await eventually(lambda: len(rx.receipts) == 1)


# --- settings ---------------------------------------------------------------------------------


def test_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="min_delay_ms"):
        settings(min_delay_ms=50, max_delay_ms=10)
    with pytest.raises(ValueError, match="must not exceed 1"):
        settings(error_500_rate=0.6, error_429_rate=0.6)
    with pytest.raises(ValueError, match="a click is an open too"):
        settings(open_rate=0.1, click_rate=0.2)
    with pytest.raises(ValueError, match="PULSECRM_WEBHOOK_SECRET"):
        create_app(settings(webhook_secret=None))
    monkeypatch.setenv("PULSECRM_WEBHOOK_SECRET", "from-env")
    monkeypatch.setenv("PULSECRM_VENDOR_SUCCESS_RATE", "0.5")
    from_env = VendorSettings(_env_file=None)  # type: ignore[call-arg]
    assert from_env.webhook_secret is not None and from_env.webhook_secret.get_secret_value() == "from-env"
    assert from_env.success_rate == 0.5 and from_env.port == 8025
    assert (from_env.open_rate, from_env.click_rate) == (0.40, 0.08)


# --- the real process -------------------------------------------------------------------------


@pytest.mark.slow
def test_pulsecrm_vendor_runs_as_its_own_process(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "vendor.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [PULSECRM, "vendor", "--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Nothing listens at the webhook: receipts stay pending, which the stats show.
            env=cli_env(
                webhook_secret=SECRET,
                vendor_webhook_url=f"http://127.0.0.1:{free_port()}/r",
                vendor_open_rate="0",
                vendor_click_rate="0",
            ),
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        sent = httpx.post(f"{base}/v1/messages/batch", json={"messages": [msg("p1"), msg("p2"), msg("p1")]})
        assert [r["duplicate"] for r in sent.json()["results"]] == [False, False, True]
        stats = httpx.get(f"{base}/v1/stats").json()
        assert stats["accepted"] == 2 and stats["duplicates"] == 1 and stats["requests"] == 1
        assert stats["receipts_sent"] + stats["receipts_pending"] == 2
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
    assert proc.returncode in (0, -signal.SIGTERM), log.read_text()
    assert "Traceback" not in log.read_text()


def test_pulsecrm_vendor_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    result = subprocess.run(
        [PULSECRM, "vendor", "--port", str(free_port())],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "PULSECRM_WEBHOOK_SECRET" in result.stdout


async def test_a_restarted_vendor_remembers_the_keys_in_its_log(tmp_path: Path) -> None:
    log = tmp_path / "keys.jsonl"
    async with vendor(log_path=str(log)) as client:
        first = (await client.post("/v1/messages/batch", json={"messages": [msg("a"), msg("b")]})).json()
    with log.open("a") as f:
        f.write('{"idempotency_key": "torn')  # killed mid-write: never answered, so never kept
    async with vendor(log_path=str(log)) as client:
        again = (await client.post("/v1/messages/batch", json={"messages": [msg("a"), msg("torn")]})).json()
        stats = (await client.get("/v1/stats")).json()
    assert again["results"][0] == {**first["results"][0], "duplicate": True}
    assert again["results"][1]["duplicate"] is False
    assert (stats["accepted"], stats["duplicates"]) == (1, 1)
    keys = [
        json.loads(line)["idempotency_key"] for line in log.read_text().splitlines() if line.endswith("}")
    ]
    assert sorted(keys) == ["a", "b", "torn"]  # each key logged once across both runs
