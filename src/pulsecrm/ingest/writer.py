"""The batch writer: the one place records become rows, inline or from the stream.

A batch is a list of entries (one request, or one stream entry, each with the time the API
received it). Within a batch only the newest version of each record is kept; the upserts
then refuse anything older than what is stored, and aggregates are recomputed for every
customer the batch touched. Replays, redeliveries and out-of-order arrival therefore
converge on the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.customers import repository as customer_repo
from pulsecrm.customers.schemas import CustomerIn, OrderIn
from pulsecrm.db import Database, utcnow

Kind = Literal["customers", "orders"]


@dataclass(frozen=True)
class Entry:
    kind: Kind
    received_at: datetime
    records: Sequence[CustomerIn | OrderIn]
    request_id: str | None = None  # the API request that brought it, for the logs


def _newest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per external_id: the highest version, the later arrival on a tie; sorted by id."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:  # rows are in arrival order, so `>=` lets the later one win a tie
        current = best.get(row["external_id"])
        if current is None or row["updated_at"] >= current["updated_at"]:
            best[row["external_id"]] = row
    return [best[k] for k in sorted(best)]


def _customer_row(c: CustomerIn, received_at: datetime) -> dict[str, Any]:
    return {
        "external_id": c.external_id,
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "city": c.city,
        "attributes": c.attributes,
        "created_at": c.created_at or received_at,
        "updated_at": c.updated_at or received_at,
    }


def _order_row(o: OrderIn, received_at: datetime, currency: str) -> dict[str, Any]:
    return {
        "external_id": o.external_id,
        "customer_external_id": o.customer_external_id,
        "amount": o.amount,
        "currency": o.currency or currency,
        "ordered_at": o.ordered_at,
        "items": [i.model_dump(mode="json", exclude_none=True) for i in o.items],
        "updated_at": o.updated_at or received_at,
    }


def _rows(entries: Sequence[Entry], now: datetime, currency: str) -> tuple[list[dict[str, Any]], ...]:
    """The batch as table rows, newest version of each record only: (customers, orders)."""
    customers, orders = [], []
    for entry in entries:
        for record in entry.records:
            if isinstance(record, CustomerIn):
                customers.append(_customer_row(record, entry.received_at) | {"ingested_at": now})
            else:
                orders.append(_order_row(record, entry.received_at, currency) | {"ingested_at": now})
    return _newest(customers), _newest(orders)


async def write_entries(conn: AsyncConnection, entries: Sequence[Entry], *, default_currency: str) -> int:
    """Write a batch inside the caller's transaction; returns the number of records taken."""
    customers, orders = _rows(entries, utcnow(), default_currency)
    order_ids = [o["external_id"] for o in orders]
    touched = {c["external_id"] for c in customers} | {o["customer_external_id"] for o in orders}

    # An amendment can move an order to another customer, whose totals then change too.
    previous = await customer_repo.customers_of_orders(conn, order_ids)
    await customer_repo.lock_customers(conn, touched | previous)
    if conn.dialect.name != "sqlite":
        # Another writer may have moved one of these orders while we waited for the locks.
        moved = await customer_repo.customers_of_orders(conn, order_ids) - touched - previous
        if moved:
            await customer_repo.lock_customers(conn, moved)
            previous |= moved

    await customer_repo.upsert_customers(conn, customers)
    await customer_repo.record_attribute_keys(conn, customers)
    await customer_repo.upsert_orders(conn, orders)
    await customer_repo.recompute_aggregates(conn, touched | previous)
    return sum(len(e.records) for e in entries)


async def write_batch(db: Database, entries: Sequence[Entry], *, default_currency: str) -> int:
    """Write a batch in a transaction of its own (the caller owns nothing else)."""

    async def work(conn: AsyncConnection) -> int:
        return await write_entries(conn, entries, default_currency=default_currency)

    return await db.write(work)
