"""The garbage collector, set for a process that runs for days: `pulsecrm serve` and `worker`.

CPython's cyclic collector walks every tracked object of the older generations now and then.
A web or stream worker holds a few hundred thousand long-lived objects (modules, the ORM's
metadata, compiled statements), and a batch of records makes tens of thousands of short-lived
ones, so the default thresholds (700 allocations) ran a full walk every few batches: a third
of the worker's decoding time in `bench/profile_worker.py`. What exists once the process has
started is frozen out of those walks, and the youngest generation is collected less often.
Only the CLI's processes call this: frozen objects are never collected, which a test process
that builds an app per test cannot afford.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between collections of the youngest generation


def settle() -> None:
    """Freeze what the started process holds, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
