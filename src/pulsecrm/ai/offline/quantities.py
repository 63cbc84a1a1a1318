"""Comparisons with a value: "more than 5k", "5k+", "between 2 and 4", parsed into (cmp, value)."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pulsecrm.ai import words as w
from pulsecrm.ai.offline.atoms import Node, _cond
from pulsecrm.ai.offline.lexicon import _CMP_OF, _POST_OF, CMP, POST, _alt

_BOUND_WORDS = "more|less|fewer|above|below|over|under|higher|lower"
# Comparators by direction: a second bound on the same field goes the other way ("more than
# 2k and less than 5k"); one the same way starts another condition ("at least 1500 and more
# than 3 orders" is two fields).
_UP = _alt(p for p, cmp in _CMP_OF.items() if cmp in ("gt", "gte"))
_DOWN = _alt(p for p, cmp in _CMP_OF.items() if cmp in ("lt", "lte"))
_SCALE = re.compile(rf"(?:^|\s)(?:{w.MULTIPLIER_WORDS})(?: {w.CURRENCY_AFTER})?$")
_UNSCALED = re.compile(r"^[\d.,]+$|^[a-z ]+$")


def quantity(value: str, *, alternatives: bool = False) -> str:
    """A comparison with a value: 'more than 5k', '5k+', 'between 2k and 5k', '3 to 5'.

    With `alternatives`, also two values either way: '2 or 3 (orders)', each exactly."""
    either = ""
    if alternatives:
        either = rf"|(?P<one>{value}) or (?P<other>{value})(?! (?:{_BOUND_WORDS}))"
    return (
        rf"(?:(?:between|from|btw|btwn) (?P<lo>{value}) (?:and|to|or|through|thru) (?P<hi>{value})"
        rf"|(?P<lo2>{value}) (?:to|through|thru) (?P<hi2>{value}){either}"
        rf"|(?:(?P<cmp>(?P<up>{_UP})|(?P<dn>{_DOWN})|{CMP}) )?"
        rf"(?P<val>{value})(?: (?P<post>{POST})(?! than| [\d₹$]))?)"
        # "more than 5k but less than 10k": a second bound on the same field, only after a
        # first comparator ("25,000 and at least 4 orders" is two fields)
        rf"(?(cmp)(?: (?:and|but|yet|,|, but|, and) (?:(?:is|was|are) )?"
        rf"(?(up)(?={_DOWN})|(?(dn)(?={_UP})|(?!)))(?P<cmp2>{CMP}) (?P<val2>{value}))?)"
    )


def _compare(
    m: re.Match[str], parse: Callable[[str], Decimal | None], *, bare: str
) -> tuple[str, Any] | None:
    """(comparator, JSON value) from a `quantity` match; `bare` is the comparator of '5k' alone."""
    groups = m.groupdict()
    if groups.get("one") and groups.get("other"):
        one, other = parse(groups["one"]), parse(groups["other"])
        if one is None or other is None:
            return None
        return "or", [("eq", w.plain(one)), ("eq", w.plain(other))]
    lo, hi = groups.get("lo") or groups.get("lo2"), groups.get("hi") or groups.get("hi2")
    if lo and hi:
        low, high = parse(lo), parse(hi)
        if low is None or high is None:
            return None
        low = _scaled(lo, low, hi, high)
        return "between", [w.plain(min(low, high)), w.plain(max(low, high))]
    value = parse(m["val"])
    if value is None:
        return None
    if groups.get("cmp2"):
        second, cmp2 = parse(groups["val2"]), _CMP_OF[groups["cmp2"]]
        first = _CMP_OF.get(m["cmp"] or "") or _POST_OF.get(m["post"] or "") or bare
        up, down = ("gt", "gte"), ("lt", "lte")
        opposite = (first in up and cmp2 in down) or (first in down and cmp2 in up)
        if second is None or not opposite or m["post"]:
            return None
        (low, above), (high, below) = sorted([(value, first), (second, cmp2)], key=lambda b: b[1] in down)
        if low > high:
            return None  # "more than 5k and less than 2k": nobody
        if (above, below) == ("gte", "lte"):
            return "between", [w.plain(low), w.plain(high)]
        return "and", [(above, w.plain(low)), (below, w.plain(high))]
    post = m["post"] or groups.get("post_after")
    cmp = _CMP_OF.get(m["cmp"] or "") or _POST_OF.get(post or "") or bare
    if m["cmp"] and post:
        # "more than 5k or more" is just "more than"; "up to 5k or more" makes no sense.
        upward = _CMP_OF[m["cmp"]] in ("gt", "gte")
        if upward != (_POST_OF[post] == "gte"):
            return None
        cmp = _CMP_OF[m["cmp"]]
    return cmp, w.plain(value)


def _scaled(lo: str, low: Decimal, hi: str, high: Decimal) -> Decimal:
    """ "between 2 and 5k", "from two to five thousand": the scale written once, after the upper
    bound, applies to the lower one too, when the lower bound has none and scaling it keeps it
    below the upper ("between 500 and 5k" stays 500)."""
    scale = _SCALE.search(hi)
    if scale is None or not _UNSCALED.match(lo.strip()):
        return low
    unit = w.amount("1 " + scale.group(0).strip())
    if unit is None or unit <= 1:
        return low
    return low * unit if low * unit < high else low


def _compared(name: str, found: tuple[str, Any]) -> Node:
    cmp, value = found
    if cmp in ("and", "or"):  # two bounds, or two values either way
        return {"op": cmp, "rules": [_cond(name, c, v) for c, v in value]}
    return _cond(name, cmp, value)


def _count(text: str) -> Decimal | None:
    value = {"once": Decimal(1), "twice": Decimal(2), "thrice": Decimal(3)}.get(text) or w.number(text)
    return value if value is not None and value == value.to_integral_value() and value >= 0 else None


def _money(text: str) -> Decimal | None:
    return w.amount(text)
