"""Queries for customers and orders: the set-based writes of ingestion, and the reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from pulsecrm.customers.consent import ChannelName
from pulsecrm.customers.models import Customer, CustomerLock, Order
from pulsecrm.db import bulk_upsert, json_rows, one_of, recordset
from pulsecrm.segments.models import CustomerAttributeKey

customers_t: sa.Table = Customer.__table__  # type: ignore[assignment]
orders_t: sa.Table = Order.__table__  # type: ignore[assignment]
locks_t: sa.Table = CustomerLock.__table__  # type: ignore[assignment]
attribute_keys_t: sa.Table = CustomerAttributeKey.__table__  # type: ignore[assignment]

_CUSTOMER_SET = {
    "name": "excluded.name",
    "email": "excluded.email",
    "phone": "excluded.phone",
    "city": "excluded.city",
    "attributes": "excluded.attributes",
    # Signup time: the earliest seen, so a record without one never moves it later.
    "created_at": "CASE WHEN excluded.created_at < customers.created_at "
    "THEN excluded.created_at ELSE customers.created_at END",
    "updated_at": "excluded.updated_at",
    "ingested_at": "excluded.ingested_at",
    # A consent the record carries, when at least as new as the stored one (NULL = none stated).
    **{
        f"{channel}_{column}": f"CASE WHEN excluded.{channel}_consent_at IS NOT NULL AND "
        f"(customers.{channel}_consent_at IS NULL OR customers.{channel}_consent_at <= "
        f"excluded.{channel}_consent_at) THEN excluded.{channel}_{column} "
        f"ELSE customers.{channel}_{column} END"
        for channel in ("email", "sms")
        for column in ("consent", "consent_at", "consent_source")
    },
}
_ORDER_SET = {
    "customer_external_id": "excluded.customer_external_id",
    "amount": "excluded.amount",
    "currency": "excluded.currency",
    "ordered_at": "excluded.ordered_at",
    "items": "excluded.items",
    "updated_at": "excluded.updated_at",
    "ingested_at": "excluded.ingested_at",
}


async def lock_customers(conn: AsyncConnection, external_ids: Iterable[str]) -> None:
    """Serialise writers per customer (PostgreSQL; SQLite has one writer already).

    Ids are locked in sorted order so two writers never wait on each other in a cycle.
    """
    if conn.dialect.name == "sqlite":
        return
    ids = sorted(set(external_ids))
    if not ids:
        return
    # One statement inserts the ids never seen and locks the rest: ON CONFLICT DO UPDATE locks
    # each conflicting row even when its WHERE is false, and writes no new row version then.
    # (An insert and a SELECT ... FOR UPDATE took 40% longer.)
    await bulk_upsert(
        conn,
        locks_t,
        [{"external_id": i} for i in ids],
        key="external_id",
        set_={"external_id": "excluded.external_id"},
        where="false",
    )


async def customers_of_orders(conn: AsyncConnection, order_ids: Sequence[str]) -> set[str]:
    """The customers that stored orders belong to now (an amendment may move an order)."""
    if not order_ids:
        return set()
    rows = await conn.execute(
        sa.select(orders_t.c.customer_external_id)
        .where(one_of(conn, orders_t.c.external_id, order_ids))
        .distinct()
    )
    return {r[0] for r in rows}


def with_consents(
    rows: list[dict[str, Any]], consents: Mapping[ChannelName, Sequence[Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """Customer rows with the consent columns `upsert_customers` takes: each channel's stated
    consent (`consents[channel]`, one per customer), or none (unknown, never stated)."""
    stated = {
        (channel, c["external_id"]): c for channel, per_channel in consents.items() for c in per_channel
    }
    out = []
    for row in rows:
        columns: dict[str, Any] = {}
        for channel in ("email", "sms"):
            c = stated.get((channel, row["external_id"]))
            columns |= {
                f"{channel}_consent": c["status"] if c else "unknown",
                f"{channel}_consent_at": c["at"] if c else None,
                f"{channel}_consent_source": c["source"] if c else None,
            }
        out.append(row | columns)
    return out


async def upsert_customers(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Rows carry every column of `_CUSTOMER_SET`, consent included (see `with_consents`)."""
    await bulk_upsert(
        conn,
        customers_t,
        rows,
        key="external_id",
        set_=_CUSTOMER_SET,
        where="customers.updated_at <= excluded.updated_at",
    )


