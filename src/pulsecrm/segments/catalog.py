"""The field catalog: which fields rules may use, their types, comparators and known values.

Core fields, the engagement fields (what a customer did with the messages sent to them:
`received`, `opened`, `clicked`, `converted`) and `segment` (membership of a list segment) are
fixed. Custom attributes are discovered:
the ingestion writer records each (attribute, JSON type) it sees in `customer_attribute_keys`,
so the catalog costs one small query, not a scan of the customers. Known cities come from a
GROUP BY cached per process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm.customers.models import Customer
from pulsecrm.segments.models import CustomerAttributeKey

NUMBER_CMPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between", "is_set", "is_not_set")
TEXT_CMPS = ("eq", "ne", "contains", "starts_with", "in", "not_in", "is_set", "is_not_set")
DATE_CMPS = ("before", "after", "between", "within_last_days", "not_within_last_days", "is_set", "is_not_set")
BOOLEAN_CMPS = ("eq", "ne", "is_set", "is_not_set")
# Engagement: a campaign's id for the `*_campaign` ones, a number of days for the others.
ENGAGEMENT_CMPS = ("in_campaign", "not_in_campaign", "within_last_days", "not_within_last_days")
CAMPAIGN_CMPS = frozenset({"in_campaign", "not_in_campaign"})
# Membership of a list segment (explicit members): the segment's id is the value.
MEMBERSHIP_CMPS = ("in_segment", "not_in_segment")
COMPARATORS: dict[str, tuple[str, ...]] = {
    "money": NUMBER_CMPS,
    "integer": NUMBER_CMPS,
    "number": NUMBER_CMPS,
    "text": TEXT_CMPS,
    "date": DATE_CMPS,
    "boolean": BOOLEAN_CMPS,
    "engagement": ENGAGEMENT_CMPS,
    "membership": MEMBERSHIP_CMPS,
}
# Comparators that also match customers who have no value for the field.
MATCHES_MISSING = frozenset({"ne", "not_in", "not_within_last_days", "is_not_set"})
ATTRIBUTE_PREFIX = "attributes."
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str
    description: str = ""
    values: tuple[str, ...] = ()
    attribute: str | None = None  # the JSON key, for custom attributes
    # The largest whole number the column holds (order_count is an INTEGER: 32 bits).
    max_integer: int = INT32_MAX

    @property
    def comparators(self) -> tuple[str, ...]:
        return COMPARATORS[self.type]

    @property
    def on_customer(self) -> bool:
        """A value of the customer's row (the snapshot loads it), not a fact about their
        messages or the lists they were saved in."""
        return self.type not in ("engagement", "membership")


CORE_FIELDS = (
    FieldSpec("total_spend", "Total spend", "money", "Sum of all order amounts."),
    FieldSpec("order_count", "Number of orders", "integer"),
    FieldSpec("avg_order_value", "Average order value", "money", "Empty for customers without orders."),
    FieldSpec("first_order_at", "First order", "date"),
    FieldSpec("last_order_at", "Last order", "date"),
    FieldSpec("created_at", "Signed up", "date"),
    FieldSpec("name", "Name", "text"),
    FieldSpec("email", "E-mail", "text"),
    FieldSpec("phone", "Phone", "text"),
    FieldSpec("city", "City", "text"),
    FieldSpec("external_id", "Customer id", "text"),
)
ENGAGEMENT_FIELDS = (
    FieldSpec(
        "received",
        "Received",
        "engagement",
        "Was sent a message (sent, delivered, or unconfirmed after sending; not failed).",
    ),
    FieldSpec(
        "opened", "Opened", "engagement", "Received a message and opened it (a click counts as an open)."
    ),
    FieldSpec("clicked", "Clicked", "engagement", "Received a message and clicked a link in it."),
    FieldSpec("converted", "Converted", "engagement", "Received a message that an order is attributed to."),
)
ENGAGEMENT_NAMES = frozenset(f.name for f in ENGAGEMENT_FIELDS)
MEMBERSHIP_FIELD = FieldSpec(
    "segment",
    "List segment",
    "membership",
    "Is (or is not) one of the customers saved in a list segment, such as a lookalike audience.",
)
_JSON_TO_FIELD = {"string": "text", "number": "number", "boolean": "boolean"}


@dataclass(frozen=True)
class SpendDistribution:
    """Where total spend sits across all customers now, for words like "big spenders"."""

    customers: int
    p10: Decimal  # linear interpolation between ranks, like PostgreSQL's percentile_cont
    p90: Decimal
    # Other percentiles a question asked for ("top 20%", "the median"), by whole percent.
    more: dict[int, Decimal] = field(default_factory=dict, compare=False)

    def at(self, q: int) -> Decimal | None:
        """The q-th percentile of total spend, when it was computed."""
        return {10: self.p10, 90: self.p90}.get(q, self.more.get(q))


def percentile(ordered: list[Decimal], q: float) -> Decimal:
    """The q-th quantile of sorted values, interpolating linearly between neighbours."""
    position = Decimal(str(q)) * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Catalog:
    fields: tuple[FieldSpec, ...]
    # Filled in per question (the AI endpoints), not cached with the fields: see `spend_distribution`.
    spend: SpendDistribution | None = field(default=None, compare=False)
    _by_name: dict[str, FieldSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})

    def get(self, name: str) -> FieldSpec | None:
        return self._by_name.get(name)


def build(attribute_types: dict[str, set[str]], cities: tuple[str, ...] = ()) -> Catalog:
    """The catalog from discovered attributes: a key seen with several types is text if it was
    ever a string, else a number if ever a number."""
    fields = [
        FieldSpec(f.name, f.label, f.type, f.description, cities if f.name == "city" else ())
        for f in CORE_FIELDS
    ]
    fields.extend(ENGAGEMENT_FIELDS)
    fields.append(MEMBERSHIP_FIELD)
    for key in sorted(attribute_types):
        kinds = attribute_types[key]
        json_type = "string" if "string" in kinds else "number" if "number" in kinds else "boolean"
        label = key.replace("_", " ").capitalize()
        fields.append(
            FieldSpec(
                f"{ATTRIBUTE_PREFIX}{key}",
                label,
                _JSON_TO_FIELD[json_type],
                "Custom attribute.",
                attribute=key,
            )
        )
    return Catalog(tuple(fields))


class CatalogCache:
    """Per-process cache: attributes change rarely and a few seconds' staleness is harmless."""

    def __init__(self, ttl: float = 10.0, city_ttl: float = 300.0) -> None:
        self.ttl = ttl
        self.city_ttl = city_ttl
        self._catalog: tuple[float, Catalog] | None = None
        self._cities: tuple[float, tuple[str, ...]] | None = None

    async def get(self, session: AsyncSession) -> Catalog:
        now = time.monotonic()
        if self._catalog is not None and self._catalog[0] > now:
            return self._catalog[1]
        rows = await session.execute(
            sa.select(CustomerAttributeKey.attribute, CustomerAttributeKey.value_type)
        )
        types: dict[str, set[str]] = {}
        for attribute, value_type in rows:
            types.setdefault(attribute, set()).add(value_type)
        catalog = build(types, await self._known_cities(session, now))
        self._catalog = (now + self.ttl, catalog)
        return catalog

    async def _known_cities(self, session: AsyncSession, now: float) -> tuple[str, ...]:
        if self._cities is not None and self._cities[0] > now:
            return self._cities[1]
        rows = await session.execute(
            sa.select(Customer.city)
            .where(Customer.city.is_not(None))
            .group_by(Customer.city)
            .order_by(sa.func.count().desc(), Customer.city)
            .limit(100)
        )
        cities = tuple(str(r[0]) for r in rows)
        self._cities = (now + self.city_ttl, cities)
        return cities

    def invalidate(self) -> None:
        self._catalog = None
        self._cities = None
