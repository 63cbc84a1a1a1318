"""Which transport carries each channel, from the settings."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from pulsecrm.config import Settings
from pulsecrm.delivery.channels import Channel, ChannelName
from pulsecrm.delivery.channels.vendor import VendorChannel


def build_channels(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> dict[ChannelName, Channel]:
    """One transport object per kind, shared by the channels it carries (`transport` lets tests
    put a fake vendor behind the real HTTP client)."""
    vendor = VendorChannel(
        settings.vendor_url, timeout=settings.delivery_timeout_seconds, transport=transport
    )
    email: Channel = vendor
    if settings.email_transport == "smtp":
        from pulsecrm.delivery.channels.smtp import smtp_channel  # aiosmtplib only when used

        email = smtp_channel(settings)
    return {"sms": vendor, "email": email}


def gives_receipts(settings: Settings, channel: ChannelName) -> bool:
    """Whether receipts will come for this channel's messages (SMTP sends none)."""
    return not (channel == "email" and settings.email_transport == "smtp")


async def close_channels(channels: Mapping[ChannelName, Channel]) -> None:
    for channel in {id(c): c for c in channels.values()}.values():
        await channel.close()
