"""The default engine: this package's parser and the composer, no network."""

from __future__ import annotations

from datetime import datetime

from pulsecrm.ai import composer
from pulsecrm.ai.base import SegmentAnswer
from pulsecrm.ai.composer import AudienceSummary, Variant
from pulsecrm.ai.offline.parser import rules_from_text
from pulsecrm.segments.catalog import Catalog


class OfflineEngine:
    """The default engine: this module's parser and the composer, no network."""

    name = "offline"

    async def rules_from_text(
        self, prompt: str, catalog: Catalog, *, now: datetime | None = None
    ) -> SegmentAnswer:
        parsed = rules_from_text(prompt, catalog, now=now)
        return SegmentAnswer(parsed.rules, self.name, parsed.not_understood, parsed.notes)

    async def message_variants(
        self, goal: str, audience: AudienceSummary, channel: str, count: int
    ) -> list[Variant]:
        return composer.compose(goal, audience, channel, count)
