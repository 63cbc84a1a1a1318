"""Lookalike audiences: rank the customers outside a seed by how much they resemble it.

The method, chosen to be explained in one paragraph to a marketer:

1. Features per customer: total spend, order count and average order value (log scale: spend
   is heavy-tailed), days since the last order (never ordered = the longest gap seen), days
   since joining, the city (as its affinity to the seed: log of the city's share of the seed
   over its share of everyone, smoothed), and each numeric and boolean custom attribute.
2. Each feature is standardised over everyone scanned (z-scores), so a rupee and a day weigh
   alike.
3. The seed's centroid in that space is how far its average sits from everyone's, in standard
   deviations: a feature's weight is that distance (capped), so what sets the seed apart
   decides the ranking and what the seed shares with everyone barely counts. Those are the
   *drivers* shown, with the seed's typical value beside everyone's.
4. A customer's distance is the weighted root-mean-square of their difference from the
   centroid, in units of the seed's own spread (floored, so a seed that is all one value does
   not make every other value infinitely far). Similarity = exp(-distance² / 2): about 0.6
   for a typical seed member, 1 at the centroid.

All of it is column arithmetic in numpy over the frames `segments.engine.read_frame` loads
(money in cents, times in microseconds, text lower-cased), with no loop over customers.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm import formatting
from pulsecrm.campaigns.models import Campaign
from pulsecrm.customers.models import Customer
from pulsecrm.errors import InvalidInput
from pulsecrm.outcomes import service as outcome_service
from pulsecrm.segments import service as segment_service
from pulsecrm.segments.catalog import Catalog, FieldSpec
from pulsecrm.segments.compiler import micros
from pulsecrm.segments.engine import read_frame
from pulsecrm.segments.models import Segment

Array = np.ndarray[Any, np.dtype[np.float64]]

DAY_MICROS = 86_400 * 1_000_000
MAX_WEIGHT = 3.0  # a feature where the seed sits 3+ standard deviations away counts no more
MIN_WEIGHT = 0.05  # ... and one where it sits at everyone's average still counts a little
MIN_SPREAD = 0.1  # the seed's spread is floored at a tenth of everyone's standard deviation
CITY_PRIOR = 50  # see _city_affinity
# A driver differs from everyone by at least this many standard deviations, and by three
# standard errors of a seed's mean (3 / sqrt(seed size)): a random seed has no drivers.
DRIVER_MIN = 0.2
MAX_DRIVERS = 5
MAX_ATTRIBUTES = 30  # numeric and boolean custom attributes used, in catalog order
METHOD = (
    "Features (spend, orders and order value on a log scale, days since the last order, days since "
    "joining, the city's share of the seed over its share of everyone, numeric and boolean custom "
    "attributes) are z-scored over everyone scanned. Each feature weighs as much as the seed's "
    "average differs from everyone's (in standard deviations, capped at 3); a customer's distance "
    "is the weighted root-mean-square of their gap to the seed's average, in units of the seed's own "
    "spread; similarity = exp(-distance²/2)."
)
CORE = ("total_spend", "order_count", "avg_order_value", "last_order_at", "created_at", "city")


@dataclass(frozen=True)
class Driver:
    feature: str  # the catalog field it comes from
    label: str
    weight: float  # share of the ranking's total weight, 0-1
    difference: float  # seed average minus everyone's, in standard deviations
    seed_value: str  # typical value in the seed, as shown
    base_value: str  # ... and among everyone scanned
    text: str


@dataclass(frozen=True)
class Ranking:
    ids: list[int]  # candidates, most similar first (at most the size asked)
    similarity: list[float]  # of each, 0-1
    drivers: list[Driver]
    seed_size: int
    candidates: int  # customers outside the seed that were ranked


def fields_for(catalog: Catalog) -> list[FieldSpec]:
    """The catalog fields a lookalike reads: the core ones and numeric and boolean attributes."""
    core = [spec for name in CORE if (spec := catalog.get(name)) is not None]
    attributes = [
        spec for spec in catalog.fields if spec.attribute is not None and spec.type in ("number", "boolean")
    ]
    return core + attributes[:MAX_ATTRIBUTES]


@dataclass(frozen=True)
class _Feature:
    field: str
    label: str
    values: Array  # transformed, one per row (seed rows first)
    show: str  # how a typical value is shown: money, count, days, share, number, city


def _column(frame: pl.DataFrame, name: str) -> Array:
    return frame[name].cast(pl.Float64).to_numpy().astype(np.float64)


def _features(
    frame: pl.DataFrame, specs: Sequence[FieldSpec], seed_rows: int, now: datetime
) -> list[_Feature]:
    now_us = micros(now)
    out: list[_Feature] = []
    by_name = {spec.name: spec for spec in specs}
    if "total_spend" in by_name:
        spend = np.nan_to_num(_column(frame, "total_spend")) / 100
        out.append(_Feature("total_spend", "Total spend", np.log1p(np.maximum(spend, 0)), "money"))
    if "order_count" in by_name:
        orders = np.nan_to_num(_column(frame, "order_count"))
        out.append(_Feature("order_count", "Number of orders", np.log1p(np.maximum(orders, 0)), "count"))
    if "avg_order_value" in by_name:
        aov = np.nan_to_num(_column(frame, "avg_order_value")) / 100  # no orders: nothing per order
        out.append(_Feature("avg_order_value", "Average order value", np.log1p(np.maximum(aov, 0)), "money"))
    if "last_order_at" in by_name:
        recency = (now_us - _column(frame, "last_order_at")) / DAY_MICROS
        finite = recency[~np.isnan(recency)]
        longest = float(finite.max()) if finite.size else 0.0
        out.append(
            _Feature("last_order_at", "Days since last order", np.nan_to_num(recency, nan=longest), "days")
        )
    if "created_at" in by_name:
        tenure = (now_us - _column(frame, "created_at")) / DAY_MICROS
        out.append(_Feature("created_at", "Days since joining", np.nan_to_num(tenure, nan=0.0), "days"))
    if "city" in by_name:
        out.append(_Feature("city", "City", _city_affinity(frame["city"], seed_rows), "city"))
    for spec in specs:
        if spec.attribute is None:
            continue
        raw = _column(frame, spec.name)
        if spec.type == "boolean":
            out.append(_Feature(spec.name, spec.label, np.nan_to_num(raw, nan=0.0), "share"))
        else:
            present = raw[~np.isnan(raw)]
            if present.size:
                out.append(
                    _Feature(
                        spec.name, spec.label, np.nan_to_num(raw, nan=float(np.median(present))), "number"
                    )
                )
    return out


def _city_affinity(city: pl.Series, seed_rows: int) -> Array:
    """log(share of the seed in the customer's city / share of everyone there). The seed's share
    is shrunk towards everyone's (CITY_PRIOR customers' worth), and a seed member's own city is
    counted without them (leave one out): otherwise any seed, even a random one, would sit
    above everyone on this feature just because it was computed from the seed. No city is a
    value of its own."""
    _, codes = np.unique(city.fill_null("\x00").to_numpy(), return_inverse=True)
    k = int(codes.max()) + 1 if codes.size else 1
    base_share = np.bincount(codes, minlength=k) / len(codes)
    seed = np.bincount(codes[:seed_rows], minlength=k).astype(np.float64)
    seed_share = (seed + CITY_PRIOR * base_share) / (seed_rows + CITY_PRIOR)
    lift: Array = np.log(seed_share / base_share)[codes]
    own = codes[:seed_rows]
    others = (seed[own] - 1 + CITY_PRIOR * base_share[own]) / (seed_rows - 1 + CITY_PRIOR)
    lift[:seed_rows] = np.log(others / base_share[own])
    return lift


def rank(
    seed: pl.DataFrame,
    candidates: pl.DataFrame,
    specs: Sequence[FieldSpec],
    *,
    now: datetime,
    size: int,
    city_names: dict[str, str] | None = None,
) -> Ranking:
    """The `size` candidates nearest the seed. Both frames have "id" and a column per spec, in
    the units `segments.engine.read_frame` loads; `candidates` holds no seed member."""
    if seed.height == 0 or candidates.height == 0:
        return Ranking([], [], [], seed.height, candidates.height)
    frame = pl.concat([seed.select(candidates.columns), candidates], how="vertical_relaxed")
    n_seed = seed.height
    features = _features(frame, specs, n_seed, now)
    matrix = np.column_stack([f.values for f in features])
    mean, sd = matrix.mean(axis=0), matrix.std(axis=0)
    varies = sd > 1e-9
    features = [f for f, keep in zip(features, varies, strict=True) if keep]
    if not features:  # everyone looks alike: no way to tell who resembles the seed
        return Ranking([], [], [], n_seed, candidates.height)
    z = (matrix[:, varies] - mean[varies]) / sd[varies]
    centroid = z[:n_seed].mean(axis=0)
    spread = np.maximum(z[:n_seed].std(axis=0), MIN_SPREAD)
    weight = np.clip(np.abs(centroid), MIN_WEIGHT, MAX_WEIGHT)
    gap = (z[n_seed:] - centroid) / spread
    distance = np.sqrt((gap**2 * weight).sum(axis=1) / weight.sum())
    ids = candidates["id"].to_numpy()
    order = np.lexsort((ids, distance))[:size]  # nearest first; ties by id, so answers repeat
    similarity = np.exp(-(distance[order] ** 2) / 2)
    drivers = _drivers(features, frame, n_seed, centroid, weight, city_names or {})
    return Ranking(
        ids=[int(i) for i in ids[order]],
        similarity=[round(float(s), 4) for s in similarity],
        drivers=drivers,
        seed_size=n_seed,
        candidates=candidates.height,
    )


def _drivers(
    features: list[_Feature],
    frame: pl.DataFrame,
    n_seed: int,
    centroid: Array,
    weight: Array,
    city_names: dict[str, str],
) -> list[Driver]:
    total = float(weight.sum())
    order = np.argsort(-np.abs(centroid), kind="stable")
    least = max(DRIVER_MIN, 3 / math.sqrt(n_seed))
    out = []
    for i in order[:MAX_DRIVERS]:
        if abs(centroid[i]) < least:
            break
        feature = features[int(i)]
        seed_value, base_value, text = _typical(feature, frame, n_seed, float(centroid[i]), city_names)
        out.append(
            Driver(
                feature=feature.field,
                label=feature.label,
                weight=round(float(weight[i]) / total, 3),
                difference=round(float(centroid[i]), 2),
                seed_value=seed_value,
                base_value=base_value,
                text=text,
            )
        )
    return out


def _typical(
    feature: _Feature, frame: pl.DataFrame, n_seed: int, difference: float, city_names: dict[str, str]
) -> tuple[str, str, str]:
    """The seed's typical value and everyone's, shown, and a sentence saying how they differ."""
    direction = "higher" if difference > 0 else "lower"
    if feature.show == "city":
        city = frame["city"].fill_null("")
        top = city[:n_seed].value_counts(sort=True)["city"][0]
        seed_share = float((city[:n_seed] == top).mean() or 0)
        base_share = float((city == top).mean() or 0)
        name = city_names.get(top, top.title()) if top else "no city"
        seed_value, base_value = f"{seed_share:.0%} in {name}", f"{base_share:.0%} in {name}"
        text = f"City: {seed_share:.0%} of the seed live in {name}, against {base_share:.0%} of everyone."
        return seed_value, base_value, text
    if feature.show == "share":
        seed_share = float(np.mean(feature.values[:n_seed] > 0.5))
        base_share = float(np.mean(feature.values > 0.5))
        seed_value, base_value = f"{seed_share:.0%} yes", f"{base_share:.0%} yes"
        text = f"{feature.label}: yes for {seed_share:.0%} of the seed, against {base_share:.0%} of everyone."
        return seed_value, base_value, text
    seed_raw = _raw(feature, feature.values[:n_seed])
    base_raw = _raw(feature, feature.values)
    seed_value, base_value = _shown(feature.show, seed_raw), _shown(feature.show, base_raw)
    text = f"{feature.label}: typically {seed_value} in the seed, against {base_value} for everyone"
    return seed_value, base_value, f"{text} ({direction})."


def _raw(feature: _Feature, values: Array) -> float:
    """The median, back on the feature's own scale (undoing the log of spend and counts)."""
    median = float(np.median(values))
    return math.expm1(median) if feature.show in ("money", "count") else median


