"""Posting receipts to the webhook: outcomes fall due after their delay, go out in signed batches,
and a batch is retried with backoff until the webhook takes it, so none is ever dropped."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import time

import httpx

from pulsecrm.vendor.receipts import Receipt, ReceiptBatch, sign
from pulsecrm.vendor.state import Outcome, Stats

log = logging.getLogger(__name__)


class ReceiptSender:
    def __init__(
        self,
        *,
        url: str,
        secret: str,
        stats: Stats,
        batch_size: int = 500,
        linger: float = 0.1,
        retry_initial: float = 0.2,
        retry_max: float = 5.0,
    ) -> None:
        self._url, self._secret, self._stats = url, secret, stats
        self._batch_size, self._linger = batch_size, linger
        self._retry_initial, self._retry_max = retry_initial, retry_max
        # (due on the monotonic clock, tie-breaker, receipt): a heap, so one task serves them all.
        self._due: list[tuple[float, int, Receipt]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._batch: list[Receipt] = []  # collecting or in flight

    @property
    def pending(self) -> int:
        """Receipts scheduled, collecting or in flight: not yet taken by the webhook."""
        return len(self._due) + len(self._batch)

    def schedule(self, outcomes: list[Outcome]) -> None:
        now = time.monotonic()
        for outcome in outcomes:
            heapq.heappush(self._due, (now + outcome.delay, next(self._seq), outcome.receipt))
        if outcomes:
            self._wake.set()

    async def run(self) -> None:
        """Send batches until cancelled, over one client kept for the sender's life."""
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                await self._collect()
                await self._deliver(client, self._batch)
                self._stats.receipts_sent += len(self._batch)
                self._batch = []

    async def _collect(self) -> None:
        """Wait for a receipt to fall due, then collect for up to `linger` or a full batch."""
        batch = self._batch
        deadline = math.inf
        while True:
            now = time.monotonic()
            while self._due and self._due[0][0] <= now and len(batch) < self._batch_size:
                batch.append(heapq.heappop(self._due)[2])
            if batch and deadline == math.inf:
                deadline = now + self._linger
            if len(batch) >= self._batch_size or now >= deadline:
                return
            next_due = self._due[0][0] if self._due else math.inf
            wait = min(next_due, deadline) - now
            # Cleared with no await since the heap was read, so a schedule() is never missed.
            self._wake.clear()
            try:
                async with asyncio.timeout(None if wait == math.inf else wait):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _deliver(self, client: httpx.AsyncClient, batch: list[Receipt]) -> None:
        body = ReceiptBatch(receipts=batch).body()
        backoff = self._retry_initial
        attempt = 0
        while True:
            attempt += 1
            # Signed afresh per attempt: a retry hours later must still be inside the replay window.
            headers = {"Content-Type": "application/json", "X-Pulse-Signature": sign(self._secret, body)}
            try:
                response = await client.post(self._url, content=body, headers=headers)
                if response.is_success:
                    return
                problem = f"answered {response.status_code}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            log.warning(
                "webhook %s %s for %d receipts (attempt %d); retrying in %.1fs",
                self._url,
                problem,
                len(batch),
                attempt,
                backoff,
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._retry_max)
