"""A plain-Python reference for segment membership, used only by tests.

It decides, for one customer as the API returns it, whether a rule tree matches, following
the documented semantics independently of the SQL compiler: text compares case-insensitively,
`between` is inclusive, a plain date as an upper bound means the end of that day, a missing
value (or an attribute of another JSON type) fails positive comparators and passes `ne`,
`not_in`, `not_within_last_days` and `is_not_set`, and an empty group matches everyone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

FIELD_TYPES = {
    "total_spend": "money",
    "avg_order_value": "money",
    "order_count": "integer",
    "first_order_at": "date",
    "last_order_at": "date",
    "created_at": "date",
    "name": "text",
    "email": "text",
    "phone": "text",
    "city": "text",
    "external_id": "text",
}


def matches(tree: dict[str, Any], customer: dict[str, Any], *, now: datetime, types: dict[str, str]) -> bool:
    results = [
        matches(node, customer, now=now, types=types)
        if "rules" in node or "op" in node
        else _condition(node, customer, now, types)
        for node in tree.get("rules", [])
    ]
    if not results:
        result = True
    elif tree.get("op", "and") == "and":
        result = all(results)
    else:
        result = any(results)
    return not result if tree.get("not", False) else result


def _value(customer: dict[str, Any], field: str, field_type: str) -> Any:
    if field.startswith("attributes."):
        raw = customer["attributes"].get(field.removeprefix("attributes."))
        if field_type == "number":
            return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        if field_type == "boolean":
            return raw if isinstance(raw, bool) else None
        return raw if isinstance(raw, str) else None
    raw = customer[field]
    if raw is None:
        return None
    if field_type == "money":
        return Decimal(raw)
    if field_type == "date":
        return datetime.fromisoformat(raw)
    return raw


def _when(raw: str, *, upper: bool) -> datetime:
    if len(raw) == 10:
        start = datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
        return start + timedelta(days=1) - timedelta(microseconds=1) if upper else start
    return datetime.fromisoformat(raw)


def _scalar(field_type: str, raw: Any) -> Any:
    if field_type == "money":
        return Decimal(str(raw))
    if field_type == "number":
        return float(raw)
    return raw


def _condition(node: dict[str, Any], customer: dict[str, Any], now: datetime, types: dict[str, str]) -> bool:
    field, cmp, raw = node["field"], node["cmp"], node.get("value")
    field_type = types[field]
    v = _value(customer, field, field_type)
    if field_type == "text" and v is not None:
        v = v.lower()
        raw = (
            [x.lower() for x in raw]
            if isinstance(raw, list)
            else raw.lower()
            if isinstance(raw, str)
            else raw
        )
    if cmp == "is_set":
        return v is not None
    if cmp == "is_not_set":
        return v is None
    if cmp in ("ne", "not_in", "not_within_last_days") and v is None:
        return True
    if v is None:
        return False
    if cmp == "within_last_days":
        return bool(v >= now - timedelta(days=raw))
    if cmp == "not_within_last_days":
        return bool(v < now - timedelta(days=raw))
    if field_type == "date":
        if cmp == "before":
            return bool(v < _when(raw, upper=False))
        if cmp == "after":
            return bool(v > _when(raw, upper=True))
        return bool(_when(raw[0], upper=False) <= v <= _when(raw[1], upper=True))
    if cmp == "between":
        return bool(_scalar(field_type, raw[0]) <= v <= _scalar(field_type, raw[1]))
    if cmp in ("in", "not_in"):
        found = v in {_scalar(field_type, x) for x in raw}
        return found if cmp == "in" else not found
    if cmp == "contains":
        return raw in v
    if cmp == "starts_with":
        return bool(v.startswith(raw))
    x = _scalar(field_type, raw)
    return bool({"eq": v == x, "ne": v != x, "gt": v > x, "gte": v >= x, "lt": v < x, "lte": v <= x}[cmp])
