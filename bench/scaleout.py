"""Scale-out figures (issue 16), on the balanced setup of tests/test_scaleout.py: two `serve`
behind HAProxy, W `worker`, the mock vendor, a Redis with AOF of its own and a scratch database
on the shared PostgreSQL.

1. ingest   customers and orders POSTed through the balancer (batches of 1,000, 4 clients),
            end to end (first POST to the last row in PostgreSQL), with 1 and 2 workers.
            Floor, same run: the batch writer alone, in this process, on the same rows.
2. send     a campaign to every customer (all with a phone), launch to nothing pending, with
            1 and 2 workers. Floor, same run: the vendor alone taking the same number of
            messages in batches of 1,000 from 4 concurrent clients.
3. metrics  one `serve` (stream mode): requests/s with wrk on GET /healthz (the cheapest route,
            the worst case for a per-request cost) and a one-record POST /api/v1/customers
            (202), with instrumentation off, metrics on, and metrics plus the access log on.
            Rounds alternate the variants; medians.

Prints one JSON object (with the machine's core count) and writes bench/results/scaleout.json.

    .venv/bin/python bench/scaleout.py [--customers 20000] [--orders 80000] [--skip-metrics]
Needs haproxy, redis-server and wrk (Debian packages). The shared Redis is never touched; on
the shared PostgreSQL only the scratch database `pulsecrm_bench_scaleout` is made and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cli_helpers import free_port, wait_healthy  # noqa: E402
from tests.cluster import Cluster  # noqa: E402
from tests.faults.procs import WEBHOOK_SECRET, OwnRedis, Processes  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_split, cpu_ticks  # noqa: E402

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
DB = "pulsecrm_bench_scaleout"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
RAW = f"postgresql://postgres@127.0.0.1:5432/{DB}"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def recreate_database() -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DB}"')
    finally:
        await conn.close()
    from pulsecrm.db import migrate

    migrate(URL)


async def drop_database() -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    finally:
        await conn.close()


async def truncate() -> None:
    from pulsecrm.db import metadata

    conn = await asyncpg.connect(RAW)
    try:
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


async def count(table: str) -> int:
    conn = await asyncpg.connect(RAW)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


def make_records(customers: int, orders: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(16)
    people = [
        {"external_id": f"b-c{i:06d}", "name": f"Bench {i}", "phone": f"+91800{i:07d}", "city": "Pune"}
        for i in range(customers)
    ]
    bought = [
        {
            "external_id": f"b-o{i:07d}",
            "customer_external_id": f"b-c{rng.randrange(customers):06d}",
            "amount": f"{rng.randint(100, 999_999) / 100:.2f}",
            "ordered_at": "2026-11-01T10:00:00+05:30",
        }
        for i in range(orders)
    ]
    return people, bought


# --- floors ---------------------------------------------------------------------------------


async def writer_floor(people: list[dict[str, Any]], bought: list[dict[str, Any]]) -> dict[str, Any]:
    """The batch writer alone (no HTTP, no Redis), 5,000 records per transaction, one process."""
    from pulsecrm.customers.schemas import CustomerIn, OrderIn
    from pulsecrm.db import Database, utcnow
    from pulsecrm.ingest.writer import Entry, write_batch

    await truncate()
    db = Database(URL, pool_size=2)
    try:
        start = time.perf_counter()
        for kind, rows, model in (("customers", people, CustomerIn), ("orders", bought, OrderIn)):
            for i in range(0, len(rows), 5000):
                records = [model.model_validate(r) for r in rows[i : i + 5000]]
                await write_batch(
                    db, [Entry(kind, utcnow(), records)], default_currency="INR", consent_attributes={}
                )  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
    finally:
        await db.dispose()
    total = len(people) + len(bought)
    return {"records": total, "seconds": round(seconds, 2), "records_per_s": round(total / seconds)}


async def vendor_floor(messages: int, logs: Path) -> dict[str, Any]:
    """The mock vendor alone: the same messages, batches of 1,000, 4 concurrent clients."""
    procs = Processes(logs / "vendor-floor")
    port = free_port()
    procs.spawn(
        "vendor",
        "vendor",
        "--port",
        str(port),
        webhook_secret=WEBHOOK_SECRET,
        vendor_webhook_url=f"http://127.0.0.1:{free_port()}/nowhere",  # receipts go nowhere
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, procs.logs)
        batches = [
            [
                {"idempotency_key": f"floor-{b}-{i}", "to": f"+91800{i:07d}", "channel": "sms", "body": "Hi"}
                for i in range(min(1000, messages - b * 1000))
            ]
            for b in range((messages + 999) // 1000)
        ]
        queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        for batch in batches:
            queue.put_nowait(batch)

        async def client() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                while not queue.empty():
                    answer = await http.post("/v1/messages/batch", json={"messages": queue.get_nowait()})
                    answer.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(4)))
        seconds = time.perf_counter() - start
    finally:
        procs.stop_all()
    return {"messages": messages, "seconds": round(seconds, 2), "messages_per_s": round(messages / seconds)}


# --- the balanced setup -----------------------------------------------------------------------


async def post_all(base: str, key: str, kind: str, rows: list[dict[str, Any]]) -> None:
    batches = [rows[i : i + 1000] for i in range(0, len(rows), 1000)]
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def client() -> None:
        async with httpx.AsyncClient(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            while not queue.empty():
                batch = queue.get_nowait()
                while True:
                    answer = await http.post(f"/api/v1/{kind}", json=batch)
                    if answer.status_code == 202:
                        break
                    await asyncio.sleep(0.2)  # 503 while a service is away: send it again

    await asyncio.gather(*(client() for _ in range(4)))


def cluster(logs: Path, name: str) -> Cluster:
    return Cluster(logs / name, URL, log_level="WARNING", access_log="false", database_pool_size="5")


async def ingest_phase(
    workers: int, people: list[dict[str, Any]], bought: list[dict[str, Any]], logs: Path
) -> dict[str, Any]:
    await truncate()
    setup = cluster(logs, f"ingest-w{workers}")
    try:
        setup.start(apis=2, workers=workers)
        key = setup.api_key("ingest", "read")
        total = len(people) + len(bought)
        ticks = cpu_ticks()
        start = time.perf_counter()
        # Customers first, then orders, as a shop's initial load would; both through HAProxy.
        await post_all(setup.base, key, "customers", people)
        await post_all(setup.base, key, "orders", bought)
        posted = time.perf_counter() - start
        deadline = time.monotonic() + 600
        while (await count("customers")) + (await count("orders")) < total:
            if time.monotonic() > deadline:
                raise RuntimeError("ingestion did not finish within 600 s")
            await asyncio.sleep(0.1)
        e2e = time.perf_counter() - start
        cpu = cpu_split(ticks, cpu_ticks())
    finally:
        setup.stop()
    return {
        "workers": workers,
        "records": total,
        "accepted_s": round(posted, 2),
        "accept_records_per_s": round(total / posted),
        "end_to_end_s": round(e2e, 2),
        "end_to_end_records_per_s": round(total / e2e),
        # Whether a second worker had idle cores to use: this bench runs everything on one machine.
        "cpu": cpu,
    }


async def send_phase(workers: int, people: list[dict[str, Any]], logs: Path) -> dict[str, Any]:
    from pulsecrm.customers.schemas import CustomerIn
    from pulsecrm.db import Database, utcnow
    from pulsecrm.ingest.writer import Entry, write_batch

    await truncate()
    db = Database(URL, pool_size=2)
    try:
        for i in range(0, len(people), 5000):
            records = [CustomerIn.model_validate(r) for r in people[i : i + 5000]]
            await write_batch(
                db, [Entry("customers", utcnow(), records)], default_currency="INR", consent_attributes={}
            )
    finally:
        await db.dispose()
    setup = cluster(logs, f"send-w{workers}")
    try:
        setup.start(apis=2, workers=workers)
        key = setup.api_key("campaigns", "read")
        async with httpx.AsyncClient(
            base_url=setup.base, timeout=60, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            body = {
                "name": "bench",
                "rules": {"op": "and", "rules": []},
                "message": "Hi {{ first_name }}",
                "channel": "sms",
            }
            cid = (await http.post("/api/v1/campaigns", json=body)).json()["id"]
            ticks = cpu_ticks()
            start = time.perf_counter()
            launched = (await http.post(f"/api/v1/campaigns/{cid}/launch")).json()
            audience = launched["stats"]["audience"]
            deadline = time.monotonic() + 600
            while True:
                stats = (await http.get(f"/api/v1/campaigns/{cid}")).json()["stats"]
                if stats["pending"] == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the campaign did not finish sending: {stats}")
                await asyncio.sleep(0.1)
            seconds = time.perf_counter() - start
            cpu = cpu_split(ticks, cpu_ticks())
    finally:
        setup.stop()
    return {
        "workers": workers,
        "messages": audience,
        "launch_to_all_sent_s": round(seconds, 2),
        "messages_per_s": round(audience / seconds),
        "cpu": cpu,
    }


# --- metrics cost ---------------------------------------------------------------------------

WRK_POST = r"""
local n = 0
request = function()
  n = n + 1
  local body = string.format('[{"external_id":"wrk-%s-%d","name":"W"}]', "__TAG__", n)
  return wrk.format("POST", "/api/v1/customers", {["Content-Type"]="application/json", ["Authorization"]="Bearer __KEY__"}, body)
