"""Writers at once on the same customers (PostgreSQL): every customer's aggregates end equal
to its orders, whichever writer commits first. (This interleaving also came out right with the
lock taken away; that the lock holds is tests/customers/test_locks.py.)"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pulsecrm.customers.schemas import CustomerIn, OrderIn
from pulsecrm.db import Database
from pulsecrm.ingest.writer import Entry, write_batch
from tests.conftest import running_api
from tests.factories import customer, order

CUSTOMERS = [f"c{i}" for i in range(3)]
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("round_", range(3))
async def test_writers_at_once_keep_aggregates_equal_to_the_orders(pg_database_url: str, round_: int) -> None:
    rng = random.Random(round_)
    db = Database(pg_database_url)
    final: dict[str, tuple[str, Decimal]] = {}  # order -> (customer, amount) of its newest version
    batches = []
    for b in range(16):
        records: list[CustomerIn | OrderIn] = []
        for i in range(40):
            oid = f"o{rng.randrange(30)}"
            version = START + timedelta(seconds=b * 100 + i)
            who, amount = rng.choice(CUSTOMERS), Decimal(rng.randrange(1, 500))
            records.append(
                OrderIn.model_validate(
                    order(
                        external_id=oid,
                        customer_external_id=who,
                        amount=str(amount),
                        updated_at=version.isoformat(),
                    )
                )
            )
            final[oid] = (who, amount)  # versions only grow, so the last one written wins
        if b % 4 == 0:  # customers arrive among their orders, some after them
            records += [CustomerIn.model_validate(customer(external_id=c)) for c in CUSTOMERS]
        batches.append([Entry("orders", START, records)])
    try:
        await asyncio.gather(
            *(write_batch(db, entries, default_currency="INR", consent_attributes={}) for entries in batches)
        )
    finally:
        await db.dispose()
    async with running_api(pg_database_url) as api:
        for c in CUSTOMERS:
            got = (await api.client.get(f"/api/v1/customers/{c}")).json()
            mine = [amount for who, amount in final.values() if who == c]
            assert (got["order_count"], Decimal(got["total_spend"])) == (len(mine), sum(mine, Decimal(0)))