async def newer_than(conn: AsyncConnection, versions: Mapping[str, datetime]) -> set[str]:
    """The customers whose stored version is newer than the one given (their write was refused)."""
    if not versions:
        return set()
    rows = await conn.execute(
        sa.select(customers_t.c.external_id, customers_t.c.updated_at).where(
            one_of(conn, customers_t.c.external_id, sorted(versions))
        )
    )
    return {external_id for external_id, stored in rows if stored > versions[external_id]}


def _consent_update_sqlite(channel: str) -> sa.Update:
    """Set one customer's consent for `channel` unless the stored one is newer."""
    c = customers_t.c
    status, at, source = (
        (c.email_consent, c.email_consent_at, c.email_consent_source)
        if channel == "email"
        else (c.sms_consent, c.sms_consent_at, c.sms_consent_source)
    )
    # Parameter names differ from the columns': SQLAlchemy keeps those for SET.
    stated_at = sa.bindparam("stated_at", type_=at.type)
    stated = sa.bindparam("stated", type_=status.type)
    stated_by = sa.bindparam("stated_by", type_=source.type)
    unchanged = sa.and_(
        status.is_not_distinct_from(stated),
        at.is_not_distinct_from(stated_at),
        source.is_not_distinct_from(stated_by),
    )
    return (
        sa.update(customers_t)
        .where(
            c.external_id == sa.bindparam("customer"),
            sa.or_(at.is_(None), at <= stated_at),
            sa.not_(unchanged),
        )
        .values({status: stated, at: stated_at, source: stated_by})
    )


# For the consent of records refused as older than the stored customer (the upsert takes the
# rest): one statement per channel over arrays, as the aggregates are written. Rows that would
# not change are not rewritten, so a replay costs no row versions.
_CONSENT_PG = {
    channel: sa.text(f"""
UPDATE customers AS c SET
    {channel}_consent = v.status, {channel}_consent_at = v.at, {channel}_consent_source = v.source
FROM unnest(CAST(:external_ids AS varchar[]), CAST(:statuses AS varchar[]),
            CAST(:ats AS timestamptz[]), CAST(:sources AS varchar[])) AS v(id, status, at, source)
WHERE c.external_id = v.id
  AND (c.{channel}_consent_at IS NULL OR c.{channel}_consent_at <= v.at)
  AND (c.{channel}_consent, c.{channel}_consent_at, c.{channel}_consent_source)
      IS DISTINCT FROM (v.status, v.at, v.source)
""")  # noqa: S608 - `channel` is one of two fixed names
    for channel in ("email", "sms")
}


async def record_consents(conn: AsyncConnection, channel: str, rows: list[dict[str, Any]]) -> None:
    """Each row (`external_id`, `status`, `at`, `source`; one per customer) sets a customer's
    consent for `channel` when it is at least as new as the stored one: a late or replayed
    statement changes nothing."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        params = [
            {
                "customer": r["external_id"],
                "stated": r["status"],
                "stated_at": r["at"],
                "stated_by": r["source"],
            }
            for r in rows
        ]
        await conn.execute(_consent_update_sqlite(channel), params)
        return
    await conn.execute(
        _CONSENT_PG[channel],
        {
            "external_ids": [r["external_id"] for r in rows],
            "statuses": [r["status"] for r in rows],
            "ats": [r["at"] for r in rows],
            "sources": [r["source"] for r in rows],
        },
    )


_JSON_TYPES = {bool: "boolean", int: "number", float: "number", str: "string"}


async def record_attribute_keys(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Note each (attribute, JSON type) seen, for the segment field catalog."""
    seen = {
        (key, _JSON_TYPES[type(value)])
        for row in rows
        for key, value in row["attributes"].items()
        if type(value) in _JSON_TYPES
    }
    if not seen:
        return
    # Read before inserting: almost every batch brings only known keys, and an insert of a key
    # another writer has just inserted waits for that writer's commit, so two writers with the
    # same columns would take turns over their whole transactions.
    known = await conn.execute(
        sa.select(attribute_keys_t.c.attribute, attribute_keys_t.c.value_type).where(
            one_of(conn, attribute_keys_t.c.attribute, sorted({k for k, _ in seen}))
        )
    )
    new = seen - {(k, t) for k, t in known}
    if new:
        await bulk_upsert(
            conn,
            attribute_keys_t,
            [{"attribute": k, "value_type": t} for k, t in sorted(new)],
            key="attribute, value_type",
        )


