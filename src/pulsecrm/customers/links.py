"""One-click unsubscribe links: `{public_url}/u/{token}`, signed so nobody can forge one.

A token is `<customer id>.<channel>.<signature>`, the signature an HMAC-SHA256 of the first two
parts under a key derived from PULSECRM_SESSION_SECRET (so one secret serves sessions and
links, yet a session cookie can never pass for a link). The link names no person, address or
campaign; it is checked in constant time and it never expires, as RFC 8058 expects of a
`List-Unsubscribe` target. Without a session secret a random key is used, and the links a
process makes stop working when it restarts: set the secret wherever messages are sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from functools import cache
from typing import get_args

from pulsecrm.config import Settings
from pulsecrm.customers.consent import ChannelName

log = logging.getLogger(__name__)

CHANNELS: frozenset[str] = frozenset(get_args(ChannelName))
_PURPOSE = b"pulsecrm one-click unsubscribe v1"


@dataclass(frozen=True)
class Unsubscribe:
    customer_id: int
    channel: ChannelName


@cache
def _fallback_key() -> bytes:
    log.warning(
        "PULSECRM_SESSION_SECRET is unset: unsubscribe and tracked links work only until this "
        "process restarts, and only in this process"
    )
    return secrets.token_bytes(32)


def derive_key(settings: Settings, purpose: bytes) -> bytes:
    """A key for one purpose, derived from PULSECRM_SESSION_SECRET (so one secret serves every
    signed thing, yet what is signed for one purpose never passes for another)."""
    secret = (
        settings.session_secret.get_secret_value().encode() if settings.session_secret else _fallback_key()
    )
    return hmac.new(secret, purpose, hashlib.sha256).digest()


def _key(settings: Settings) -> bytes:
    return derive_key(settings, _PURPOSE)


def _signature(key: bytes, customer: str, channel: str) -> str:
    digest = hmac.new(key, f"{customer}.{channel}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def unsubscribe_token(settings: Settings, customer_id: int, channel: ChannelName) -> str:
    return f"{customer_id}.{channel}.{_signature(_key(settings), str(customer_id), channel)}"


def unsubscribe_url(settings: Settings, customer_id: int, channel: ChannelName) -> str:
    """The address a message's unsubscribe link (and `List-Unsubscribe` header) points to."""
    return f"{settings.public_url.rstrip('/')}/u/{unsubscribe_token(settings, customer_id, channel)}"


def read_token(settings: Settings, token: str) -> Unsubscribe | None:
    """Who and which channel a token stands for, or None unless it is one we signed."""
    customer, _, rest = token.partition(".")
    channel, _, signature = rest.partition(".")
    if not customer.isascii() or not customer.isdigit() or len(customer) > 19 or channel not in CHANNELS:
        return None
    expected = _signature(_key(settings), customer, channel)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return None
    return Unsubscribe(int(customer), channel)  # type: ignore[arg-type]  # checked against CHANNELS
