"""The pieces the grammar produces: one condition per matched phrase, and how to build one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

Node = dict[str, Any]

DEFAULT_LAPSED_DAYS = 90
DEFAULT_RECENT_DAYS = 30
DEFAULT_NEW_DAYS = 30


@dataclass
class Atom:
    start: int
    end: int
    node: Node
    cities: tuple[str, ...] = ()  # a place condition that may merge with its neighbours
    negated: bool = False
    bare: bool = False  # a place name with no preposition ("… or Pune")
    weak: bool = False  # dropped when another condition names the same field
    note: str | None = None
    pending: tuple[str, Any] | None = None  # a comparison whose field the parser fills in
    money: bool = False  # the pending value was written as money ("10k", "₹500")
    times: bool = False  # the pending value counts times ("3 times"): never an amount
    # the pending value had no comparator of its own, after an "or" ("more than 5k in Pune or
    # 10k in Mumbai"): it takes the comparator of the comparison before it too
    inherit: bool = False
    # A period with no field of its own ("… from Delhi this month"): ("days", n), ("more", n)
    # or ("less", n) for one said with a comparison ("(> 60 days)"), or ("range", (first,
    # last)); the parser gives it to the vague date word it qualifies.
    when: tuple[str, Any] | None = None


def _cond(name: str, cmp: str, value: Any = None) -> Node:
    node: Node = {"field": name, "cmp": cmp}
    if cmp not in ("is_set", "is_not_set"):
        node["value"] = value
    return node


def _and(*nodes: Node) -> Node:
    return {"op": "and", "rules": list(nodes)}


def _place_atom(m: re.Match[str], values: tuple[str, ...], *, negated: bool, bare: bool) -> Atom:
    if len(values) == 1:
        node = _cond("city", "ne" if negated else "eq", values[0])
    else:
        node = _cond("city", "not_in" if negated else "in", list(values))
    return Atom(m.start(), m.end(), node, cities=values, negated=negated, bare=bare)


def _iso(day: date) -> str:
    return day.isoformat()


def _range_node(name: str, rel: str, span: tuple[date, date], today: date) -> Node:
    first, last = span
    if rel in ("since", "on or after"):
        return _cond(name, "after", _iso(first - timedelta(days=1)))
    if rel == "after":
        return _cond(name, "after", _iso(last))
    if rel in ("before", "prior to"):
        return _cond(name, "before", _iso(first))
    if rel in ("until", "till", "on or before"):
        return _cond(name, "before", _iso(last + timedelta(days=1)))
    if last >= today:
        # "this month": everything since the first, including what comes later today.
        return _cond(name, "after", _iso(first - timedelta(days=1)))
    return _cond(name, "between", [_iso(first), _iso(last)])
