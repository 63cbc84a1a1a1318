"""Who may be messaged on a channel: consent and reachability as SQL over customers.

The order of precedence is fixed, so each customer left out is counted once, for the first
reason that applies: unsubscribed (from everything), then no consent for the channel
(opted out, or unknown where the store does not message unknown), then no address for it.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from pulsecrm.customers.models import Customer

ChannelName = Literal["sms", "email"]
Exclusion = Literal["unsubscribed", "no_consent", "no_address"]


def consent_column(channel: ChannelName) -> InstrumentedAttribute[str]:
    return Customer.email_consent if channel == "email" else Customer.sms_consent


def address_column(channel: ChannelName) -> InstrumentedAttribute[str | None]:
    return Customer.email if channel == "email" else Customer.phone


def consents(channel: ChannelName, *, message_unknown: bool) -> sa.ColumnElement[bool]:
    """The customer's consent for `channel` allows marketing."""
    allowed = ["opted_in", "unknown"] if message_unknown else ["opted_in"]
    return consent_column(channel).in_(allowed)


def has_address(channel: ChannelName) -> sa.ColumnElement[bool]:
    column = address_column(channel)
    return sa.and_(column.is_not(None), column != "")


def reachable(channel: ChannelName, *, message_unknown: bool) -> sa.ColumnElement[bool]:
    """May be messaged on `channel` now: subscribed, consenting and with an address for it."""
    return sa.and_(
        Customer.unsubscribed_at.is_(None),
        consents(channel, message_unknown=message_unknown),
        has_address(channel),
    )


def exclusions(channel: ChannelName, *, message_unknown: bool) -> dict[Exclusion, sa.ColumnElement[bool]]:
    """Each reason to leave a customer out, as a condition true for exactly those it counts."""
    subscribed = Customer.unsubscribed_at.is_(None)
    consenting = consents(channel, message_unknown=message_unknown)
    return {
        "unsubscribed": Customer.unsubscribed_at.is_not(None),
        "no_consent": sa.and_(subscribed, sa.not_(consenting)),
        "no_address": sa.and_(subscribed, consenting, sa.not_(has_address(channel))),
    }
