"""The messaging vendor's HTTP API as a channel (SMS and e-mail): batches of up to 1,000 with an
idempotency key each, receipts later on the signed webhook."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx

from pulsecrm import metrics
from pulsecrm.delivery.channels import Deferred, OutboundMessage, Rejected, SendOutcome, Sent

log = logging.getLogger(__name__)
# Worth trying again later: the vendor is busy, down or confused, not refusing the message.
TRANSIENT_STATUS = {401, 403, 408, 425, 429, 500, 502, 503, 504}


class VendorChannel:
    name = "vendor"
    idempotent = True
    gives_receipts = True

    def __init__(
        self, base_url: str, *, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport, limits=httpx.Limits(max_connections=8)
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def probe(self) -> str | None:
        try:
            response = await self.client.get("/healthz", timeout=2.0)
        except httpx.HTTPError as exc:
            return f"vendor unreachable: {type(exc).__name__}"
        return None if response.is_success else f"vendor answered {response.status_code}"

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendOutcome]:
        outcomes, retry = await self._send(list(messages))
        if retry:
            # The vendor refuses a whole batch for one bad message: send the others again at once.
            more, _ = await self._send(retry)
            outcomes.extend(more)
        return outcomes

    async def _send(self, batch: list[OutboundMessage]) -> tuple[list[SendOutcome], list[OutboundMessage]]:
        """(outcomes, messages to send again without the ones refused)."""
        payload = {"messages": [_wire(m) for m in batch]}
        started = time.perf_counter()
        try:
            response = await self.client.post("/v1/messages/batch", json=payload)
        except httpx.ConnectError as exc:  # never reached the vendor
            metrics.vendor_call(time.perf_counter() - started, "unreachable")
            return [Deferred(m.delivery_id, f"vendor unreachable: {type(exc).__name__}") for m in batch], []
        except httpx.HTTPError as exc:  # sent, no answer: the vendor may have accepted it
            metrics.vendor_call(time.perf_counter() - started, "timeout")
            reason = f"no answer from the vendor: {type(exc).__name__}"
            return [Deferred(m.delivery_id, reason, maybe_sent=True) for m in batch], []
        ok = response.status_code == 200
        metrics.vendor_call(time.perf_counter() - started, None if ok else f"http_{response.status_code}")
        log.info("vendor call: %d messages, answered %d", len(batch), response.status_code)
        if ok:
            ids = {r["idempotency_key"]: r["message_id"] for r in response.json()["results"]}
            return [
                Sent(m.delivery_id, ids[m.idempotency_key])
                if m.idempotency_key in ids
                else Deferred(m.delivery_id, "vendor did not answer for this message", maybe_sent=True)
                for m in batch
            ], []
        reason = f"vendor answered {response.status_code}"
        if response.status_code in TRANSIENT_STATUS or response.status_code >= 500:
            retry_after = _seconds(response.headers.get("retry-after"))
            return [Deferred(m.delivery_id, reason, retry_after=retry_after) for m in batch], []
        refused = _refused_messages(response, len(batch))
        if refused:
            return [
                Rejected(batch[i].delivery_id, f"{reason}: {text}") for i, text in sorted(refused.items())
            ], [m for i, m in enumerate(batch) if i not in refused]
        return [Rejected(m.delivery_id, f"{reason}: {response.text[:200]}") for m in batch], []


def _wire(message: OutboundMessage) -> dict[str, Any]:
    return {
        "idempotency_key": message.idempotency_key,
        "to": message.to,
        "channel": message.channel,
        "subject": message.subject,
        "body": message.body,
    }


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff is long enough


def _refused_messages(response: httpx.Response, size: int) -> dict[int, str]:
    """Which messages a 4xx named (`details[].loc = ["messages", i, ...]`), with why."""
    try:
        details = response.json()["error"]["details"]
    except (ValueError, KeyError, TypeError):
        return {}
    refused: dict[int, str] = {}
    for detail in details if isinstance(details, list) else []:
        loc = detail.get("loc") if isinstance(detail, dict) else None
        if not (isinstance(loc, list) and len(loc) >= 2 and loc[0] == "messages"):
            continue
        if isinstance(loc[1], int) and 0 <= loc[1] < size:
            field = ".".join(str(p) for p in loc[2:]) or "message"
            refused.setdefault(loc[1], f"{field}: {detail.get('message', 'refused')}"[:300])
    return refused