def _shown(show: str, value: float) -> str:
    if show == "money":
        return formatting.money(round(value))
    if show == "days":
        return f"{formatting.number(round(value))} days"
    if show == "count":
        return formatting.number(round(value, 1) if value < 10 else round(value))
    return formatting.number(round(value, 2))


# --- the seed and the scan, from the database ---------------------------------------------------

MAX_SIZE = 10_000  # customers a lookalike returns (and saves) at most
MAX_SEED = 50_000  # seed members read; a larger seed is read as an even sample by id
MAX_SCAN = 200_000  # customers outside the seed ranked; more are sampled the same way


@dataclass(frozen=True)
class Seed:
    kind: Literal["segment", "campaign"]
    id: int
    name: str
    where: sa.ColumnElement[bool]
    field: str  # the request field that named it, for errors


@dataclass(frozen=True)
class Lookalike:
    seed: Seed
    ranking: Ranking
    seed_total: int  # seed members in all (`ranking.seed_size` were read)
    outside_total: int  # customers outside the seed in all (`ranking.candidates` were ranked)

    @property
    def sampled(self) -> bool:
        return self.ranking.seed_size < self.seed_total or self.ranking.candidates < self.outside_total


async def seed_of(
    session: AsyncSession, catalog: Catalog, *, segment_id: int | None, campaign_id: int | None, now: datetime
) -> Seed:
    """The seed's customers as a filter: a saved segment's audience now, or a campaign's
    converters (customers with an order attributed to one of its messages)."""
    if (segment_id is None) == (campaign_id is None):
        raise InvalidInput.at(
            "body", "segment_id", "give the seed as `segment_id` or as `campaign_id` (exactly one)"
        )
    if segment_id is not None:
        segment = await session.get(Segment, segment_id)
        if segment is None:
            raise InvalidInput.at("body", "segment_id", f"no segment with id {segment_id}")
        _, where = await segment_service.audience_filter(session, segment.rules, catalog, now=now)
        return Seed("segment", segment.id, segment.name, where, "segment_id")
    assert campaign_id is not None
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise InvalidInput.at("body", "campaign_id", f"no campaign with id {campaign_id}")
    where = Customer.external_id.in_(outcome_service.converters(campaign_id))
    return Seed("campaign", campaign.id, campaign.name, where, "campaign_id")


