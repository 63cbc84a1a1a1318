"""Synthetic customers with a planted cluster, for lookalike tests and bench/lookalike.py.

The background is a mixed base of customers in eight cities. The cluster resembles itself:
mostly in Pune, more and larger orders, ordering lately, more loyalty points, often VIP; every
one of those also occurs in the background, so the cluster overlaps it rather than standing
apart on one feature. Part of the cluster is the seed; the rest is what a lookalike should
find. The same records serve as API payloads and as the frame `ai.lookalike.rank` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from pulsecrm.segments import catalog as catalog_mod
from pulsecrm.segments.compiler import micros

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CITIES = ["Mumbai", "Delhi", "Bengaluru", "Pune", "Chennai", "Kolkata", "Hyderabad", "Jaipur"]


@dataclass
class Record:
    external_id: str
    city: str | None
    created_at: datetime
    attributes: dict[str, Any]
    orders: list[tuple[Decimal, datetime]] = field(default_factory=list)
    cluster: bool = False


@dataclass(frozen=True)
class Planted:
    records: list[Record]
    seed: list[str]  # external ids of the seed (part of the cluster)
    hidden: list[str]  # the rest of the cluster: what a lookalike of the seed should find


def planted(*, background: int, cluster: int, seed: int, rng_seed: int = 14, now: datetime = NOW) -> Planted:
    rng = np.random.default_rng(rng_seed)
    records = [_customer(rng, f"bg{i}", now, cluster=False) for i in range(background)]
    members = [_customer(rng, f"cl{i}", now, cluster=True) for i in range(cluster)]
    records.extend(members)
    # Interleave, so ids carry no hint of who is in the cluster.
    order = rng.permutation(len(records))
    records = [records[i] for i in order]
    return Planted(records, [m.external_id for m in members[:seed]], [m.external_id for m in members[seed:]])


def _customer(rng: np.random.Generator, external_id: str, now: datetime, *, cluster: bool) -> Record:
    if cluster:
        city = "Pune" if rng.random() < 0.6 else str(rng.choice(CITIES))
        tenure = int(rng.integers(150, 700))
        n_orders = int(rng.poisson(7)) + 1
        amount_mu, amount_sigma = np.log(2200), 0.5
        recent_days = 45  # orders spread over the last 45 days
        points: float | None = float(round(rng.normal(550, 150)))
        vip = bool(rng.random() < 0.55)
    else:
        city = None if rng.random() < 0.05 else str(rng.choice(CITIES))
        tenure = int(rng.integers(30, 1500))
        n_orders = int(rng.poisson(3))
        amount_mu, amount_sigma = np.log(900), 0.8
        recent_days = tenure
        points = None if rng.random() < 0.1 else float(round(rng.normal(220, 140)))
        vip = bool(rng.random() < 0.1)
    created = now - timedelta(days=tenure, hours=int(rng.integers(0, 24)))
    attributes: dict[str, Any] = {"vip": vip}
    if points is not None:
        attributes["loyalty_points"] = points
    span = min(recent_days, tenure)
    orders = []
    for _ in range(n_orders):
        amount = Decimal(str(round(float(rng.lognormal(amount_mu, amount_sigma)), 2)))
        at = now - timedelta(days=float(rng.uniform(0.5, max(span, 1))))
        orders.append((amount, at))
    return Record(external_id, city, created, attributes, orders, cluster)


def catalog() -> catalog_mod.Catalog:
    return catalog_mod.build({"loyalty_points": {"number"}, "vip": {"boolean"}}, tuple(CITIES))


def frame(records: list[Record], ids: dict[str, int] | None = None) -> pl.DataFrame:
    """The records as `segments.engine.read_frame` would load them (cents, microseconds,
    lower-cased city); `ids` maps external ids to customer ids (default: position + 1)."""
    rows = []
    for i, r in enumerate(records):
        total = sum((a for a, _ in r.orders), Decimal(0))
        count = len(r.orders)
        rows.append(
            {
                "id": ids[r.external_id] if ids else i + 1,
                "total_spend": int(total * 100),
                "order_count": count,
                "avg_order_value": int(total * 100 / count) if count else None,
                "first_order_at": micros(min(at for _, at in r.orders)) if count else None,
                "last_order_at": micros(max(at for _, at in r.orders)) if count else None,
                "created_at": micros(r.created_at),
                "city": r.city.lower() if r.city else None,
                "attributes.loyalty_points": r.attributes.get("loyalty_points"),
                "attributes.vip": r.attributes.get("vip"),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "id": pl.Int64,
            "total_spend": pl.Int64,
            "order_count": pl.Int64,
            "avg_order_value": pl.Int64,
            "first_order_at": pl.Int64,
            "last_order_at": pl.Int64,
            "created_at": pl.Int64,
            "city": pl.String,
            "attributes.loyalty_points": pl.Float64,
            "attributes.vip": pl.Boolean,
        },
    )


def customer_payloads(records: list[Record]) -> list[dict[str, Any]]:
    return [
        {
            "external_id": r.external_id,
            "name": f"Customer {r.external_id}",
            "phone": f"+91 9{i:09d}",
            "city": r.city,
            "created_at": r.created_at.isoformat(),
            "attributes": r.attributes,
        }
        for i, r in enumerate(records)
    ]


def order_payloads(records: list[Record]) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"{r.external_id}-o{j}",
            "customer_external_id": r.external_id,
            "amount": str(amount),
            "ordered_at": at.isoformat(),
        }
        for r in records
        for j, (amount, at) in enumerate(r.orders)
    ]


def precision(found: list[str], hidden: list[str]) -> float:
    """Of the customers found, the share from the hidden part of the cluster."""
    return len(set(found) & set(hidden)) / len(found) if found else 0.0
