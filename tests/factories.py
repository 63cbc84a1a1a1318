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


def shop(n: int = 30, *, email: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`n` customers c000… alternating Mumbai and Pune, each with a phone (and an e-mail if
    asked) and one order of 100 * (i + 1)."""
    people = [
        customer(
            external_id=f"c{i:03}",
            name=f"Person {i:03}",
            city=["Mumbai", "Pune"][i % 2],
            phone=f"+91 90000 3{i:04d}",
            **({"email": f"p{i}@example.com"} if email else {}),
        )
        for i in range(n)
    ]
    orders = [
        order(external_id=f"o{i}", customer_external_id=f"c{i:03}", amount=f"{100 * (i + 1)}.00")
        for i in range(n)
    ]
    return people, orders
