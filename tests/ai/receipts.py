"""The campaign summary tests' outcome: receipts as they would land on a campaign to eight Pune
customers (p0…p7) and eight Mumbai ones (m0…m7), Pune all delivered and Mumbai half failed."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pulsecrm.delivery.models import Delivery


async def pune_delivered_mumbai_half_failed(engine: AsyncEngine, campaign_id: int) -> None:
    async with engine.begin() as conn:
        ids = {
            r.external_id: r.id for r in await conn.execute(sa.text("SELECT id, external_id FROM customers"))
        }
        for ext, status in [(f"p{i}", "delivered") for i in range(8)] + [
            (f"m{i}", "delivered" if i < 4 else "failed") for i in range(8)
        ]:
            await conn.execute(
                sa.update(Delivery)
                .where(Delivery.campaign_id == campaign_id, Delivery.customer_id == ids[ext])
                .values(status=status)
            )
