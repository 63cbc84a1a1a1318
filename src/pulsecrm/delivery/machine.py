r"""A delivery's life, declared: which event moves which statuses where. Nothing else moves one.

    pending --send--> sent --deliver--> delivered
       |                 \--bounce---> failed
       |--reject--> failed            (sent/unknown --deliver/bounce--> delivered/failed)
       |--give_up--> unknown --deliver/bounce--> ...
       |--cancel--> cancelled          sent --expire--> unknown
       \--cap--> capped   (the store's frequency cap, checked when it is claimed)

Every statement in `delivery.store` that changes a status names its event and guards its
UPDATE with that event's sources, so a transition this table does not list cannot happen,
whatever order receipts, claims, cancels and sweeps run in. The engagement states a later
issue adds (opened, clicked) join here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

Status = Literal["pending", "sent", "delivered", "failed", "unknown", "cancelled", "capped"]
Event = Literal["send", "reject", "give_up", "cancel", "cap", "expire", "deliver", "bounce"]

TRANSITIONS: dict[Event, tuple[frozenset[Status], Status]] = {
    "send": (frozenset({"pending"}), "sent"),  # the transport took it
    "reject": (frozenset({"pending"}), "failed"),  # refused for good, or could not be rendered
    "give_up": (frozenset({"pending"}), "unknown"),  # may have gone out: never sent again
    "cancel": (frozenset({"pending"}), "cancelled"),
    "cap": (frozenset({"pending"}), "capped"),  # the customer had their share of messages
    "expire": (frozenset({"sent"}), "unknown"),  # sent long ago and never confirmed
    "deliver": (frozenset({"sent", "unknown"}), "delivered"),
    "bounce": (frozenset({"sent", "unknown"}), "failed"),
}
FINAL: frozenset[Status] = frozenset({"delivered", "failed", "cancelled", "capped"})


def sources(event: Event) -> list[str]:
    """The statuses `event` moves out of, for the UPDATE's guard."""
    return sorted(TRANSITIONS[event][0])


def target(event: Event) -> Status:
    return TRANSITIONS[event][1]


def move(event: Event, status: str) -> Status | None:
    """Where `event` takes a delivery in `status`, or None when the table does not allow it."""
    allowed, to = TRANSITIONS[event]
    return to if status in allowed else None


class Deltas(defaultdict[int, defaultdict[str, int]]):
    """campaign id -> counter -> change: what a statement did to the campaigns' counters."""

    def __init__(self) -> None:
        super().__init__(lambda: defaultdict(int))

    def moved(self, campaign_id: int, before: str, after: str, n: int = 1) -> None:
        self[campaign_id][before] -= n
        self[campaign_id][after] += n

    def merge(self, other: Deltas) -> Deltas:
        for campaign_id, changes in other.items():
            for name, n in changes.items():
                self[campaign_id][name] += n
        return self
