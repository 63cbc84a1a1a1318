"""Delivery receipts: the signed webhook's checks, and the set-based applier.

Signature: `X-Pulse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` with the
shared webhook secret, compared in constant time, and refused outside a 5-minute window so a
captured request cannot be replayed later.

Applying them is `delivery.store.apply_receipts`: idempotent and forward-only.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pulsecrm.errors import Unauthorized
from pulsecrm.validation import DbId, Timestamp

WINDOW_SECONDS = 300


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]
    # delivered/failed settle the message; opened/clicked are engagement, marked beside it.
    status: Literal["delivered", "failed", "opened", "clicked"]
    occurred_at: Timestamp
    reason: Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")] | None = None


OUTCOMES = ("delivered", "failed")


class Engagement(BaseModel):
    """An open or click we saw ourselves (tracked link, open pixel): it names the delivery, as
    our own signed token does, instead of the vendor's message id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delivery_id: DbId
    kind: Literal["opened", "clicked"]
    occurred_at: Timestamp
    link_id: int = Field(default=0, ge=0, le=2**62)


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
