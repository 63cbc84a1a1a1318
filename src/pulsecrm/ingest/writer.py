"""The batch writer: the one place records become rows, inline or from the stream.

A batch is a list of entries (one request, or one stream entry, each with the time the API
received it). Within a batch only the newest version of each record is kept; the upserts
then refuse anything older than what is stored, and aggregates are recomputed for every
customer the batch touched. Replays, redeliveries and out-of-order arrival therefore
converge on the same rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.customers import repository as customer_repo
from pulsecrm.customers.consent import ChannelName
from pulsecrm.customers.schemas import CustomerIn, OrderIn
from pulsecrm.db import Database, utcnow
from pulsecrm.segments import changes as change_feed

Kind = Literal["customers", "orders"]


@dataclass(frozen=True)
class Entry:
    kind: Kind
    received_at: datetime
    records: Sequence[CustomerIn | OrderIn]
    # Recorded as the source of the consents it carries: "ingest" (the API) or "import" (files).
    source: str = "ingest"
    request_id: str | None = None  # the API request that brought it, for the logs


def partition(entries: Sequence[Entry], parts: int) -> list[list[Entry]]:
    """Split a batch into at most `parts` batches with no customer in common, to
    be written at once without waiting on each other's customer locks.

    Every version of an order goes where its newest version's customer does, so the versions
    of one order are still compared within one batch (a tie goes to the later arrival)."""
    newest: dict[str, tuple[datetime, int, str]] = {}
    for arrival, entry in enumerate(entries):
        for record in entry.records:
            if type(record) is OrderIn:
                version = (record.updated_at or entry.received_at, arrival, record.customer_external_id)
                current = newest.get(record.external_id)
                if current is None or version > current:
                    newest[record.external_id] = version
    out: list[list[Entry]] = [[] for _ in range(parts)]
    for entry in entries:
        if len(entry.records) == 1:  # the stream's case (an entry per record): no copy to make
            record = entry.records[0]
            owner = newest[record.external_id][2] if type(record) is OrderIn else record.external_id
            out[hash(owner) % parts].append(entry)
            continue
        shares: list[list[CustomerIn | OrderIn]] = [[] for _ in range(parts)]
        for record in entry.records:
            owner = newest[record.external_id][2] if type(record) is OrderIn else record.external_id
            shares[hash(owner) % parts].append(record)
        for batch, share in zip(out, shares, strict=True):
            if len(share) == len(entry.records):
                batch.append(entry)
            elif share:
                batch.append(dataclasses.replace(entry, records=share))
    return [batch for batch in out if batch]


def _newest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per external_id: the highest version, the later arrival on a tie; sorted by id."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:  # rows are in arrival order, so `>=` lets the later one win a tie
        current = best.get(row["external_id"])
        if current is None or row["updated_at"] >= current["updated_at"]:
            best[row["external_id"]] = row
    return [best[k] for k in sorted(best)]


def _customer_row(c: CustomerIn, received_at: datetime, now: datetime) -> dict[str, Any]:
    return {
        "external_id": c.external_id,
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "city": c.city,
        "attributes": c.attributes,
        "created_at": c.created_at or received_at,
        "updated_at": c.updated_at or received_at,
        "ingested_at": now,
    }


def _order_row(o: OrderIn, received_at: datetime, currency: str, now: datetime) -> dict[str, Any]:
    return {
        "external_id": o.external_id,
        "customer_external_id": o.customer_external_id,
        "amount": o.amount,
        "currency": o.currency or currency,
        "ordered_at": o.ordered_at,
        "items": [i.model_dump(mode="json", exclude_none=True) for i in o.items],
        "updated_at": o.updated_at or received_at,
        "ingested_at": now,
    }


def _rows(entries: Sequence[Entry], now: datetime, currency: str) -> tuple[list[dict[str, Any]], ...]:
    """The batch as table rows, newest version of each record only: (customers, orders)."""
    customers, orders = [], []
    for entry in entries:
        for record in entry.records:
            # `type(…) is`, not isinstance: pydantic's metaclass makes isinstance an ABC check,
            # a few µs a record on a worker's hot path.
            if type(record) is CustomerIn:
                customers.append(_customer_row(record, entry.received_at, now))
            elif type(record) is OrderIn:
                orders.append(_order_row(record, entry.received_at, currency, now))
    return _newest(customers), _newest(orders)


ConsentAttributes = Mapping[str, Sequence[ChannelName]]


def _consents(entries: Sequence[Entry], mapped: ConsentAttributes) -> dict[ChannelName, list[dict[str, Any]]]:
    """Each customer's newest consent statement per channel, from every record of the batch.

    Taken before `_newest` drops older versions, and applied on its own terms (at least as new
    as the stored consent), so out-of-order and redelivered records converge on one answer.
    A mapped boolean attribute states consent; the record's explicit `consent` wins over it.
    """
    best: dict[tuple[str, ChannelName], dict[str, Any]] = {}
    for entry in entries:
        for record in entry.records:
            if type(record) is not CustomerIn:
                continue
            stated: dict[ChannelName, str] = {}
            for attribute, channels in mapped.items():
                value = record.attributes.get(attribute)
                if isinstance(value, bool):
                    stated |= dict.fromkeys(channels, "opted_in" if value else "opted_out")
            if record.consent is not None:
                stated |= record.consent.stated()
            at = record.updated_at or entry.received_at
            for channel, status in stated.items():
                current = best.get((record.external_id, channel))
                if current is None or at >= current["at"]:  # arrival order: the later wins a tie
                    best[record.external_id, channel] = {
                        "external_id": record.external_id,
                        "status": status,
                        "at": at,
                        "source": entry.source,
                    }
    by_channel: dict[ChannelName, list[dict[str, Any]]] = {"email": [], "sms": []}
    for (_, channel), row in sorted(best.items()):
        by_channel[channel].append(row)
    return by_channel


async def write_entries(
    conn: AsyncConnection,
    entries: Sequence[Entry],
    *,
    default_currency: str,
    consent_attributes: ConsentAttributes,
) -> int:
    """Write a batch inside the caller's transaction; returns the number of records taken."""
    customers, orders = _rows(entries, utcnow(), default_currency)
    named = {c["external_id"] for c in customers}
    touched = named | {o["customer_external_id"] for o in orders}
    await customer_repo.lock_customers(conn, touched)

    consents = _consents(entries, consent_attributes)
    await customer_repo.upsert_customers(conn, customer_repo.with_consents(customers, consents))
    if any(consents.values()):
        # A record too old to land may still carry the newest consent: apply those on their own.
        versions = {c["external_id"]: c["updated_at"] for c in customers}
        stated_ids = {s["external_id"] for stated in consents.values() for s in stated}
        refused = await customer_repo.newer_than(conn, {i: versions[i] for i in stated_ids})
        for channel, stated in consents.items():
            await customer_repo.record_consents(
                conn, channel, [s for s in stated if s["external_id"] in refused]
            )
    await customer_repo.record_attribute_keys(conn, customers)

    inserted = await customer_repo.insert_new_orders(conn, orders)
    amended = [o for o in orders if o["external_id"] not in inserted]
    previous = await _amend_orders(conn, amended, locked=touched)
    # New orders were added to their customers' totals; a customer written in this batch, or
    # whose stored orders an amendment changed, is recomputed from the orders table.
    await customer_repo.recompute_aggregates(
        conn, named | previous | {o["customer_external_id"] for o in amended}
    )
    # Last, so the feed's commit-order lock is held only for the commit itself.
    await change_feed.record(conn, touched | previous)
    return sum(len(e.records) for e in entries)


async def _amend_orders(conn: AsyncConnection, orders: list[dict[str, Any]], *, locked: set[str]) -> set[str]:
    """Write orders already stored (an amendment, a replay); returns every customer they belonged
    to before, locked: an amendment that moves an order changes that customer's totals too,
    whether or not the batch touched them otherwise."""
    if not orders:
        return set()
    ids = [o["external_id"] for o in orders]
    previous = await customer_repo.customers_of_orders(conn, ids)
    while previous - locked:
        await customer_repo.lock_customers(conn, previous - locked)
        locked = locked | previous
        if conn.dialect.name == "sqlite":
            break
        # Another writer may have moved one of these orders while we waited for the locks.
        previous |= await customer_repo.customers_of_orders(conn, ids)
    await customer_repo.upsert_orders(conn, orders)
    return previous


async def write_batch(
    db: Database, entries: Sequence[Entry], *, default_currency: str, consent_attributes: ConsentAttributes
) -> int:
    """Write a batch in a transaction of its own (the caller owns nothing else)."""

    async def work(conn: AsyncConnection) -> int:
        return await write_entries(
            conn, entries, default_currency=default_currency, consent_attributes=consent_attributes
        )

    return await db.write(work)
