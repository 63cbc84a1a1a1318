"""The vendor's memory: idempotency keys, message ids, outcomes and counters (in RAM; the keys
also in the key log when there is one, read back at start)."""

from __future__ import annotations

import contextlib
import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, TextIO

from pulsecrm.vendor.config import VendorSettings
from pulsecrm.vendor.receipts import Receipt
from pulsecrm.vendor.schemas import Message, SendResult

Fault = Literal["500", "429", "timeout"]
FAILURE_REASONS: dict[str, tuple[str, ...]] = {
    "sms": ("invalid number", "carrier rejected", "unreachable", "blocked by recipient", "spam filtered"),
    "email": ("mailbox full", "unknown mailbox", "blocked by recipient", "unreachable", "spam filtered"),
}


@dataclass(frozen=True)
class Outcome:
    """What will happen to an accepted message, and after how long."""

    receipt: Receipt
    delay: float  # seconds from acceptance


@dataclass
class Stats:
    accepted: int = 0
    duplicates: int = 0
    receipts_sent: int = 0
    requests: int = 0
    errors_injected: dict[str, int] = field(default_factory=lambda: {"500": 0, "429": 0, "timeout": 0})


class KeyLog:
    """Newly accepted keys as JSON lines, written before the send is answered, so a crash test can
    compare what was acknowledged with what the vendor kept."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._file: TextIO | None = None  # opened on first use, so an app never started leaks nothing

    def write(self, accepted: list[SendResult]) -> None:
        if not accepted:
            return
        if self._file is None:
            self._file = self._path.open("a", encoding="utf-8")
        self._file.write("".join(r.model_dump_json() + "\n" for r in accepted))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class VendorState:
    def __init__(self, settings: VendorSettings) -> None:
        self.settings = settings
        # Separate streams, so a seeded run's outcomes do not depend on how many faults were drawn.
        self._outcomes = random.Random(settings.seed)
        self._faults = random.Random(None if settings.seed is None else f"{settings.seed}:faults")
        self._engagement = random.Random(None if settings.seed is None else f"{settings.seed}:engagement")
        self.message_ids: dict[str, str] = {}
        self.times_seen: dict[str, int] = {}
        self.stats = Stats()
        self.log = KeyLog(settings.log_path) if settings.log_path else None
        if settings.log_path:
            self._remember(Path(settings.log_path))

    def _remember(self, path: Path) -> None:
        """Keys accepted before a restart stay known, as a real provider's do: a retry after the
        vendor came back is a duplicate with the same message id, not a second message."""
        if not path.exists():
            return
        line = "\n"
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                # A line torn by a kill mid-write is skipped: that send was never answered.
                with contextlib.suppress(ValueError):
                    result = SendResult.model_validate_json(line)
                    self.message_ids.setdefault(result.idempotency_key, result.message_id)
        if not line.endswith("\n"):
            with path.open("a", encoding="utf-8") as log:
                log.write("\n")  # so the next key starts a line of its own

    def draw_fault(self) -> Fault | None:
        """Decide, once per send request and before anything is accepted, whether it misbehaves."""
        self.stats.requests += 1
        s, roll = self.settings, self._faults.random()
        fault: Fault | None = None
        if roll < s.error_500_rate:
            fault = "500"
        elif roll < s.error_500_rate + s.error_429_rate:
            fault = "429"
        elif roll < s.error_500_rate + s.error_429_rate + s.timeout_rate:
            fault = "timeout"
        if fault:
            self.stats.errors_injected[fault] += 1
        return fault

    def accept(self, messages: list[Message]) -> tuple[list[SendResult], list[Outcome]]:
        """Results in request order, and the outcomes of the messages new to us.

        No await in here: the check and the insert of a key are one step for the event loop, so
        two concurrent requests with the same key cannot both count as new.
        """
        results: list[SendResult] = []
        outcomes: list[Outcome] = []
        new: list[SendResult] = []
        for message in messages:
            key = message.idempotency_key
            self.times_seen[key] = self.times_seen.get(key, 0) + 1
            known = self.message_ids.get(key)
            if known is not None:
                self.stats.duplicates += 1
                results.append(SendResult(idempotency_key=key, message_id=known, duplicate=True))
                continue
            # Ids are never seeded: a restarted vendor must not hand out an id it gave before.
            message_id = f"vm_{secrets.token_hex(12)}"
            self.message_ids[key] = message_id
            self.stats.accepted += 1
            result = SendResult(idempotency_key=key, message_id=message_id, duplicate=False)
            results.append(result)
            new.append(result)
            outcomes += self._outcomes_of(message_id, message.channel)
        if self.log is not None:
            self.log.write(new)
        return results, outcomes

    def _outcomes_of(self, message_id: str, channel: str) -> list[Outcome]:
        """Delivered or failed; and, of the delivered, opened and clicked ones a while later."""
        s, rng = self.settings, self._outcomes
        delay = rng.uniform(s.min_delay_ms, s.max_delay_ms) / 1000
        accepted = datetime.now(UTC)
        if rng.random() >= s.success_rate:
            failed = Receipt(
                message_id=message_id,
                status="failed",
                occurred_at=accepted + timedelta(seconds=delay),
                reason=rng.choice(FAILURE_REASONS[channel]),
            )
            return [Outcome(receipt=failed, delay=delay)]
        outcomes = [_receipt(message_id, "delivered", accepted, delay)]
        # Its own random stream, so turning engagement on changes no delivery outcome.
        roll, engagement = self._engagement.random(), self._engagement
        if roll < s.open_rate:
            delay += engagement.uniform(s.engagement_min_delay_ms, s.engagement_max_delay_ms) / 1000
            outcomes.append(_receipt(message_id, "opened", accepted, delay))
            if roll < s.click_rate:  # clicks are a subset of opens
                delay += engagement.uniform(s.engagement_min_delay_ms, s.engagement_max_delay_ms) / 1000
                outcomes.append(_receipt(message_id, "clicked", accepted, delay))
        return outcomes

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


def _receipt(
    message_id: str, status: Literal["delivered", "opened", "clicked"], at: datetime, delay: float
) -> Outcome:
    receipt = Receipt(message_id=message_id, status=status, occurred_at=at + timedelta(seconds=delay))
    return Outcome(receipt=receipt, delay=delay)
