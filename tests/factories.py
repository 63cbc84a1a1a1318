"""Small keyword-only builders of API payloads."""

from __future__ import annotations

from typing import Any


def customer(*, external_id: str = "c1", name: str = "Asha Rao", **fields: Any) -> dict[str, Any]:
    return {"external_id": external_id, "name": name, **fields}


def order(
    *,
    external_id: str = "o1",
    customer_external_id: str = "c1",
    amount: str = "100.00",
    ordered_at: str = "2026-03-01T10:00:00+05:30",
    **fields: Any,
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "customer_external_id": customer_external_id,
        "amount": amount,
        "ordered_at": ordered_at,
        **fields,
    }
