"""Scoring the offline engine on the corpus: same audience on a fixed synthetic data set.

The data set is seeded and built around the corpus's thresholds (amounts at, just under and
just over 5,000; dates on both sides of each cutoff, never on one), so two trees that differ
in meaning almost surely differ in who they match. Membership comes from the plain-Python
reference evaluator the segment tests use, independent of the SQL compiler.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from pulsecrm.ai.offline import NotUnderstood, rules_from_text
from pulsecrm.segments.catalog import Catalog, SpendDistribution, build, percentile
from tests.ai.corpus import CORPUS, FLAGGED, NOW
from tests.segments.reference import FIELD_TYPES, matches

CITIES = [
    "Mumbai",
    "Delhi",
    "Bengaluru",
    "Pune",
    "Hyderabad",
    "Chennai",
    "Kolkata",
    "Kochi",
    "Noida",
    "Nagpur",
]
TIERS = ["bronze", "silver", "gold", "platinum"]
TYPES = FIELD_TYPES | {
    "attributes.tier": "text",
    "attributes.visits": "number",
    "attributes.vip": "boolean",
    "attributes.marketing_opt_in": "boolean",
}
FIRST_NAMES = ["Asha", "Arjun", "Ravi", "Meera", "Zara", "Kabir", "Anika", "Dev", "Priya", "John", "Maria"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "shop.in"]
# Amounts around the corpus's thresholds, so > and >= (and one unit apart) are told apart.
ROUND = [500, 800, 1000, 1200, 2000, 2500, 3000, 5000, 10000, 20000, 50000, 100000, 150000, 250000]
ROUND += [1_200_000, 2_000_000, 10_000_000]


# Day counts the corpus uses as cutoffs: people on both sides of each (and on the day).
BOUNDARY_DAYS = [3, 7, 14, 15, 30, 42, 45, 60, 90, 120, 180, 365, 730]


def _days(rng: random.Random, upto: int) -> int:
    if rng.random() < 0.4:
        return max(0, rng.choice(BOUNDARY_DAYS) + rng.choice([-1, 0, 0, 1]))
    return rng.randint(0, upto)


def _when(days: int) -> str:
    # Six hours off the day, so no moment sits exactly on a "N days ago" cutoff.
    return (NOW - timedelta(days=days, hours=6)).isoformat()


@cache
def dataset(size: int = 2000, seed: int = 20261115) -> tuple[dict[str, Any], ...]:
    rng = random.Random(seed)
    people = []
    for n in range(size):
        first = rng.choice(FIRST_NAMES)
        orders = rng.choice([0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 10, 12, 20])
        if orders == 0:
            spend = Decimal(0)
        elif rng.random() < 0.6:
            spend = Decimal(rng.choice(ROUND) + rng.choice([-1, 0, 0, 1]))
        else:
            spend = Decimal(rng.randint(100, 300_000))
        joined = _days(rng, rng.choice([40, 1200]))
        last = _days(rng, joined) if orders else None
        first_order = _days(rng, joined) if last is not None else None
        if last is not None and first_order is not None:
            last, first_order = min(last, first_order), max(last, first_order)
            joined = max(joined, first_order)
        attributes: dict[str, Any] = {}
        if rng.random() < 0.7:
            attributes["tier"] = rng.choice(TIERS)
        if rng.random() < 0.8:
            attributes["visits"] = rng.randint(0, 40)
        if rng.random() < 0.5:
            attributes["vip"] = rng.random() < 0.3
        if rng.random() < 0.9:
            attributes["marketing_opt_in"] = rng.random() < 0.7
        people.append(
            {
                "external_id": f"C{n:05d}",
                "name": f"{first} {rng.choice(['Rao', 'Shah', 'Iyer', 'Smith'])}",
                "email": None if rng.random() < 0.1 else f"{first.lower()}{n}@{rng.choice(DOMAINS)}",
                "phone": None if rng.random() < 0.2 else f"+91 9{rng.randint(100000000, 999999999)}",
                "city": None if rng.random() < 0.05 else rng.choice(CITIES),
                "attributes": attributes,
                "created_at": _when(joined),
                "total_spend": str(spend),
                "order_count": orders,
                "avg_order_value": str((spend / orders).quantize(Decimal("0.01"))) if orders else None,
                "first_order_at": _when(first_order) if first_order is not None else None,
                "last_order_at": _when(last) if last is not None else None,
            }
        )
    return tuple(people)


def spend_distribution() -> SpendDistribution:
    """The data set's spend percentiles, as the AI endpoints compute them from the database."""
    ordered = sorted(Decimal(p["total_spend"]) for p in dataset())
    more = {q: _spend_at(q) for q in range(1, 100) if q not in (10, 90)}  # as if asked for each
    return SpendDistribution(len(ordered), percentile(ordered, 0.1), percentile(ordered, 0.9), more)