async def insert_new_orders(conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the orders not stored yet, count them into their customers' aggregates, and
    return their ids. Stored ones are left alone: an amendment goes through `upsert_orders`.

    Adding to the stored aggregates is exact while the caller holds these customers' locks, and
    spares reading each customer's orders again; a customer not stored yet is skipped (their
    aggregates are recomputed when they arrive). The caller recomputes, afterwards, every
    customer whose stored orders changed or whose own row it wrote."""
    if not rows:
        return set()
    if conn.dialect.name == "sqlite":  # one writer: what is not stored now is new
        stored = await conn.execute(
            sa.select(orders_t.c.external_id).where(
                one_of(conn, orders_t.c.external_id, [r["external_id"] for r in rows])
            )
        )
        known = {r[0] for r in stored}
        new = [r for r in rows if r["external_id"] not in known]
        await bulk_upsert(conn, orders_t, new, key="external_id")
        await _add_to_aggregates_sqlite(conn, new)
        return {r["external_id"] for r in new}
    columns = list(rows[0])
    names = ", ".join(columns)
    # DO NOTHING returns only the rows it inserted, after waiting for a concurrent insert of the
    # same id to commit or roll back: each order is added exactly once.
    statement = sa.text(f"""
        WITH new AS (
            INSERT INTO orders ({names}) SELECT {names} FROM {recordset(orders_t, columns, conn.dialect)}
            ON CONFLICT (external_id) DO NOTHING
            RETURNING external_id, customer_external_id, amount, ordered_at
        ), added AS (
            {_ADD_PG}
        )
        SELECT external_id FROM new
    """)  # noqa: S608 - column names from our own rows
    return set((await conn.execute(statement, {"rows": json_rows(rows)})).scalars())


async def upsert_orders(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await bulk_upsert(
        conn,
        orders_t,
        rows,
        key="external_id",
        set_=_ORDER_SET,
        where="orders.updated_at <= excluded.updated_at",
    )


# Aggregates are recomputed from the orders table for every customer a batch touched: exact
# under duplicates, replays, amendments and any arrival order, at the cost of one indexed
# pass over those customers' orders. Rows whose aggregates did not change are not rewritten.
# LATERAL keeps it one index lookup per customer whatever plan the statement gets: a join and
# GROUP BY over orders was planned as a scan of the whole table once the statement went generic.
_RECOMPUTE_PG = sa.text("""
UPDATE customers AS c SET
    total_spend = a.total,
    order_count = a.n,
    avg_order_value = CASE WHEN a.n > 0 THEN round(a.total / a.n, 2) END,
    first_order_at = a.first_at,
    last_order_at = a.last_at
FROM (
    SELECT k.id, s.total, s.n, s.first_at, s.last_at
    FROM unnest(CAST(:ids AS varchar[])) AS k(id)
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(o.amount), 0) AS total, count(*) AS n,
               min(o.ordered_at) AS first_at, max(o.ordered_at) AS last_at
        FROM orders AS o WHERE o.customer_external_id = k.id
    ) AS s
) AS a
WHERE c.external_id = a.id
  AND (c.total_spend, c.order_count, c.first_order_at, c.last_order_at)
      IS DISTINCT FROM (a.total, a.n, a.first_at, a.last_at)
""")

# SQLite keeps money in cents; the average rounds half up like PostgreSQL's round().
_RECOMPUTE_SQLITE = sa.text("""
UPDATE customers SET
    total_spend = a.total,
    order_count = a.n,
    avg_order_value = CASE WHEN a.n > 0 THEN (a.total * 2 + a.n) / (2 * a.n) END,
    first_order_at = a.first_at,
    last_order_at = a.last_at
