"""The control group: a deterministic pseudo-random share of the reachable audience.

A customer is in control when `bucket(seed, customer id) < percent * 100`, bucket in
[0, 10,000). The seed is a hash of the audience's frozen rules, so launching the same audience
again holds out the same customers, and different audiences hold out unrelated shares. The
hash is integer arithmetic both databases evaluate identically inside the launch's INSERT …
SELECT (a multiplicative step, an xor-shift, another multiply, all modulo the prime 2^31 - 1):
no per-row round trip, and `bucket` below is its twin for tests and people.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import InstrumentedAttribute

from pulsecrm.campaigns import counters
from pulsecrm.customers.models import Customer
from pulsecrm.outcomes.models import CampaignHoldout

P = 2_147_483_647  # 2^31 - 1: products of two residues stay far inside 64 bits
A, B = 48_271, 69_621
BUCKETS = 10_000


def seed_of(rules: Any) -> int:
    """The seed for an audience: its frozen rule tree, canonically serialised, hashed."""
    digest = hashlib.sha256(orjson.dumps(rules, option=orjson.OPT_SORT_KEYS)).digest()
    return int.from_bytes(digest[:8], "big") % P


def bucket(seed: int, customer_id: int) -> int:
    x = (customer_id % P + seed) % P * A % P
    x ^= x >> 15
    return x * B % P % BUCKETS


def bucket_sql(
    seed: int, customer_id: sa.ColumnElement[int] | InstrumentedAttribute[int]
) -> sa.ColumnElement[int]:
    x = (customer_id % P + seed) % P * A % P
    # PostgreSQL shifts a bigint by an integer only (there is no bigint >> bigint).
    shifted = x.op(">>")(sa.literal(15, sa.Integer))
    # SQLite has no xor operator: a ^ b == (a | b) - (a & b).
    mixed = x.op("|")(shifted) - x.op("&")(shifted)
    return mixed * B % P % BUCKETS


def in_control(
    seed: int, percent: int, customer_id: sa.ColumnElement[int] | InstrumentedAttribute[int]
) -> sa.ColumnElement[bool]:
    if percent <= 0:
        return sa.false()
    return bucket_sql(seed, customer_id) < percent * (BUCKETS // 100)


async def hold_out(
    conn: AsyncConnection,
    *,
    campaign_id: int,
    reachable: sa.ColumnElement[bool],
    control: sa.ColumnElement[bool],
    now: datetime,
) -> int:
    """Record the control group in one INSERT … SELECT, beside the launch's deliveries (which
    leave out the same `control` condition); returns its size."""
    held = await conn.execute(
        sa.insert(CampaignHoldout).from_select(
            ["campaign_id", "customer_id"],
            sa.select(sa.literal(campaign_id, sa.BigInteger), Customer.id).where(reachable, control),
        )
    )
    count = int(held.rowcount)
    await counters.apply_deltas(conn, {campaign_id: {"control": count}}, now)
    return count