def catalog() -> Catalog:
    cat = build(
        {"tier": {"string"}, "visits": {"number"}, "vip": {"boolean"}, "marketing_opt_in": {"boolean"}},
        tuple(CITIES),
    )
    return replace(cat, spend=spend_distribution())


# Expected trees may name the data-driven thresholds by placeholder (see tests/ai/tuning.py).
def resolve(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v) for v in node]
    if isinstance(node, str) and re.fullmatch(r"P\d{1,2}", node):
        return _spend_at(int(node[1:]))
    return node


@cache
def _spend_at(q: int) -> Decimal:
    """The q-th percentile of total spend on the data set, as the engine computes it."""
    return percentile(sorted(Decimal(p["total_spend"]) for p in dataset()), q / 100)


def audience(tree: dict[str, Any]) -> frozenset[str]:
    return frozenset(p["external_id"] for p in dataset() if matches(tree, p, now=NOW, types=TYPES))


@dataclass
class Report:
    prompts: int = 0
    correct: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)  # wrong and nothing flagged
    unflagged: list[str] = field(default_factory=list)  # FLAGGED prompts answered without a flag

    @property
    def accuracy(self) -> float:
        return self.correct / self.prompts if self.prompts else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def run() -> Report:
    """The corpus, and its prompts the engine must flag."""
    return score(CORPUS, FLAGGED)


def score(cases: Sequence[tuple[str, dict[str, Any] | None]], flagged: list[str] | None = None) -> Report:
    """Same-audience accuracy of the offline engine on (prompt, expected tree) pairs.

    An expected tree of None is a prompt the rule language cannot say: right when the engine
    refuses it or flags a part of it, silently wrong when it answers with nothing flagged.
    """
    report = Report()
    cat = catalog()
    # The first call compiles the catalog's grammar: time prompts, not compilation.
    rules_from_text("spent over 5k", cat, now=NOW)
    for prompt, raw in cases:
        report.prompts += 1
        if raw is None:
            started = time.perf_counter()
            try:
                parsed = rules_from_text(prompt, cat, now=NOW)
            except NotUnderstood:
                parsed = None
            report.latencies_ms.append((time.perf_counter() - started) * 1000)
            if parsed is None or parsed.not_understood:
                report.correct += 1
            else:
                report.failures.append({"prompt": prompt, "got": parsed.rules, "expected": None})
                report.silent.append(prompt)
            continue
        expected = resolve(raw)
        want = expected if "op" in expected and "not" not in expected else {"op": "and", "rules": [expected]}
        started = time.perf_counter()
        try:
            parsed = rules_from_text(prompt, cat, now=NOW)
        except NotUnderstood as exc:
            report.latencies_ms.append((time.perf_counter() - started) * 1000)
            report.failures.append({"prompt": prompt, "got": None, "refused": exc.message})
            continue
        report.latencies_ms.append((time.perf_counter() - started) * 1000)
        if audience(parsed.rules) == audience(want):
            report.correct += 1
            continue
        report.failures.append(
            {"prompt": prompt, "got": parsed.rules, "not_understood": parsed.not_understood}
        )
        if not parsed.not_understood:
            report.silent.append(prompt)
    for prompt in flagged or []:
        try:
            parsed = rules_from_text(prompt, cat, now=NOW)
        except NotUnderstood:
            continue
        if not parsed.not_understood:
            report.unflagged.append(prompt)
    return report
