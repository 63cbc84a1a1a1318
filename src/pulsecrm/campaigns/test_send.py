"""A test send: the campaign's message, filled in for one customer of its audience, sent once
through the campaign's channel to the person preparing it (their own e-mail address, or a
phone number they type). It is not a delivery: no row in `deliveries`, no counter moves, no
frequency cap or consent applies, and its receipt, keyed by a message id no delivery has,
never settles onto the campaign."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm.auth.service import Principal
from pulsecrm.campaigns import service
from pulsecrm.delivery.channels import Channel, ChannelName, Deferred, OutboundMessage, Rejected
from pulsecrm.delivery.channels.registry import close_channels
from pulsecrm.errors import InvalidInput, PulseError, ServiceUnavailable
from pulsecrm.segments.catalog import Catalog

# The same shape customers' phone numbers are held to (customers.schemas).
PHONE = re.compile(r"^\+?[0-9 ()./-]{5,24}$")
SUBJECT_MARK = "[Test] "


@dataclass(frozen=True)
class TestSent:
    channel: ChannelName
    to: str
    customer_name: str | None  # whose details filled the message; None: an empty audience
    message_id: str


def recipient(channel: ChannelName, who: Principal, phone: str | None) -> str:
    """E-mail goes to the signed-in person's own address; SMS to the number they typed."""
    if channel == "email":
        if who.kind != "user":
            raise PulseError("a test e-mail goes to the signed-in user's own address: sign in to send one")
        return who.name
    number = (phone or "").strip()
    if not number:
        raise InvalidInput.at("body", "phone", "enter the phone number to send the test SMS to")
    if not PHONE.fullmatch(number):
        raise InvalidInput.at(
            "body", "phone", "is not a phone number (digits, spaces and an optional leading +)"
        )
    return number


async def send(
    session: AsyncSession,
    open_channels: Callable[[], Mapping[ChannelName, Channel]],
    *,
    campaign_id: int,
    channel: ChannelName,
    to: str,
    message: str,
    subject: str | None,
    raw_rules: Any,
    segment_id: int | None,
    catalog: Catalog,
) -> TestSent:
    reader, rendered_subject, text = await service.preview_message(
        session,
        message=message,
        subject=subject,
        customer_external_id=None,
        raw_rules=raw_rules,
        segment_id=segment_id,
        catalog=catalog,
    )
    outbound = OutboundMessage(
        # Negative: no delivery has this id, and each test send gets its own idempotency key.
        delivery_id=-time.time_ns(),
        campaign_id=campaign_id,
        channel=channel,
        to=to,
        body=text,
        subject=SUBJECT_MARK + (rendered_subject or "") if channel == "email" else None,
    )
    channels = open_channels()
    try:
        (outcome,) = await channels[channel].send_batch([outbound])
    finally:
        await close_channels(channels)
    if isinstance(outcome, Rejected):
        field = "phone" if channel == "sms" else "to"
        raise InvalidInput(
            f"the test was refused: {outcome.reason}",
            details=[{"loc": ["body", field], "message": outcome.reason}],
        )
    if isinstance(outcome, Deferred):
        raise ServiceUnavailable(f"the test was not sent, try again: {outcome.reason}")
    return TestSent(channel, to, reader.name if reader else None, outcome.message_id)
