"""`pulsecrm serve` and `worker` settle their heap once started (pulsecrm.heap); a test process,
which builds an app per test, must not: frozen objects are never collected."""

from __future__ import annotations

import subprocess
import sys

from pulsecrm import heap

SETTLED = """
import gc
from pulsecrm import heap
heap.settle()
print(gc.get_threshold()[0], gc.get_freeze_count() > 0)
"""


def test_settle_freezes_what_exists_and_collects_the_young_less_often() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SETTLED], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == [str(heap.YOUNG_THRESHOLD), "True"]
