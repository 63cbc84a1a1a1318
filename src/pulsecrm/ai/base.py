"""The interface both engines implement, and what they answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pulsecrm.ai.composer import AudienceSummary, Variant
from pulsecrm.segments.catalog import Catalog


@dataclass(frozen=True)
class SegmentAnswer:
    rules: dict[str, Any]  # a rule tree, already parsed and checked against the catalog
    engine: str  # "offline" | "model": who answered
    not_understood: list[str] = field(default_factory=list)  # parts of the prompt not used
    notes: list[str] = field(default_factory=list)  # defaults assumed ("90 days assumed")
    fallback_reason: str | None = None  # why the model's answer was not used, when it wasn't


class Engine(Protocol):
    name: str

    async def rules_from_text(
        self, prompt: str, catalog: Catalog, *, now: datetime | None = None
    ) -> SegmentAnswer: ...

    async def message_variants(
        self, goal: str, audience: AudienceSummary, channel: str, count: int
    ) -> list[Variant]: ...
