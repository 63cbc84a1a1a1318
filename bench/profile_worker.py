"""Where does the stream worker's time go? (diagnostic companion to bench/ingest.py)

Fills the stream with orders through the API while no worker runs, then drains it with an
in-process consumer whose stages are timed by wrapping pulsecrm functions at runtime (nothing in
src/ is changed), or with the real `pulsecrm worker` under py-spy (--py-spy).

  .venv/bin/python bench/profile_worker.py [--orders 200000] [--customers 20000] [--py-spy] [--keep-db]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest as B


def instrument() -> dict[str, list[float]]:
    from pulsecrm.customers import repository as repo
    from pulsecrm.ingest import codec, service, writer

    stats: dict[str, list[float]] = collections.defaultdict(list)

    def wrap_sync(mod, name):  # type: ignore[no-untyped-def]
        fn = getattr(mod, name, None)
        if fn is None:
            return

        def inner(*a, **k):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                stats[name].append(time.perf_counter() - t)

        setattr(mod, name, inner)

    def wrap_async(mod, name, label=None):  # type: ignore[no-untyped-def]
        fn = getattr(mod, name, None)
        if fn is None:
            return
        label = label or name

        async def inner(*a, **k):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return await fn(*a, **k)
            finally:
                stats[label].append(time.perf_counter() - t)

        setattr(mod, name, inner)

    wrap_sync(codec.IngestCodec, "decode")
    for n in ("_rows", "_order_rows", "_customer_rows"):  # names differ between versions of writer.py
        wrap_sync(writer, n)
    for n in (
        "customers_of_orders",
        "lock_customers",
        "upsert_customers",
        "upsert_orders",
        "insert_new_orders",
        "recompute_aggregates",
    ):
        wrap_async(repo, n)
    wrap_async(writer, "write_entries")
    wrap_async(service.Ingestor, "write_items")
    return stats


async def drain_in_process(env: dict[str, str], expected_backlog: int) -> dict[str, object]:
    os.environ.update({k: v for k, v in env.items() if k.startswith("PULSECRM_")})
    from pulsecrm.config import get_settings
    from pulsecrm.services import Services

    get_settings.cache_clear()
    stats = instrument()
    services = Services.start(get_settings())
    from pulsecrm import heap

    heap.settle()  # as `pulsecrm worker` does
    consumer = services.ingestor.consumer(block_ms=100)
    t0 = time.perf_counter()
    batches = []
    try:
        while True:
            tb = time.perf_counter()
            n = await consumer.read_once()
            if n == 0:
                break
            batches.append((n, time.perf_counter() - tb))
    finally:
        await services.close()
    secs = time.perf_counter() - t0 - 0.1  # the last empty read blocked 100 ms
    entries = sum(n for n, _ in batches)
    summary = {
        name: {"calls": len(v), "total_s": round(sum(v), 3), "mean_ms": round(1000 * sum(v) / len(v), 1)}
        for name, v in stats.items()
        if v
    }
    return {
        "entries": entries,
        "seconds": round(secs, 2),
        "batches": len(batches),
        "batch_ms_first5": [round(1000 * d, 1) for _, d in batches[:5]],
        "batch_ms_last5": [round(1000 * d, 1) for _, d in batches[-5:]],
        "stages": summary,
    }


async def main(a: argparse.Namespace) -> None:
    db = a.database
    prefix = f"pulsecrm-bench:{uuid.uuid4().hex[:10]}:"
    cwd = tempfile.mkdtemp(prefix="pulsecrm-prof-")
    env = B.base_env(
        PULSECRM_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}",
        PULSECRM_REDIS_URL=B.REDIS_URL,
        PULSECRM_REDIS_PREFIX=prefix,
        PULSECRM_REDIS_ALLOW_VOLATILE="true",  # the shared Redis keeps nothing on disk
        PULSECRM_DATA_DIR=cwd,
    )
    procs = B.Procs()
    customers = B.make_customers(a.customers)
    orders = B.make_orders(a.orders, a.customers)
    out: dict[str, object] = {}
    try:
        await B.recreate_db(db)
        B.run_cli(["migrate"], env, cwd)
        key = B.create_key(env, cwd)
        port = B.free_port()
        base = f"http://127.0.0.1:{port}"
        server = procs.start(
            [B.PULSECRM, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env,
            Path(cwd) / "serve.log",
            cwd,
        )
        await B.wait_health(base, server)
        await B.post_all(base, key, "/api/v1/customers", B.bodies(customers, 1000), 4, 202)
        if not (a.py_spy or a.real_workers):
            out["customers"] = await drain_in_process(env, 0)
        if a.real_workers:
            for k, v in (kv.split("=", 1) for kv in a.env):
                env[k] = v
            pg = await asyncpg.connect(B.PG_HOST_DSN.format(db=db))
            ws = [
                procs.start([B.PULSECRM, "worker"], env, Path(cwd) / "worker.log", cwd)
                for _ in range(a.real_workers)
            ]
            await B.wait_drained(base, key, pg, "customers", len(customers), 120)
            for w in ws:
                procs.stop(w)
            if a.analyze:
                await pg.execute("ANALYZE")
            await B.post_all(base, key, "/api/v1/orders", B.bodies(orders, 1000), 4, 202)
            t0 = time.perf_counter()
            ws = [
                procs.start([B.PULSECRM, "worker"], env, Path(cwd) / "worker.log", cwd)
                for _ in range(a.real_workers)
            ]
            await B.wait_drained(base, key, pg, "orders", len(orders), 300)
            secs = time.perf_counter() - t0
            agg = await B.pg_aggregates(pg)
            B.log(
                f"{a.real_workers} real worker(s) {a.env} drained {len(orders)} in {secs:.2f}s = {len(orders) / secs:,.0f}/s (incl. ~1s start) ok={agg['aggregates_ok']}"
            )
            await pg.close()
        elif not a.py_spy:
            await B.post_all(base, key, "/api/v1/orders", B.bodies(orders, 1000), 4, 202)
            procs.stop(server)
            B.log("stream filled; draining in process")
            out["orders"] = await drain_in_process(env, 0)
            B.log(json.dumps(out, indent=1))
        else:
            w = procs.start([B.PULSECRM, "worker"], env, Path(cwd) / "worker.log", cwd)
            pg = await asyncpg.connect(B.PG_HOST_DSN.format(db=db))
            await B.wait_drained(base, key, pg, "customers", len(customers), 120)
            procs.stop(w)
            await B.post_all(base, key, "/api/v1/orders", B.bodies(orders, 1000), 4, 202)
            procs.stop(server)
            w = procs.start([B.PULSECRM, "worker"], env, Path(cwd) / "worker.log", cwd)
            raw = Path(a.py_spy_out)
            spy = subprocess.Popen(
                [
                    str(B.VENV_BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(w.pid),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    "--duration",
                    str(a.py_spy_seconds),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            t0 = time.perf_counter()
            while await pg.fetchval("SELECT count(*) FROM orders") < len(orders):
                await asyncio.sleep(0.2)
            B.log(f"real worker drained {len(orders)} orders in {time.perf_counter() - t0:.2f}s")
            spy.wait()
            await pg.close()
            summarize(raw)
    finally:
        procs.stop_all()
        with contextlib.suppress(Exception):
            await B.cleanup_redis(prefix)
        if not a.keep_db:
            await B.drop_db(db)


def summarize(raw: Path, top: int = 30) -> None:
    """Collapsed stacks -> inclusive sample share per function (pulsecrm/sqlalchemy/asyncpg/pydantic)."""
    incl: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        count = int(n)
        total += count
        frames = stack.split(";")
        seen = set()
        for f in frames:
            name = (
                f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
                if " (" in f
                else f
            )
            if name not in seen:
                incl[name] += count
                seen.add(name)
        leaf = frames[-1]
        self_[
            leaf.split(" (")[0] + " (" + leaf.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
            if " (" in leaf
            else leaf
        ] += count
    print(f"total samples {total}", file=sys.stderr)
    print("== inclusive ==", file=sys.stderr)
    for name, c in incl.most_common(top):
        print(f"{100 * c / total:5.1f}% {name}", file=sys.stderr)
    print("== self ==", file=sys.stderr)
    for name, c in self_.most_common(top):
        print(f"{100 * c / total:5.1f}% {name}", file=sys.stderr)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--orders", type=int, default=200_000)
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--database", default="pulsecrm_bench_prof")
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--py-spy", action="store_true")
    p.add_argument("--real-workers", type=int, default=0)
    p.add_argument("--analyze", action="store_true")
    p.add_argument("--env", nargs="*", default=[])
    p.add_argument("--py-spy-out", default="/tmp/pulsecrm-worker.raw")
    p.add_argument("--py-spy-seconds", type=int, default=12)
    asyncio.run(main(p.parse_args()))
