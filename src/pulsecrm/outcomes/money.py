"""Outcome counters keep money in integer minor units (exact, and counters stay integers)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def to_minor(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def minor_to_text(minor: int | Decimal) -> str:
    """12345 -> "123.45": the API's decimal-string money (half-up to the paisa)."""
    return str((Decimal(minor) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
