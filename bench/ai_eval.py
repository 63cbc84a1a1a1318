"""The offline AI engine on the prompt corpus and the tuning set: accuracy by audience, latency.

Accuracy is semantic: a prompt counts as right when its tree matches exactly the same
customers as the expected tree on a fixed, seeded synthetic data set (tests/ai/evaluation.py),
using the reference evaluator of the segment tests. The tuning set (tests/ai/tuning.py) holds
issue 14's failure kinds; the held-out set (tests/ai/heldout.py) is scored apart, by
bench/ai_heldout.py. Latency is timed over several passes of the corpus and the tuning
set, after one warm-up call that compiles the grammar. Prints one JSON object.

    .venv/bin/python bench/ai_eval.py [--passes 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the corpus and its data set live with the tests

from tests.ai.corpus import CORPUS, NOW  # noqa: E402
from tests.ai.evaluation import catalog, run, score  # noqa: E402
from tests.ai.test_summary import generated  # noqa: E402
from tests.ai.tuning import TUNING  # noqa: E402

from pulsecrm.ai import summary  # noqa: E402
from pulsecrm.ai.offline import NotUnderstood, rules_from_text  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=5, help="timed passes over the corpus")
    args = parser.parse_args()

    report = run()
    tuning = score(TUNING)
    cat = catalog()
    latencies: list[float] = []
    for _ in range(args.passes):
        for prompt, _expected in CORPUS + TUNING:
            started = time.perf_counter()
            with contextlib.suppress(NotUnderstood):
                rules_from_text(prompt, cat, now=NOW)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    # The floor: the plainest prompt, one condition, timed the same way in the same run.
    floor: list[float] = []
    for _ in range(args.passes * 50):
        started = time.perf_counter()
        rules_from_text("spent over 5k", cat, now=NOW)
        floor.append((time.perf_counter() - started) * 1000)
    # The performance summary: every number grounded in its facts, over 50 generated campaigns.
    grounded = sum(
        not summary.ungrounded(" ".join(summary.sentences(generated(seed))), generated(seed))
        for seed in range(50)
    )
    result = {
        "cores": os.cpu_count(),
        "prompts": report.prompts,
        "accuracy": round(report.accuracy, 4),
        "tuning_prompts": tuning.prompts,
        "tuning_accuracy": round(tuning.accuracy, 4),
        "tuning_silent_wrong": tuning.silent,
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "max_ms": round(latencies[-1], 3),
        "floor_p50_ms": round(statistics.median(floor), 3),
        # each prompt once, before the typo corrector's cache has seen its words
        "first_pass_p95_ms": round(report.percentile(0.95), 3),
        "summary_grounded": f"{grounded}/50",
        "silent_wrong": report.silent,
        "flagged_prompts_unflagged": report.unflagged,
        "failures": report.failures,
        "tuning_failures": tuning.failures,
    }
    text = json.dumps(result, ensure_ascii=False)
    print(text)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "ai_eval.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
