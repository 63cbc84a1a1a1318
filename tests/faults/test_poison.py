"""A poison record is isolated: its good neighbours are written within seconds, it is dead-lettered.

One `pulsecrm serve` and one `pulsecrm worker` (with a redis-server of the module's own, AOF
on) serve every test here. The bad records are put straight onto the stream with XADD, in
the wire format the API writes, because the API now refuses them at the edge: an older
producer, or a record that passes validation and fails only when written, gets there anyway.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _truncate_pg
from tests.faults.conftest import api_client, need_redis_server
from tests.faults.procs import Child, OwnRedis, Processes, eventually, pg_execute, pg_fetch, stored_ids

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

RECORDS = 2_000
BAD_AT = 1_234
WITHIN_SECONDS = 10.0  # "within a few seconds", with room for a loaded 2-core machine
LETTER_FIELDS = {
    "id",
    "stream",
    "kind",
    "external_id",
    "record",
    "error",
    "attempts",
    "stream_entry_id",
    "created_at",
    "replayed_at",
}


@dataclass
class Stack:
    database_url: str
    redis: OwnRedis
    base: str
    key: str
    worker: Child
    processes: Processes

    def xadd(self, stream: str, fields: dict[str, Any]) -> str:
        with self.redis.client() as r:
            return r.xadd(f"pulsecrm:{stream}", fields).decode()  # type: ignore[union-attr]

    def xadd_records(self, kind: str, records: list[dict[str, Any]]) -> str:
        """An ingest entry exactly as the API writes one (json: ints beyond int64 are kept)."""
        return self.xadd(
            "ingest",
            {
                "v": "1",
                "kind": kind,
                "received_at": "2026-11-30T10:00:00+00:00",
                "n": str(len(records)),
                "records": json.dumps(records),
            },
        )

    async def unfinished(self, stream: str, entry_ids: list[str]) -> list[str]:
        """Which of these entries are still on the stream or delivered and not acked."""
        group = {"ingest": "writers", "receipts": "appliers"}[stream]
        key = f"pulsecrm:{stream}"
        with self.redis.client() as r:
            pending = {
                p["message_id"].decode() for p in r.xpending_range(key, group, min="-", max="+", count=10_000)
            }
            return [i for i in entry_ids if i in pending or r.xrange(key, min=i, max=i)]


@pytest.fixture(scope="module")
async def stack(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    need_redis_server()
    await _truncate_pg(pg_url)
    root: Path = tmp_path_factory.mktemp("poison")
    redis = OwnRedis(root / "redis", appendonly=True)
    processes = Processes(root)
    try:
        redis.start()
        settings = processes.settings(pg_url, redis.url)
        key = processes.api_key(**settings)
        served = processes.serve(**settings)
        worker = processes.worker(**settings)
        yield Stack(pg_url, redis, served.base, key, worker, processes)
    finally:
        processes.stop_all()
        redis.stop()


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(stack.base, stack.key) as client:
        yield client
    assert stack.worker.alive(), stack.worker.tail()


async def _letters(http: httpx.AsyncClient, stream: str) -> list[dict[str, Any]]:
    r = await http.get("/api/v1/dead-letters", params={"stream": stream, "limit": 500})
    assert r.status_code == 200, r.text
    page = r.json()
    assert set(page) == {"items", "next_cursor"}, page
    return list(page["items"])


async def _letter(
    http: httpx.AsyncClient, stream: str, **match: Any
) -> tuple[dict[str, Any] | None, float | None]:
    async def probe() -> dict[str, Any] | None:
        found = [d for d in await _letters(http, stream) if all(d.get(k) == v for k, v in match.items())]
        return found[0] if found else None

    return await eventually(probe, lambda d: d is not None, within=WITHIN_SECONDS)


def _customers(tag: str) -> list[dict[str, Any]]:
    return [{"external_id": f"{tag}-{i:04d}", "name": f"Poison neighbour {i}"} for i in range(RECORDS)]


def _orders(tag: str) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"{tag}-{i:04d}",
            "customer_external_id": f"{tag}-cust-{i % 50}",
            "amount": f"{i % 500 + 1}.25",
            "ordered_at": "2026-11-01T10:00:00+05:30",
        }
        for i in range(RECORDS)
    ]


# Records the API took before the edge learned to refuse them (the codec, validating again,
# may now refuse them on decoding), and one that passes Pydantic and fails only when encoded
# for the database. Any of them may sit on the stream, from an older producer.
POISONS = {
    "customer-created-year-1": ("customers", {"created_at": "0001-01-01T00:00:00+05:30"}),
    "order-ordered-year-10000-utc": ("orders", {"ordered_at": "9999-12-31T23:00:00-05:00"}),
    "customer-attribute-beyond-int64": ("customers", {"attributes": {"score": 10**30}}),
}


async def _isolated(
    stack: Stack,
    http: httpx.AsyncClient,
    *,
    case: str,
    kind: str,
    records: list[dict[str, Any]],
    bad_id: str,
    kept: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Put `records` on the stream as one entry; the good ones must be written within seconds
    and `bad_id` dead-lettered -- or, where `kept` is given, stored and checked by it."""
    tag = bad_id.rsplit("-", 1)[0]
    good = {r["external_id"] for r in records} - {bad_id}
    started = time.monotonic()
    entry_id = stack.xadd_records(kind, records)
    stored, took = await eventually(
        lambda: stored_ids(stack.database_url, kind, f"{tag}-"), lambda s: good <= s, within=WITHIN_SECONDS
    )
    print(f"\n{case}: {len(good & stored)} good records written in {time.monotonic() - started:.1f} s")
    assert took is not None, (
        f"{len(good - stored)} of {len(good)} good records not written within {WITHIN_SECONDS} s "
        f"of the poisoned entry\n{stack.worker.tail()}"
    )

    letter, _ = await _letter(http, "ingest", external_id=bad_id)
    if kept is not None and bad_id in stored:
        await kept()
        assert letter is None, letter
    else:
        assert bad_id not in stored
        assert letter is not None, (
            f"the poison record {bad_id} is not in GET /api/v1/dead-letters?stream=ingest within "
            f"{WITHIN_SECONDS} s\n{stack.worker.tail()}"
        )
        assert set(letter) == LETTER_FIELDS, letter
        assert (letter["stream"], letter["kind"], letter["stream_entry_id"]) == ("ingest", kind, entry_id)
        assert letter["record"]["external_id"] == bad_id, letter
        assert letter["error"] and letter["attempts"] >= 1 and letter["replayed_at"] is None, letter
        old = (await http.get("/api/v1/ingest/dead-letters", params={"limit": 500})).json()["items"]
        assert letter["id"] in {d["id"] for d in old}, "the old address does not list it"

    # The entry is finished: acked, not held pending for ever.
    _, took = await eventually(
        lambda: stack.unfinished("ingest", [entry_id]), lambda left: not left, within=WITHIN_SECONDS
    )
    assert took is not None, f"entry {entry_id} is still pending or on the stream\n{stack.worker.tail()}"


