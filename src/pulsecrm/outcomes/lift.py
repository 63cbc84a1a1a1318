"""The lift of a campaign over its control group, with a 95% confidence interval.

The interval is Newcombe's hybrid score interval for the difference of two independent
proportions (Newcombe 1998, method 10): a Wilson score interval for each group's conversion
rate, combined. Unlike the plain Wald interval it stays inside [-1, 1] and keeps its coverage
with few conversions or small groups, which is where a marketer's first holdout tests live.
The result is significant when the interval leaves out zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EN_DASH = "\u2013"
Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    if trials <= 0:
        raise ValueError("wilson needs at least one trial")
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Lift:
    absolute: float  # treatment rate - control rate
    relative: float | None  # absolute / control rate; None when control converted no one
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def lift(treated_converted: int, treated: int, control_converted: int, control: int) -> Lift | None:
    """None when either group is empty: there is nothing to compare."""
    if treated <= 0 or control <= 0:
        return None
    p1, p2 = treated_converted / treated, control_converted / control
    l1, u1 = wilson(treated_converted, treated)
    l2, u2 = wilson(control_converted, control)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Lift(absolute=d, relative=d / p2 if p2 > 0 else None, low=low, high=high)


def sentence(result: Lift) -> str:
    """The line for people: "+2.1 pts conversion, 95% CI 0.8-3.4, significant" (en dash)."""
    verdict = "significant" if result.significant else "not significant"
    return (
        f"{result.absolute * 100:+.1f} pts conversion, 95% CI "
        f"{result.low * 100:.1f}{EN_DASH}{result.high * 100:.1f}, {verdict}"
    )
