"""Segment preview latency at 100k and 1M customers (PostgreSQL), through the HTTP API.

Loads customers with COPY (aggregates filled, realistic distributions), starts `pulsecrm
serve`, and for six rule trees -- one condition up to three nested levels -- times
`POST /api/v1/segments/preview` (count + sample) and, as the floor, the plain SQL
`count(*)` of the same compiled predicate over asyncpg. Then the saved-segment list with 100
segments. Prints one JSON object.

    .venv/bin/python bench/segments.py [--sizes 100000,1000000] [--runs 30]
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
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pulsecrm.demo import CITIES  # the demo's weighted city mix

ROOT = Path(__file__).resolve().parent.parent
PULSECRM = str(Path(sys.executable).parent / "pulsecrm")
ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
DB = "pulsecrm_bench_segments"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
NOW = datetime.now(UTC)


def cond(field: str, cmp: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "cmp": cmp, **({} if value is None else {"value": value})}


TREES: dict[str, dict[str, Any]] = {
    "1_one_condition": {"op": "and", "rules": [cond("total_spend", "gt", 5000)]},
    "2_city_in": {"op": "and", "rules": [cond("city", "in", ["Mumbai", "Pune"])]},
    "3_lapsed_and_big": {
        "op": "and",
        "rules": [cond("total_spend", "gte", 2000), cond("last_order_at", "not_within_last_days", 90)],
    },
    "4_issue_example_2_levels": {
        "op": "and",
        "rules": [
            cond("total_spend", "gt", 5000),
            {
                "op": "or",
                "rules": [cond("order_count", "lt", 3), cond("last_order_at", "not_within_last_days", 90)],
            },
            cond("city", "in", ["Mumbai", "Pune"]),
        ],
    },
    "5_attributes_or_of_ands": {
        "op": "or",
        "rules": [
            {
                "op": "and",
                "rules": [
                    cond("attributes.tier", "eq", "gold"),
                    cond("total_spend", "between", [1000, 5000]),
                ],
            },
            {
                "op": "and",
                "rules": [cond("created_at", "within_last_days", 30), cond("order_count", "eq", 0)],
            },
        ],
    },
    "6_three_levels_text": {
        "op": "and",
        "rules": [
            cond("order_count", "gte", 1),
            {
                "op": "or",
                "rules": [
                    cond("name", "contains", "sha"),
                    {
                        "op": "and",
                        "not": True,
                        "rules": [cond("city", "eq", "delhi"), cond("attributes.vip", "eq", True)],
                    },
                ],
            },
            cond("avg_order_value", "lt", 3000),
        ],
    },
}


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def customers(n: int, seed: int = 11) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    cities = [c for c, _ in CITIES]
    weights = [w for _, w in CITIES]
    first = [
        "Asha",
        "Ravi",
        "Priya",
        "Arjun",
        "Meera",
        "Kabir",
        "Sara",
        "Dev",
        "Nisha",
        "Rohan",
        "Anika",
        "Vivaan",
    ]
    rows = []
    for i in range(n):
        created = NOW - timedelta(days=rng.uniform(0, 1000))
        count = min(int(rng.paretovariate(1.2)) - 1 + (rng.random() < 0.8), 60)
        total = Decimal(0)
        first_at = last_at = avg = None
        if count:
            total = Decimal(int(rng.lognormvariate(7.5, 1.0) * count)) / 1
            avg = (total / count).quantize(Decimal("0.01"))
            first_at = created + timedelta(days=rng.uniform(0, (NOW - created).days or 1))
            last_at = first_at + timedelta(days=rng.uniform(0, (NOW - first_at).days or 0))
        attributes = {
            "tier": rng.choices(["bronze", "silver", "gold", "platinum"], [50, 30, 15, 5])[0],
            "visits": rng.randint(0, 60),
            "vip": rng.random() < 0.1,
        }
        name = f"{rng.choice(first)} {i}"
        rows.append(
            (
                f"C{i:07d}",
                name,
                f"user{i}@example.com",
                None,
                rng.choices(cities, weights)[0],
                orjson.dumps(attributes).decode(),
                created,
                created,
                NOW,
                total,
                count,
                avg,
                first_at,
                last_at,
            )
        )
    return rows


COLUMNS = [
    "external_id",
    "name",
    "email",
    "phone",
    "city",
    "attributes",
    "created_at",
    "updated_at",
    "ingested_at",
    "total_spend",
    "order_count",
    "avg_order_value",
    "first_order_at",
    "last_order_at",
]


async def load(n: int) -> float:
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DB}"')
    await admin.close()
    subprocess.run([PULSECRM, "migrate"], env=env(), check=True, capture_output=True)
    rows = customers(n)
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
    await conn.set_type_codec(  # binary COPY: jsonb is a version byte, then the text
        "jsonb",
        encoder=lambda t: b"\x01" + t.encode(),
        decoder=lambda b: b[1:].decode(),
        schema="pg_catalog",
        format="binary",
    )
    started = time.perf_counter()
    await conn.copy_records_to_table("customers", records=rows, columns=COLUMNS)
    elapsed = time.perf_counter() - started
    await conn.execute(
        "INSERT INTO customer_attribute_keys VALUES ('tier','string'),('visits','number'),('vip','boolean')"
    )
    await conn.execute("VACUUM ANALYZE customers")
    await conn.close()
    return n / elapsed


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("PULSECRM_")}
    e.update(PULSECRM_DATABASE_URL=URL, PULSECRM_LOG_LEVEL="WARNING")
    return e


def pctl(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)


async def sql_floor(tree: dict[str, Any], runs: int) -> list[float]:
    """The same predicate as the API compiles it, counted over a bare asyncpg connection."""
    from pulsecrm.customers.models import Customer
    from pulsecrm.segments import catalog as cat
    from pulsecrm.segments import rules
    from pulsecrm.segments.compiler import compile_rules

    catalog = cat.build({"tier": {"string"}, "visits": {"number"}, "vip": {"boolean"}})
    where = compile_rules(
        rules.check(rules.parse(tree), catalog), dialect="postgresql", now=datetime.now(UTC)
    )
    compiled = (
        sa.select(sa.func.count())
        .select_from(Customer)
        .where(where)
        .compile(dialect=postgresql.asyncpg.dialect(), compile_kwargs={"render_postcompile": True})
    )
    params = [compiled.params[name] for name in compiled.positiontup or []]
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
    statement = await conn.prepare(str(compiled))
    for _ in range(3):
        await statement.fetchval(*params)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await statement.fetchval(*params)
        times.append((time.perf_counter() - t) * 1000)
    await conn.close()
    return times


def api_times(
    client: httpx.Client, tree: dict[str, Any], runs: int, **options: Any
) -> tuple[list[float], int]:
    count = 0
    body = {"rules": tree, **options}
    for _ in range(3):
        count = client.post("/api/v1/segments/preview", json=body).json()["count"]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        response = client.post("/api/v1/segments/preview", json=body)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.text
    return times, count


def measure(n: int, runs: int) -> dict[str, Any]:
    log(f"loading {n:,} customers with COPY …")
    copy_rps = asyncio.run(load(n))
    key = (
        subprocess.run(
            [PULSECRM, "apikey", "create", "--name", "bench"],
            env=env(),
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = 18000 + random.randint(0, 999)
    with tempfile.TemporaryFile() as out:
        server = subprocess.Popen([PULSECRM, "serve", "--port", str(port)], env=env(), stdout=out, stderr=out)
        try:
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=60
            )
            for _ in range(100):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            result: dict[str, Any] = {"customers": n, "copy_rows_per_s": int(copy_rps), "trees": {}}
            for name, tree in TREES.items():
                api, count = api_times(client, tree, runs)
                floor = asyncio.run(sql_floor(tree, runs))
                capped, capped_count = api_times(client, tree, runs, exact=False, cap=10_000)
                result["trees"][name] = {
                    "count": count,
                    "api_p50_ms": pctl(api, 50),
                    "api_p95_ms": pctl(api, 95),
                    "sql_p50_ms": pctl(floor, 50),
                    "sql_p95_ms": pctl(floor, 95),
                    "capped_count": capped_count,
                    "api_capped_p50_ms": pctl(capped, 50),
                    "api_capped_p95_ms": pctl(capped, 95),
                }
                log(name, result["trees"][name])
            for i in range(100):
                tree = random.Random(i).choice(list(TREES.values()))
                client.post(
                    "/api/v1/segments", json={"name": f"segment {i}", "rules": tree}
                ).raise_for_status()
            lists = []
            for _ in range(runs):
                t = time.perf_counter()
                body = client.get("/api/v1/segments", params={"limit": 100}).json()
                lists.append((time.perf_counter() - t) * 1000)
                assert len(body["items"]) == 100
            result["segment_list_100_p95_ms"] = pctl(lists, 95)
            result["api_p95_max_ms"] = max(t["api_p95_ms"] for t in result["trees"].values())
            result["api_capped_p95_max_ms"] = max(t["api_capped_p95_ms"] for t in result["trees"].values())
            return result
        finally:
            server.terminate()
            server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    report: dict[str, Any] = {
        "cores": os.cpu_count(),
        "runs_per_tree": args.runs,
        "warm": "3 warm-up calls first",
        "sizes": [],
    }
    for n in (int(s) for s in args.sizes.split(",")):
        report["sizes"].append(measure(n, args.runs))
    if len(report["sizes"]) > 1:
        small, big = report["sizes"][0], report["sizes"][-1]
        report["p95_growth_100k_to_1m"] = {
            name: {
                kind: round(big["trees"][name][kind] / small["trees"][name][kind], 1)
                for kind in ("api_p95_ms", "api_capped_p95_ms")
            }
            for name in TREES
        }
    text = json.dumps(report, indent=2)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "segments.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
