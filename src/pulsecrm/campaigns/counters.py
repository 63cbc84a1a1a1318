"""Campaign counters: moved by deltas in one statement per batch, never recounted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.campaigns.models import Campaign

# One per delivery status: each delivery is counted under exactly one of these.
STATUSES = ("pending", "sent", "delivered", "failed", "unknown", "cancelled", "capped")
# What attribution moves: last-touch credits, then the treatment and control groups' windows.
OUTCOMES = (
    "converted",
    "orders",
    "revenue_minor",
    "treatment_converted",
    "treatment_orders",
    "treatment_revenue_minor",
    "control_converted",
    "control_orders",
    "control_revenue_minor",
)
COUNTERS = (*STATUSES, "control", "opened", "clicked", *OUTCOMES)


def deltas() -> defaultdict[int, defaultdict[str, int]]:
    """campaign id -> counter -> change; a status move is -1 on the old, +1 on the new."""
    return defaultdict(lambda: defaultdict(int))


async def apply_deltas(
    conn: AsyncConnection, changes: Mapping[int, Mapping[str, int]], now: datetime
) -> None:
    if not changes:
        return
    values = {name: getattr(Campaign, name) + sa.bindparam(f"d_{name}") for name in COUNTERS}
    await conn.execute(
        sa.update(Campaign)
        .where(Campaign.id == sa.bindparam("cid"))
        .values(**values, updated_at=now)
        .execution_options(synchronize_session=False),
        [
            {"cid": cid, **{f"d_{name}": change.get(name, 0) for name in COUNTERS}}
            for cid, change in sorted(changes.items())
        ],
    )
    await complete_settled(conn, list(changes), now)


async def complete_settled(conn: AsyncConnection, campaign_ids: list[int], now: datetime) -> None:
    """A running campaign with nothing pending, nor sent and awaiting a receipt, is completed."""
    await conn.execute(
        sa.update(Campaign)
        .where(
            Campaign.id.in_(campaign_ids),
            Campaign.status == "running",
            Campaign.pending == 0,
            sa.or_(Campaign.sent == 0, Campaign.awaits_receipts.is_(False)),
        )
        .values(status="completed", completed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
