"""Delivery receipts: the signed webhook's checks, and the set-based applier.

Signature: `X-Pulse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` with the
shared webhook secret, compared in constant time, and refused outside a 5-minute window so a
captured request cannot be replayed later.

Applying is idempotent and forward-only: a delivery moves from sent (or unknown) to
delivered or failed once; a second receipt for it changes nothing. A receipt for a message id
not recorded yet (the vendor can be faster than our bookkeeping) is parked, not dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.campaigns import counters
from pulsecrm.db import bulk_update, bulk_upsert, one_of, utcnow
from pulsecrm.delivery.models import Delivery, ParkedReceipt
from pulsecrm.errors import Unauthorized
from pulsecrm.validation import Timestamp

WINDOW_SECONDS = 300
deliveries_t: sa.Table = Delivery.__table__  # type: ignore[assignment]
parked_t: sa.Table = ParkedReceipt.__table__  # type: ignore[assignment]


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]
    status: Literal["delivered", "failed"]
    occurred_at: Timestamp
    reason: Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")] | None = None


class ReceiptBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipts: list[Receipt] = Field(min_length=1, max_length=10_000)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value a sender puts on `body` (used by the mock vendor and the tests)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret: str, header: str | None, body: bytes, *, now: float | None = None) -> None:
    """Raise Unauthorized unless the header signs `body` with `secret`, recently."""
    if not header:
        raise Unauthorized("missing X-Pulse-Signature header")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp, given = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not given:
        raise Unauthorized("malformed X-Pulse-Signature header: expected t=<unix>,v1=<hex>")
    if abs((time.time() if now is None else now) - int(timestamp)) > WINDOW_SECONDS:
        raise Unauthorized("signature timestamp outside the 5-minute window")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise Unauthorized("signature does not match")


@dataclass(frozen=True)
class Applied:
    applied: int
    duplicates: int
    parked: int


def _first_per_message(receipts: list[Receipt]) -> dict[str, Receipt]:
    """One receipt per message: the earliest outcome wins, as it would have arrived first."""
    first: dict[str, Receipt] = {}
    for r in sorted(receipts, key=lambda r: r.occurred_at):
        first.setdefault(r.message_id, r)
    return first


async def apply(conn: AsyncConnection, receipts: list[Receipt]) -> Applied:
    """Apply receipts in the caller's transaction: deliveries, campaign counters, completion."""
    by_message = _first_per_message(receipts)
    query = sa.select(Delivery.id, Delivery.campaign_id, Delivery.status, Delivery.vendor_message_id).where(
        one_of(conn, deliveries_t.c.vendor_message_id, list(by_message))
    )
    if conn.dialect.name != "sqlite":
        query = query.order_by(Delivery.id).with_for_update()
    found = (await conn.execute(query)).all()
    now = utcnow()
    updates, changes = [], counters.deltas()
    duplicates = 0
    for delivery_id, campaign_id, status, message_id in found:
        receipt = by_message[str(message_id)]
        if status not in ("sent", "unknown"):
            duplicates += 1  # already final: receipts never move a delivery backwards
            continue
        updates.append(
            {
                "id": delivery_id,
                "status": receipt.status,
                "error": receipt.reason,
                "finished_at": receipt.occurred_at,
                "updated_at": now,
            }
        )
        changes[campaign_id][status] -= 1
        changes[campaign_id][receipt.status] += 1
    await bulk_update(conn, deliveries_t, updates, key="id")
    await counters.apply_deltas(conn, changes, now)
    known = {message_id for *_, message_id in found}
    parked = [
        {
            "message_id": r.message_id,
            "status": r.status,
            "reason": r.reason,
            "occurred_at": r.occurred_at,
            "received_at": now,
        }
        for mid, r in sorted(by_message.items())
        if mid not in known
    ]
    await bulk_upsert(conn, parked_t, parked, key="message_id")
    return Applied(
        applied=len(updates), duplicates=duplicates + len(receipts) - len(by_message), parked=len(parked)
    )
