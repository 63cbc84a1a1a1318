"""The error policy: when a campaign's transport keeps deferring, pause the campaign instead of
using up its audience's attempts, and say why.

A campaign pauses after `after_failed_batches` consecutive batches the transport deferred
whole, or when more than `error_rate` of its messages in the last `window_seconds` were
deferred (with at least that many batches seen, so one bad batch of three messages is not a
rate). Each worker keeps its own tally; whichever sees the fault first pauses the campaign,
which stops every worker's claims for it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Tally:
    consecutive: int = 0
    recent: deque[tuple[float, int, int]] = field(default_factory=deque)  # (at, messages, deferred)


class ErrorPolicy:
    def __init__(
        self,
        *,
        after_failed_batches: int,
        error_rate: float,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.after_failed_batches = after_failed_batches
        self.error_rate = error_rate
        self.window_seconds = window_seconds
        self._clock = clock
        self._tallies: dict[int, _Tally] = {}

    def observe(self, campaign_id: int, *, messages: int, deferred: int, reason: str | None) -> str | None:
        """Count one batch; the pause reason when the campaign should pause now, else None."""
        if messages <= 0:
            return None
        tally = self._tallies.setdefault(campaign_id, _Tally())
        now = self._clock()
        tally.consecutive = tally.consecutive + 1 if deferred >= messages else 0
        tally.recent.append((now, messages, deferred))
        while tally.recent and tally.recent[0][0] < now - self.window_seconds:
            tally.recent.popleft()
        total = sum(m for _, m, _ in tally.recent)
        failed = sum(d for _, _, d in tally.recent)
        why = reason or "the transport deferred the messages"
        if tally.consecutive >= self.after_failed_batches:
            return f"{why} ({tally.consecutive} batches in a row)"
        if len(tally.recent) >= self.after_failed_batches and failed > self.error_rate * total:
            return f"{why} ({failed:,} of {total:,} messages deferred in {self.window_seconds:g} s)"
        return None

    def forget(self, campaign_id: int) -> None:
        """Start afresh (after a pause, or a resume)."""
        self._tallies.pop(campaign_id, None)
