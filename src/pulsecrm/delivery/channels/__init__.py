"""Channels: how a rendered message leaves Pulse. One small interface, several transports.

The dispatcher knows nothing of HTTP or SMTP: it hands a channel a batch of messages and gets
one `Sent`, `Rejected` or `Deferred` per message back, in any order, keyed by delivery id.

- `Sent`: the transport took it (with its message id, used to match receipts).
- `Rejected`: permanently refused for this one message (an invalid number, a mailbox the
  server refuses); only that delivery fails.
- `Deferred`: not taken this time for a reason that may pass (unreachable, timeout, 429,
  5xx). `maybe_sent` says the transport may have taken it anyway (the connection broke after
  the message was handed over): on an idempotent channel a retry with the same key is safe;
  on one without idempotency keys (SMTP) that delivery becomes `unknown`, never a resend.

A transport-wide problem is reported per message as `Deferred`; the dispatcher's error
policy sees the whole batch deferred and pauses the campaign instead of burning attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

ChannelName = Literal["sms", "email"]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    delivery_id: int
    campaign_id: int
    channel: ChannelName
    to: str
    body: str
    subject: str | None = None
    # E-mail only: an HTML part beside the plain text (None = plain text only).
    html: str | None = None
    # Where the recipient can opt out in one click (e-mail `List-Unsubscribe`); None = not offered.
    unsubscribe_url: str | None = None

    @property
    def idempotency_key(self) -> str:
        """The same key for every attempt of a delivery, so an idempotent transport sends it once.
        A test send (campaigns.test_send) has a negative id, no delivery behind it."""
        if self.delivery_id < 0:
            return f"pulse-test-{-self.delivery_id}"
        return f"pulse-{self.delivery_id}"


@dataclass(frozen=True, slots=True)
class Sent:
    delivery_id: int
    message_id: str


@dataclass(frozen=True, slots=True)
class Rejected:
    delivery_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Deferred:
    delivery_id: int
    reason: str
    maybe_sent: bool = False
    retry_after: float | None = None  # seconds the transport asked us to wait, if it said


SendOutcome = Sent | Rejected | Deferred


class Channel(Protocol):
    """A transport for one or more channels (`sms`, `email`)."""

    @property
    def name(self) -> str:
        """For logs and pause reasons: "vendor", "smtp"."""
        ...

    @property
    def idempotent(self) -> bool:
        """Whether a repeated send with the same idempotency key is dropped by the transport."""
        ...

    @property
    def gives_receipts(self) -> bool:
        """Whether delivery receipts will arrive for sent messages (else `sent` is final)."""
        ...

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendOutcome]:
        """One outcome per message. Never raises for a transport failure: it defers instead."""
        ...

    async def probe(self) -> str | None:
        """None when the transport answers now, else why not (used to resume a paused campaign)."""
        ...

    async def close(self) -> None: ...
