"""One plain line per condition of a rule tree, written from the checked tree itself.

Both engines' trees are explained here, so what the user reads always describes what will
run, whichever engine (or model) produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pulsecrm.segments.catalog import Catalog

CMP_TEXT = {
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "eq": "is",
    "ne": "is not",
    "contains": "contains",
    "starts_with": "starts with",
}


@dataclass(frozen=True)
class Line:
    path: str  # JSON path of the node in the tree, e.g. $.rules[1].rules[0]
    text: str


def lines(tree: dict[str, Any], catalog: Catalog) -> list[Line]:
    out: list[Line] = []
    _walk(tree, "$", catalog, out, top=True)
    return out


def summary(tree: dict[str, Any], catalog: Catalog) -> str:
    """The whole tree as one sentence, with brackets where groups nest."""
    body = _sentence(tree, catalog, top=True)
    # "Customers who match: has never ordered." reads; "Customers where has never ordered" did not.
    return f"Customers who match: {body}." if tree.get("rules") else "All customers."


def _walk(node: dict[str, Any], path: str, catalog: Catalog, out: list[Line], *, top: bool = False) -> None:
    if "field" in node:
        out.append(Line(path, describe(node, catalog)))
        return
    if not top or node.get("not"):
        out.append(Line(path, _group_heading(node)))
    for i, child in enumerate(node.get("rules", [])):
        _walk(child, f"{path}.rules[{i}]", catalog, out)


def _group_heading(node: dict[str, Any]) -> str:
    if node.get("not"):
        return "None of these:" if node.get("op") == "or" else "Not all of these:"
    return "Any of these:" if node.get("op") == "or" else "All of these:"


def _sentence(node: dict[str, Any], catalog: Catalog, *, top: bool = False) -> str:
    if "field" in node:
        text = describe(node, catalog)
        return text[:1].lower() + text[1:]
    joiner = " OR " if node.get("op") == "or" else " AND "
    inner = joiner.join(_sentence(n, catalog) for n in node.get("rules", []))
    if node.get("not"):
        return f"NOT ({inner})"
    return inner if top or len(node.get("rules", [])) < 2 else f"({inner})"


def describe(cond: dict[str, Any], catalog: Catalog) -> str:
    name, cmp = cond["field"], cond["cmp"]
    value: Any = cond.get("value")
    spec = catalog.get(name)
    label = spec.label if spec else name
    kind = spec.type if spec else "text"
    special = _special(name, cmp, value)
    if special:
        return special
    if cmp == "is_set":
        return f"{label} is set"
    if cmp == "is_not_set":
        return f"{label} is not set"
    if cmp == "within_last_days":
        return f"{label} in the last {_days(value)}"
    if cmp == "not_within_last_days":
        return f"{label} not in the last {_days(value)} (or never)"
    if cmp in ("before", "after"):
        return f"{label} {cmp} {value}"
    if cmp == "between":
        low, high = value
        return f"{label} between {_fmt(low, kind)} and {_fmt(high, kind)}"
    if cmp in ("in", "not_in"):
        shown = " or ".join(_fmt(v, kind) for v in value)
        return f"{label} is {shown}" if cmp == "in" else f"{label} is not {shown} (or not set)"
    suffix = " (or not set)" if cmp == "ne" else ""
    return f"{label} {CMP_TEXT.get(cmp, cmp)} {_fmt(value, kind)}{suffix}"


def _special(name: str, cmp: str, value: Any) -> str | None:
    """Wordings people recognise for the commonest conditions."""
    if name == "order_count" and cmp == "eq" and value == 0:
        return "Has never ordered"
    if name == "order_count" and cmp == "eq" and value == 1:
        return "Ordered exactly once (one-time buyer)"
    if name == "order_count" and cmp == "gte" and value == 2:
        return "Ordered at least twice (repeat customer)"
    if name == "last_order_at" and cmp == "within_last_days":
        return f"Ordered in the last {_days(value)}"
    if name == "last_order_at" and cmp == "not_within_last_days":
        return f"No order in the last {_days(value)} (includes those who never ordered)"
    if name == "created_at" and cmp == "within_last_days":
        return f"Signed up in the last {_days(value)}"
    if name == "created_at" and cmp == "not_within_last_days":
        return f"Signed up more than {_days(value)} ago"
    return None


def _days(value: Any) -> str:
    days = int(value)
    if days % 365 == 0 and days:
        years = days // 365
        return f"{days} days ({years} year{'s' if years > 1 else ''})"
    if days % 30 == 0 and days:
        months = days // 30
        return f"{days} days ({months} month{'s' if months > 1 else ''})"
    if days % 7 == 0 and days:
        weeks = days // 7
        return f"{days} days ({weeks} week{'s' if weeks > 1 else ''})"
    return f"{days} day{'s' if days != 1 else ''}"


def _fmt(value: Any, kind: str) -> str:
    if kind in ("money", "number", "integer") and not isinstance(value, bool):
        try:
            amount = Decimal(str(value))
        except ArithmeticError:
            return str(value)
        return f"{amount:,f}" if amount != amount.to_integral_value() else f"{int(amount):,}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