async def _count(session: AsyncSession, where: sa.ColumnElement[bool]) -> int:
    return int(await session.scalar(sa.select(sa.func.count()).select_from(Customer).where(where)) or 0)


def _even_sample(where: sa.ColumnElement[bool], total: int, cap: int) -> sa.ColumnElement[bool]:
    """`where`, thinned to about `cap` rows by taking every k-th id: deterministic, and spread
    over old and new customers alike."""
    if total <= cap:
        return where
    return sa.and_(where, Customer.id % math.ceil(total / cap) == 0)


async def find(session: AsyncSession, catalog: Catalog, *, seed: Seed, size: int, now: datetime) -> Lookalike:
    """Rank the customers outside the seed; the `size` most similar come back, best first."""
    specs = fields_for(catalog)
    outside = sa.not_(seed.where)
    seed_total, outside_total = await _count(session, seed.where), await _count(session, outside)
    if seed_total == 0:
        what = "segment matches" if seed.kind == "segment" else "campaign has converted"
        empty = f"the seed is empty: nobody this {what} yet, so there is nobody to resemble"
        raise InvalidInput.at("body", seed.field, empty)
    conn = await session.connection()
    seed_frame = await read_frame(conn, specs, _even_sample(seed.where, seed_total, MAX_SEED), limit=MAX_SEED)
    outside_frame = await read_frame(
        conn, specs, _even_sample(outside, outside_total, MAX_SCAN), limit=MAX_SCAN
    )
    city = catalog.get("city")
    names = {v.lower(): v for v in city.values} if city else {}
    ranking = await asyncio.to_thread(
        rank, seed_frame, outside_frame, specs, now=now, size=size, city_names=names
    )
    return Lookalike(seed, ranking, seed_total, outside_total)
