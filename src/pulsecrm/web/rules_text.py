"""A rule tree as one sentence a marketer reads on a page:
"Total spend over ₹5,000 and (city is Mumbai or Pune, or ordered in the last 30 days)".

Engagement conditions name their campaign: the caller passes the names of those the tree
refers to (`campaign_ids`), and one it does not know reads as "campaign #12"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulsecrm import formatting
from pulsecrm.segments.catalog import CAMPAIGN_CMPS, Catalog

NUMERIC = {"money", "number", "integer"}
NUMBER_CMP = {
    "gt": "over",
    "gte": "at least",
    "lt": "under",
    "lte": "at most",
    "eq": "of",
    "ne": "other than",
}
TEXT_CMP = {"eq": "is", "ne": "is not", "contains": "contains", "starts_with": "starts with"}
# Relative dates in the words people use for the commonest fields.
WITHIN = {"last_order_at": "ordered", "created_at": "signed up", "first_order_at": "first ordered"}
NOT_WITHIN = {
    "last_order_at": "no order",
    "created_at": "signed up before",
    "first_order_at": "no first order",
}


# Engagement: (did it, did not do it) for one message.
DID = {
    "received": ("received", "receive"),
    "opened": ("opened", "open"),
    "clicked": ("clicked in", "click in"),
    "converted": ("bought after", "buy after"),
}


def sentence(tree: dict[str, Any], catalog: Catalog, campaigns: Mapping[int, str] | None = None) -> str:
    if not tree.get("rules"):
        return "Every customer"
    text = _group(tree, catalog, campaigns or {}, top=True)
    return text[:1].upper() + text[1:]


def campaign_ids(tree: dict[str, Any]) -> set[int]:
    """The campaigns a (stored, valid) tree's engagement conditions name."""
    found: set[int] = set()
    for node in tree.get("rules", []):
        if "rules" in node:
            found |= campaign_ids(node)
        elif node.get("cmp") in CAMPAIGN_CMPS and isinstance(node.get("value"), int):
            found.add(node["value"])
    return found


def _group(node: dict[str, Any], catalog: Catalog, campaigns: Mapping[int, str], *, top: bool = False) -> str:
    word = "or" if node.get("op") == "or" else "and"
    parts = [_node(child, catalog, campaigns) for child in _merged(node.get("rules", []), word)]
    separator = f", {word} " if any(f" {word} " in _outside_brackets(p) for p in parts) else f" {word} "
    inner = separator.join(parts)
    if node.get("not"):
        if len(parts) < 2:
            return f"not {inner}"
        return f"none of ({inner})" if word == "or" else f"not all of ({inner})"
    return inner if top or len(parts) < 2 else f"({inner})"


def _node(node: dict[str, Any], catalog: Catalog, campaigns: Mapping[int, str]) -> str:
    return _group(node, catalog, campaigns) if "rules" in node else _condition(node, catalog, campaigns)


def _merged(rules: list[dict[str, Any]], word: str) -> list[dict[str, Any]]:
    """In an OR group, `city is Mumbai` and `city is Pune` read as `city is Mumbai or Pune`."""
    if word != "or":
        return rules
    out: list[dict[str, Any]] = []
    for rule in rules:
        previous = out[-1] if out else None
        if (
            previous is not None
            and rule.get("cmp") in ("eq", "in")
            and previous.get("cmp") in ("eq", "in")
            and rule.get("field") == previous.get("field")
        ):
            out[-1] = {"field": rule["field"], "cmp": "in", "value": _values(previous) + _values(rule)}
        else:
            out.append(rule)
    return out


def _values(rule: dict[str, Any]) -> list[Any]:
    value = rule.get("value")
    return list(value) if isinstance(value, list) else [value]


def _outside_brackets(text: str) -> str:
    depth, kept = 0, []
    for char in text:
        depth += char == "("
        if depth == 0:
            kept.append(char)
        depth -= char == ")"
    return "".join(kept)


def _condition(cond: dict[str, Any], catalog: Catalog, campaigns: Mapping[int, str]) -> str:
    name, cmp, value = cond.get("field", ""), cond.get("cmp", ""), cond.get("value")
    spec = catalog.get(name)
    kind = spec.type if spec else "text"
    if kind == "engagement" and name in DID:
        return _engagement(name, cmp, value, campaigns)
    if kind == "membership":
        return f"{'in' if cmp == 'in_segment' else 'not in'} list segment #{value}"
    label = (spec.label if spec else name).lower()
    shown = _shower(kind)
    if cmp == "is_set":
        return "has ordered" if name == "last_order_at" else f"{label} is known"
    if cmp == "is_not_set":
        return "has never ordered" if name == "last_order_at" else f"{label} is not known"
    if name == "order_count" and cmp == "eq" and value == 0:
        return "has never ordered"
    if cmp == "within_last_days":
        return f"{WITHIN.get(name, label)} in the last {_days(value)}"
    if cmp == "not_within_last_days":
        if name in NOT_WITHIN:
            return f"{NOT_WITHIN[name]} in the last {_days(value)}"
        return f"{label} not in the last {_days(value)}"
    if cmp == "between" and isinstance(value, list) and len(value) == 2:
        return f"{label} between {shown(value[0])} and {shown(value[1])}"
    if cmp in ("in", "not_in"):
        values = _values(cond)
        listed = (
            ", ".join(shown(v) for v in values[:-1]) + (" or " if len(values) > 1 else "") + shown(values[-1])
        )
        return f"{label} {'is' if cmp == 'in' else 'is not'} {listed}"
    if cmp in ("before", "after"):
        return f"{label} {cmp} {shown(value)}"
    if kind in NUMERIC:
        return f"{label} {NUMBER_CMP.get(cmp, cmp)} {shown(value)}"
    if kind == "boolean":
        yes = bool(value) if cmp == "eq" else not bool(value)
        return f"{label}: {'yes' if yes else 'no'}"
    return f"{label} {TEXT_CMP.get(cmp, cmp)} {shown(value)}"


def _engagement(name: str, cmp: str, value: Any, campaigns: Mapping[int, str]) -> str:
    did, do = DID[name]
    if cmp in CAMPAIGN_CMPS:
        campaign = f"“{campaigns[value]}”" if value in campaigns else f"campaign #{value}"
        if cmp == "in_campaign":
            return f"{did} {campaign}"
        if name == "received":
            return f"did not receive {campaign}"
        return f"received {campaign} but did not {do} it"
    days = f"in the last {_days(value)}"
    if cmp == "within_last_days":
        return f"{did} a message {days}"
    if name == "received":
        return f"received no message {days}"
    return f"received messages {days} but {did} none"


def _shower(kind: str) -> Any:
    if kind == "money":
        return formatting.money
    if kind in ("number", "integer"):
        return formatting.number
    if kind == "date":
        return formatting.date_
    return lambda v: str(v)


def _days(value: Any) -> str:
    try:
        days = int(value)
    except (TypeError, ValueError):
        return f"{value} days"
    return "day" if days == 1 else f"{formatting.number(days)} days"