FROM (
    SELECT k.value AS id, coalesce(sum(o.amount), 0) AS total, count(o.id) AS n,
           min(o.ordered_at) AS first_at, max(o.ordered_at) AS last_at
    FROM json_each(:ids) AS k
    LEFT JOIN orders AS o ON o.customer_external_id = k.value
    GROUP BY k.value
) AS a
WHERE customers.external_id = a.id
  AND (customers.total_spend, customers.order_count,
       coalesce(customers.first_order_at, ''), coalesce(customers.last_order_at, ''))
      IS NOT (a.total, a.n, coalesce(a.first_at, ''), coalesce(a.last_at, ''))
""")


# New orders are added to the stored aggregates (see insert_new_orders): no read of the orders.
_ADD_PG = """
    UPDATE customers AS c SET
        total_spend = c.total_spend + v.total,
        order_count = c.order_count + v.n,
        avg_order_value = round((c.total_spend + v.total) / (c.order_count + v.n), 2),
        first_order_at = least(c.first_order_at, v.first_at),
        last_order_at = greatest(c.last_order_at, v.last_at)
    FROM (
        SELECT customer_external_id AS id, sum(amount) AS total, count(*) AS n,
               min(ordered_at) AS first_at, max(ordered_at) AS last_at
        FROM new GROUP BY customer_external_id
    ) AS v
    WHERE c.external_id = v.id
"""

# Cents, and the same half-up rounding as _RECOMPUTE_SQLITE; SQLite's two-argument min() and
# max() return NULL if either is NULL, hence the coalesce.
_ADD_SQLITE = sa.text("""
UPDATE customers SET
    total_spend = total_spend + :total,
    order_count = order_count + :n,
    avg_order_value = ((total_spend + :total) * 2 + order_count + :n) / (2 * (order_count + :n)),
    first_order_at = min(coalesce(first_order_at, :first_at), :first_at),
    last_order_at = max(coalesce(last_order_at, :last_at), :last_at)
WHERE external_id = :id
""").bindparams(
    sa.bindparam("total", type_=customers_t.c.total_spend.type),
    sa.bindparam("first_at", type_=customers_t.c.first_order_at.type),
    sa.bindparam("last_at", type_=customers_t.c.last_order_at.type),
)


async def _add_to_aggregates_sqlite(conn: AsyncConnection, new_orders: list[dict[str, Any]]) -> None:
    sums: dict[str, dict[str, Any]] = {}
    for o in new_orders:
        s = sums.get(o["customer_external_id"])
        if s is None:
            sums[o["customer_external_id"]] = {
                "id": o["customer_external_id"],
                "total": o["amount"],
                "n": 1,
                "first_at": o["ordered_at"],
                "last_at": o["ordered_at"],
            }
        else:
            s["total"] += o["amount"]
            s["n"] += 1
            s["first_at"] = min(s["first_at"], o["ordered_at"])
            s["last_at"] = max(s["last_at"], o["ordered_at"])
    if sums:
        await conn.execute(_ADD_SQLITE, [sums[i] for i in sorted(sums)])


async def recompute_aggregates(conn: AsyncConnection, external_ids: Iterable[str]) -> None:
    ids = sorted(set(external_ids))
    if not ids:
        return
    if conn.dialect.name == "sqlite":
        await conn.execute(_RECOMPUTE_SQLITE, {"ids": orjson.dumps(ids).decode()})
    else:
        await conn.execute(_RECOMPUTE_PG, {"ids": ids})


# --- reads ----------------------------------------------------------------------------------


async def get_customer(session: AsyncSession, external_id: str) -> Customer | None:
    return await session.scalar(sa.select(Customer).where(Customer.external_id == external_id))


async def recent_orders(session: AsyncSession, customer_external_id: str, limit: int) -> list[Order]:
    result = await session.scalars(
        sa.select(Order)
        .where(Order.customer_external_id == customer_external_id)
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return list(result)
