"""What consent costs the batch writer: customers written with and without a consent statement.

Each round writes N new customers, then the same N again as newer versions (updates), through
`pulsecrm.ingest.writer.write_batch` in batches; once with records that carry no consent (the
floor, measured in the same run) and once with `marketing_opt_in` on every record (mapped to
both channels, the default). PostgreSQL uses a throwaway database of its own on the server at
PULSECRM_BENCH_PG (default the local one); SQLite a temporary file. Prints one JSON object.

Run:  .venv/bin/python bench/consent.py [--customers N] [--batch N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from pulsecrm.customers.schemas import CustomerIn
from pulsecrm.db import Database, migrate
from pulsecrm.ingest.writer import Entry, write_batch

ADMIN = os.environ.get("PULSECRM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SCRATCH = f"pulsecrm_bench_consent_{os.getpid()}"
MAPPING = {"marketing_opt_in": ["email", "sms"]}
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _records(n: int, *, consent: bool, version: int) -> list[CustomerIn]:
    def one(i: int) -> CustomerIn:
        attributes: dict[str, Any] = {"tier": "gold"}
        if consent:
            attributes["marketing_opt_in"] = (i + version) % 5 != 0
        return CustomerIn(
            external_id=f"c{i:07d}",
            name=f"Person {i}",
            email=f"p{i}@example.com",
            phone=f"+91 98{i:08d}",
            attributes=attributes,
            updated_at=T0 + timedelta(minutes=version),
        )

    return [one(i) for i in range(n)]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _fresh(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        path = tmp / f"consent-{time.monotonic_ns()}.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        await _admin(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        await _admin(f'CREATE DATABASE "{SCRATCH}"')
        url = f"postgresql+asyncpg://postgres@{ADMIN.split('@', 1)[1].rsplit('/', 1)[0]}/{SCRATCH}"
    await asyncio.to_thread(migrate, url)
    return url


async def _write_rate(url: str, make: Callable[[int], list[CustomerIn]], batch: int) -> dict[str, float]:
    """Rows per second for the inserts (version 1) and for the updates (version 2)."""
    db = Database(url, pool_size=2)
    out = {}
    try:
        for phase, version in (("insert", 1), ("update", 2)):
            records = make(version)
            started = time.perf_counter()
            for i in range(0, len(records), batch):
                entry = Entry("customers", T0, records[i : i + batch])
                await write_batch(db, [entry], default_currency="INR", consent_attributes=MAPPING)
            out[phase] = len(records) / (time.perf_counter() - started)
    finally:
        await db.dispose()
    return out


async def main(a: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"cores": os.cpu_count(), "customers": a.customers, "batch": a.batch}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("postgresql", "sqlite"):
            runs: dict[str, list[float]] = {}
            for _ in range(a.rounds):
                # Alternate, so drift on a shared machine hits both alike.
                for label, consent in (("floor_no_consent", False), ("with_consent", True)):
                    url = await _fresh(backend, Path(tmp))
                    rates = await _write_rate(
                        url, lambda v, c=consent: _records(a.customers, consent=c, version=v), a.batch
                    )
                    for phase, rate in rates.items():
                        runs.setdefault(f"{phase}_{label}_rows_per_s", []).append(round(rate))
                    print(f"{backend} {label}: {rates}", file=sys.stderr)
            result[backend] = {k: {"median": statistics.median(v), "runs": v} for k, v in runs.items()}
        await _admin(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5000, help="records per write (the worker's default)")
    parser.add_argument("--rounds", type=int, default=3)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