@pytest.mark.parametrize("case", list(POISONS))
async def test_a_poison_record_is_dead_lettered_and_its_1999_neighbours_written(
    case: str, stack: Stack, http: httpx.AsyncClient
) -> None:
    kind, poison = POISONS[case]
    tag = case[:24]
    records = _customers(tag) if kind == "customers" else _orders(tag)
    records[BAD_AT] |= poison
    bad_id = records[BAD_AT]["external_id"]

    async def kept_exactly() -> None:
        # Kept instead of refused: then kept exactly, not as a float.
        rows = await pg_fetch(
            stack.database_url, "SELECT attributes->>'score' FROM customers WHERE external_id = $1", bad_id
        )
        assert rows[0][0] == str(10**30), f"a huge attribute number was stored as {rows[0][0]}"

    kept = kept_exactly if case == "customer-attribute-beyond-int64" else None
    await _isolated(stack, http, case=case, kind=kind, records=records, bad_id=bad_id, kept=kept)


MAX_AMOUNT = "9999999999.99"  # the largest order amount the API takes (12 digits)


async def test_an_order_only_the_database_refuses_is_isolated(stack: Stack, http: httpx.AsyncClient) -> None:
    """A valid order whose customer's total would no longer fit NUMERIC(14,2): every check
    before the database passes it, the aggregate update fails (numeric field overflow)."""
    tag = "dbonly"
    rich = f"{tag}-rich"
    seeded = [
        {
            "external_id": f"{tag}-seed-{i:03d}",
            "customer_external_id": rich,
            "amount": MAX_AMOUNT,
            "ordered_at": "2026-10-01T10:00:00+05:30",
        }
        for i in range(100)
    ]
    r = await http.post("/api/v1/customers", json={"external_id": rich, "name": "Rich"})
    assert r.status_code == 202, r.text
    r = await http.post("/api/v1/orders", json=seeded)
    assert r.status_code == 202, r.text

    async def rich_total() -> list[Any]:
        return await pg_fetch(
            stack.database_url, "SELECT total_spend, order_count FROM customers WHERE external_id = $1", rich
        )

    rows, took = await eventually(rich_total, lambda rows: bool(rows) and rows[0][1] == 100, within=20)
    assert took is not None, f"the seed orders were not written: {rows}\n{stack.worker.tail()}"
    full = Decimal(MAX_AMOUNT) * 100  # 999,999,999,999.00: one more unit does not fit NUMERIC(14,2)

    records = _orders(tag)
    records[BAD_AT] |= {"customer_external_id": rich, "amount": "1.00"}
    bad_id = records[BAD_AT]["external_id"]

    async def kept_exactly() -> None:
        # The column was widened instead: then the total must be exact.
        assert (await rich_total())[0][0] == full + 1

    await _isolated(
        stack,
        http,
        case="order-total-overflows",
        kind="orders",
        records=records,
        bad_id=bad_id,
        kept=kept_exactly,
    )
    assert (await rich_total())[0][0] in (full, full + 1)


