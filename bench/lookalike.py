"""Lookalike audiences on planted clusters: precision at N and the time the ranking takes.

Each case plants a cluster in a background of customers (`tests/ai/planted.py`: mostly in
Pune, more and larger orders, recent, more loyalty points, often VIP, each overlapping the
background), seeds a lookalike with part of the cluster and asks for N = the rest of it.
Precision at N = the share of the N found that belong to the hidden rest (issue 14's figure:
≥ 0.8). Ranking time is `ai.lookalike.rank` alone (features, z-scores, distances, drivers) on
frames already in memory, best of three; the API adds reading them from the database. Prints
one JSON object.

    .venv/bin/python bench/lookalike.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the planted data set lives with the tests

from tests.ai import planted as p  # noqa: E402

from pulsecrm.ai.lookalike import fields_for, rank  # noqa: E402

# (background, cluster, seed): the cluster is 20%, 7% and 3% of the customers.
CASES = [(1_000, 250, 100), (10_000, 800, 300), (100_000, 3_000, 1_000)]
RNG_SEEDS = (1, 2, 3, 4, 5)


def main() -> None:
    specs = fields_for(p.catalog())
    cases = []
    for background, cluster, seed in CASES:
        precisions, seconds = [], []
        for rng_seed in RNG_SEEDS:
            data = p.planted(background=background, cluster=cluster, seed=seed, rng_seed=rng_seed)
            frame = p.frame(data.records)
            in_seed = pl.Series([r.external_id in set(data.seed) for r in data.records])
            external = dict(zip(frame["id"].to_list(), (r.external_id for r in data.records), strict=True))
            seed_frame, outside = frame.filter(in_seed), frame.filter(~in_seed)
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                ranking = rank(seed_frame, outside, specs, now=p.NOW, size=len(data.hidden))
                best = min(best, time.perf_counter() - started)
            precisions.append(p.precision([external[i] for i in ranking.ids], data.hidden))
            seconds.append(best)
        cases.append(
            {
                "customers": background + cluster,
                "seed": seed,
                "n": cluster - seed,
                "precision_at_n_mean": round(statistics.mean(precisions), 3),
                "precision_at_n_min": round(min(precisions), 3),
                "rank_ms_median": round(statistics.median(seconds) * 1000, 1),
                "drivers": [d.text for d in ranking.drivers],  # of the last data set
            }
        )
    result = {
        "cores": os.cpu_count(),
        "data_sets_per_case": len(RNG_SEEDS),
        "target_precision_at_n": 0.8,
        "precision_at_n_min": min(c["precision_at_n_min"] for c in cases),
        "cases": cases,
    }
    text = json.dumps(result, ensure_ascii=False)
    print(text)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "lookalike.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
