"""Auto-tags for a campaign, read from its audience rules and its message, no model needed.

Each tag has two kinds of evidence: a condition in the rule tree (a lapsed window says
win-back, a recent sign-up says new-customers) and words in the message and subject ("we miss
you", "% off", "left in your cart"). Either is enough. The marketer can edit the result; the
history is filterable by tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal, get_args

from pulsecrm.ai.composer import OCCASIONS

Tag = Literal["win-back", "high-value", "new-customers", "festive-sale", "loyalty", "reminder", "upsell"]
TAGS: tuple[str, ...] = get_args(Tag)
TAGS_IN_ORDER: tuple[Tag, ...] = (
    "win-back",
    "high-value",
    "new-customers",
    "festive-sale",
    "loyalty",
    "reminder",
    "upsell",
)

HIGH_SPEND = 10_000  # a spend floor at or above this reads as a high-value audience
_OCCASIONS = "|".join(re.escape(o.lower()) for o in OCCASIONS)
WORDS: dict[str, re.Pattern[str]] = {
    "win-back": re.compile(
        r"miss you|come back|been a while|win ?back|welcome you back|haven't seen you", re.I
    ),
    "high-value": re.compile(r"most valued|valued customer|\bvip\b|premium|exclusive", re.I),
    "new-customers": re.compile(
        r"\bwelcome\b(?! you back| back)|first order|just joined|glad you joined", re.I
    ),
    "festive-sale": re.compile(
        rf"\d+ ?% off|\bsale\b|discount|cashback|\boffer\b|₹ ?\d[\d,]* off|{_OCCASIONS}", re.I
    ),
    "loyalty": re.compile(r"thank you|thanks|\bloyal|reward|points|customers like you", re.I),
    "reminder": re.compile(
        r"remind|left (?:something|in your cart|behind)|your cart|back in stock|expir", re.I
    ),
    "upsell": re.compile(r"upgrade|goes perfectly|complete the set|you'll love|recommend|pairs well", re.I),
}


def suggest(rules: dict[str, Any], message: str, subject: str | None = None) -> list[Tag]:
    """The tags a campaign's audience and words support, in the fixed order of `TAGS`."""
    found = set(_from_rules(rules))
    text = f"{subject or ''}\n{message}"
    found.update(tag for tag, words in WORDS.items() if words.search(text))
    return [t for t in TAGS_IN_ORDER if t in found]


def _from_rules(node: dict[str, Any], *, negated: bool = False) -> Iterator[str]:
    if "field" not in node:
        flip = negated != bool(node.get("not", False))
        for child in node.get("rules", []):
            yield from _from_rules(child, negated=flip)
        return
    field, cmp, value = node["field"], node["cmp"], node.get("value")
    if negated:
        return  # "not new customers" says nothing we can tag
    if field == "last_order_at" and cmp == "not_within_last_days":
        yield "win-back"
    if field in ("created_at", "first_order_at") and cmp in ("within_last_days", "after"):
        yield "new-customers"
    if field == "order_count" and cmp in ("eq", "lte", "lt") and isinstance(value, int) and value <= 1:
        yield "new-customers"
    if field == "order_count" and cmp in ("gte", "gt") and isinstance(value, int) and value >= 2:
        yield "loyalty"
    if field in ("total_spend", "avg_order_value") and cmp in ("gte", "gt") and _number(value) >= HIGH_SPEND:
        yield "high-value"


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