async def test_receipts_get_the_same_policy(stack: Stack, http: httpx.AsyncClient) -> None:
    """Good receipts (for messages not sent yet: parked, which counts as applied) beside one
    with a year-1 time, and two malformed entries: nothing blocked, nothing dropped silently."""
    good = [
        {"message_id": f"rcpt-good-{i:03d}", "status": "delivered", "occurred_at": "2026-11-30T10:00:00Z"}
        for i in range(200)
    ]
    poison = {"message_id": "rcpt-year-1", "status": "failed", "occurred_at": "0001-01-01T00:00:00+05:30"}
    started = time.monotonic()
    poisoned = stack.xadd("receipts", {"v": "1", "receipts": json.dumps([*good[:120], poison, *good[120:]])})
    missing = stack.xadd("receipts", {"v": "1"})
    not_json = stack.xadd("receipts", {"v": "1", "receipts": "not json ["})

    async def parked() -> int:
        rows = await pg_fetch(
            stack.database_url,
            "SELECT count(*) FROM parked_receipts WHERE starts_with(message_id, 'rcpt-good-')",
        )
        return int(rows[0][0])

    count, took = await eventually(parked, lambda n: n == len(good), within=WITHIN_SECONDS)
    print(f"\nreceipts: {count} good receipts parked in {time.monotonic() - started:.1f} s")
    assert took is not None, f"{count} of {len(good)} good receipts applied\n{stack.worker.tail()}"

    letter, _ = await _letter(http, "receipts", external_id="rcpt-year-1")
    assert letter is not None, f"the year-1 receipt was not dead-lettered\n{stack.worker.tail()}"
    assert set(letter) == LETTER_FIELDS, letter
    assert (letter["stream"], letter["stream_entry_id"]) == ("receipts", poisoned), letter
    assert letter["record"]["message_id"] == "rcpt-year-1", letter
    rows = await pg_fetch(
        stack.database_url, "SELECT count(*) FROM parked_receipts WHERE message_id = 'rcpt-year-1'"
    )
    assert rows[0][0] == 0

    for entry_id, what in ((missing, "no receipts field"), (not_json, "receipts not JSON")):
        bad, _ = await _letter(http, "receipts", stream_entry_id=entry_id)
        assert bad is not None, f"the malformed entry ({what}) was dropped\n{stack.worker.tail()}"
        assert bad["stream"] == "receipts" and bad["error"], bad
    left, took = await eventually(
        lambda: stack.unfinished("receipts", [poisoned, missing, not_json]),
        lambda left: not left,
        within=WITHIN_SECONDS,
    )
    assert took is not None, f"receipts entries still pending or on the stream: {left}\n{stack.worker.tail()}"


async def test_replay_answers_422_while_invalid_200_once_fixed_then_409(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    tag = "replay"
    records = [
        {"external_id": f"{tag}-ok", "name": "Fine"},
        {"external_id": f"{tag}-bad", "name": "Ancient", "created_at": "0001-01-01T00:00:00+05:30"},
    ]
    stack.xadd_records("customers", records)
    letter, _ = await _letter(http, "ingest", external_id=f"{tag}-bad")
    assert letter is not None, stack.worker.tail()

    still_bad = await http.post(f"/api/v1/dead-letters/{letter['id']}/replay")
    assert still_bad.status_code == 422, still_bad.text

    # An operator corrects the stored record (the source is fixed), then replays it.
    fixed = {"external_id": f"{tag}-bad", "name": "Ancient", "created_at": "2001-01-01T00:00:00+05:30"}
    await pg_execute(
        stack.database_url,
        "UPDATE dead_letters SET record = $1::jsonb WHERE id = $2",
        json.dumps(fixed),
        letter["id"],
    )
    replayed = await http.post(f"/api/v1/dead-letters/{letter['id']}/replay")
    assert replayed.status_code == 200, replayed.text
    assert set(replayed.json()) == {"id", "status"} and replayed.json()["id"] == letter["id"], replayed.text
    _, took = await eventually(
        lambda: stored_ids(stack.database_url, "customers", f"{tag}-"),
        lambda s: f"{tag}-bad" in s,
        within=WITHIN_SECONDS,
    )
    assert took is not None, f"the replayed record was not written\n{stack.worker.tail()}"

    again = await http.post(f"/api/v1/dead-letters/{letter['id']}/replay")
    assert again.status_code == 409, again.text
    [after] = [d for d in await _letters(http, "ingest") if d["id"] == letter["id"]]
    assert after["replayed_at"] is not None

    receipt = {"message_id": "rcpt-replay", "status": "delivered", "occurred_at": "0001-01-01T00:00:00+05:30"}
    stack.xadd("receipts", {"v": "1", "receipts": json.dumps([receipt])})
    letter, _ = await _letter(http, "receipts", external_id="rcpt-replay")
    assert letter is not None, stack.worker.tail()
    still_bad = await http.post(f"/api/v1/dead-letters/{letter['id']}/replay")
    assert still_bad.status_code == 422, still_bad.text
