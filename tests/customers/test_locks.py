"""`lock_customers` holds every id it is given until commit, new and already seen alike, so a
second writer of any of those customers waits (PostgreSQL; SQLite has one writer anyway)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from pulsecrm.customers.repository import lock_customers
from pulsecrm.db import Database


async def test_new_and_seen_ids_are_both_held_until_commit(pg_database_url: str) -> None:
    db = Database(pg_database_url)
    try:
        async with db.engine.begin() as conn:
            await lock_customers(conn, ["seen"])  # a customer seen before
        async with db.engine.connect() as holder, db.engine.connect() as other:
            await holder.begin()
            await lock_customers(holder, ["seen", "new"])
            for customer in ("seen", "new"):
                await other.begin()
                await other.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
                with pytest.raises(DBAPIError, match="lock timeout"):
                    await lock_customers(other, [customer])
                await other.rollback()
            await holder.commit()
            await other.begin()
            await lock_customers(other, ["seen", "new"])  # free once the holder committed
            await other.commit()
    finally:
        await db.dispose()
