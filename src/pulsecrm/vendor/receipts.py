"""The receipts the vendor posts, as its documentation would state them: its own copy of the
wire format, so the vendor depends on Pulse's server code for nothing.

Body: `{"receipts": [{"message_id", "status": "delivered"|"failed"|"opened"|"clicked",
"occurred_at" (ISO 8601 with offset), "reason"? (failed only)}, …]}`, at most 10,000 per
request. `opened` and `clicked` come later than `delivered`, each on its own.
Signature: `X-Pulse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` keyed with the
shared webhook secret; receivers refuse timestamps more than 5 minutes off.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_RECEIPTS = 10_000


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str = Field(min_length=1, max_length=100)
    status: Literal["delivered", "failed", "opened", "clicked"]
    occurred_at: AwareDatetime
    reason: str | None = Field(default=None, max_length=500)


class ReceiptBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipts: list[Receipt] = Field(min_length=1, max_length=MAX_RECEIPTS)

    def body(self) -> bytes:
        """The request body: `reason` left out where there is none."""
        return self.model_dump_json(exclude_none=True).encode()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `X-Pulse-Signature` header value for `body`, signed now unless told when."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"