end
"""


def wrk(url: str, seconds: int, script: Path | None = None) -> float:
    args = ["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency"]
    if script is not None:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise RuntimeError(f"wrk saw {non2xx.group(1)} failed answers:\n{out}")
    return float(match.group(1))


async def metrics_phase(logs: Path, seconds: int, rounds: int) -> dict[str, Any]:
    await truncate()
    root = logs / "metrics"
    procs = Processes(root)
    redis = OwnRedis(root / "redis", appendonly=True)
    redis.start()
    variants = {
        "off": {"request_metrics": "false", "access_log": "false"},
        "metrics": {"request_metrics": "true", "access_log": "false"},
        "metrics_and_access_log": {"request_metrics": "true", "access_log": "true"},
    }
    results: dict[str, dict[str, list[float]]] = {v: {"healthz": [], "ingest_202": []} for v in variants}
    try:
        base_settings = procs.settings(URL, redis.url, log_level="INFO")
        made = procs.cli("apikey", "create", "--name", "wrk", "--scope", "ingest", **base_settings)
        key = made.stdout.strip().splitlines()[-1]
        for r in range(rounds):
            order = list(variants) if r % 2 == 0 else list(reversed(variants))
            for name in order:
                served = procs.serve(**(base_settings | variants[name]))
                try:
                    results[name]["healthz"].append(wrk(f"{served.base}/healthz", seconds))
                    script = root / "post.lua"
                    script.write_text(WRK_POST.replace("__KEY__", key).replace("__TAG__", f"{name}{r}"))
                    results[name]["ingest_202"].append(
                        wrk(f"{served.base}/api/v1/customers", seconds, script)
                    )
                finally:
                    served.child.stop()
                log(
                    f"metrics round {r + 1}: {name} {results[name]['healthz'][-1]:.0f} / {results[name]['ingest_202'][-1]:.0f} req/s"
                )
    finally:
        procs.stop_all()
        redis.stop()
    medians = {v: {k: round(statistics.median(x)) for k, x in d.items()} for v, d in results.items()}
    off = medians["off"]
    return {
        "requests_per_s": medians,
        "runs": {v: {k: [round(x) for x in xs] for k, xs in d.items()} for v, d in results.items()},
        "metrics_slowdown_percent": {k: round(100 * (1 - medians["metrics"][k] / off[k]), 1) for k in off},
        "metrics_and_access_log_slowdown_percent": {
            k: round(100 * (1 - medians["metrics_and_access_log"][k] / off[k]), 1) for k in off
        },
        "target_percent": 5,
        "wrk": f"-t1 -c16 -d{seconds}s, {rounds} rounds per variant",
    }


async def metrics_cpu_phase(tmp: Path, requests: int, rounds: int) -> dict[str, Any]:
    """CPU time per request in this process (time.process_time, so other processes' load on a
    shared machine moves it little), driving the app's ASGI interface directly: GET /healthz
    and an authenticated GET /api/v1/customers?limit=1, instrumentation off vs on."""
    from pulsecrm.app import create_app
    from pulsecrm.auth import service as auth_service
    from pulsecrm.config import Settings
    from pulsecrm.db import migrate
    from pulsecrm.telemetry import RequestTelemetry

    url = f"sqlite+aiosqlite:///{tmp / 'cpu.db'}"
    migrate(url)
    # One app, its telemetry middleware's counting switched between runs: nothing else differs.
    app = create_app(Settings(database_url=url, access_log=False, background_work=False))

    async def call(path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path.split("?")[0],
            "raw_path": path.split("?")[0].encode(),
            "query_string": path.partition("?")[2].encode(),
            "root_path": "",
            "headers": [(b"host", b"bench"), *headers],
            "client": ("127.0.0.1", 1),
            "server": ("bench", 80),
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] != 200:
                raise RuntimeError(f"{path}: {message['status']}")

        await app(scope, receive, send)

    results: dict[str, dict[str, list[float]]] = {
        n: {"healthz": [], "customers_read": []} for n in ("off", "metrics")
    }
    async with app.router.lifespan_context(app):
        async with app.state.services.db.sessions() as session:
            key = (await auth_service.create_key(session, name="cpu", scopes=["read"])).secret
            await session.commit()
        auth = [(b"authorization", f"Bearer {key}".encode())]
        await call("/healthz", [])  # builds the middleware stack
        layer: Any = app.middleware_stack
        while not isinstance(layer, RequestTelemetry):
            layer = layer.app
        for r in range(rounds):
            for name in ("off", "metrics") if r % 2 == 0 else ("metrics", "off"):
                layer.count = name == "metrics"
                for label, path, headers in (
                    ("healthz", "/healthz", []),
                    ("customers_read", "/api/v1/customers?limit=1", auth),
                ):
                    n = requests if label == "healthz" else requests // 5
                    start = time.process_time()
                    for _ in range(n):
                        await call(path, headers)
                    results[name][label].append((time.process_time() - start) / n * 1e6)
    medians = {n: {k: round(statistics.median(v), 1) for k, v in d.items()} for n, d in results.items()}
    return {
        "cpu_us_per_request": medians,
        "slowdown_percent": {
            k: round(100 * (medians["metrics"][k] / medians["off"][k] - 1), 1) for k in medians["off"]
        },
        "target_percent": 5,
        "method": f"{requests} (healthz) / {requests // 5} (customers) in-process ASGI calls per run, "
        f"{rounds} alternating rounds, medians",
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=80_000)
    parser.add_argument("--wrk-seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-metrics", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-send", action="store_true")
    parser.add_argument("--only-metrics-cpu", action="store_true", help="just the in-process metrics cost")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scaleout.json")
    a = parser.parse_args()
    result: dict[str, Any] = {
        "bench": "scaleout",
        "cores": os.cpu_count(),
        "setup": "2 serve behind HAProxy, W workers, mock vendor, Redis (AOF everysec), PostgreSQL; one machine",
    }
    if a.only_metrics_cpu:
        print(
            json.dumps(
                {"cores": os.cpu_count(), **await metrics_cpu_phase(Path(tempfile.mkdtemp()), 5000, 7)}
            )
        )
        return
    await recreate_database()
    people, bought = make_records(a.customers, a.orders)
    logs = Path(tempfile.mkdtemp(prefix="pulsecrm-bench-scaleout-"))
    log(f"logs under {logs}")
    try:
        if not a.skip_ingest:
            floor = await writer_floor(people, bought)
            log(f"writer floor: {floor}")
            runs = []
            for workers in (1, 2):
                runs.append(await ingest_phase(workers, people, bought, logs))
                log(f"ingest: {runs[-1]}")
            one, two = (r["end_to_end_records_per_s"] for r in runs)
            result["ingest"] = {
                "runs": runs,
                "second_worker_adds_percent": round(100 * (two / one - 1), 1),
                "target_percent": 60,
                "floor_writer_alone": floor,
            }
        if not a.skip_send:
            floor = await vendor_floor(a.customers, logs)
            log(f"vendor floor: {floor}")
            runs = []
            for workers in (1, 2):
                runs.append(await send_phase(workers, people, logs))
                log(f"send: {runs[-1]}")
            one, two = (r["messages_per_s"] for r in runs)
            result["send"] = {
                "runs": runs,
                "second_worker_adds_percent": round(100 * (two / one - 1), 1),
                "floor_vendor_alone": floor,
            }
        if not a.skip_metrics:
            result["metrics_cost_cpu"] = await metrics_cpu_phase(logs, 5000, 7)
            log(f"metrics cpu: {result['metrics_cost_cpu']}")
            result["metrics_cost_wrk"] = await metrics_phase(logs, a.wrk_seconds, a.rounds)
    finally:
        await drop_database()
    text = json.dumps(result, indent=2)
    print(text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
