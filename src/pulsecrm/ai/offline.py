"""The offline engine: plain words to a rule tree, deterministically, with no network.

How it reads a prompt:

1. Normalise it into lowercase tokens (`words.tokenize`: contractions, ranges, small typos).
2. Find *atoms*, the phrases that are one condition each ("spent more than ₹5k",
   "haven't ordered in 3 months", "in Mumbai"), by trying patterns in priority order; a
   matched span is masked so a later pattern cannot reuse its words.
3. Read the words between atoms as connectives (and, or, commas, "but", "who", "either",
   "not", "except", brackets); any other word that is not filler is *not understood* and
   reported, never silently dropped.
4. Build the tree with the precedence people mean: commas, "but", "who", "and also" join
   clauses loosest; inside a clause OR is looser than AND; "either … or …" and brackets
   group; ", or" is an OR between whole clauses. Place names joined by and/or/commas become
   one list ("in Mumbai and Pune" means either city).

Nothing here guesses a number it was not given: a vague word ("lapsed", "new") with no
period gets a stated default, recorded in `notes`, and a prompt with no condition at all is
refused.
"""

# ruff: noqa: E501 - patterns read best one per line, as the phrases people type

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pulsecrm.ai import composer
from pulsecrm.ai import words as w
from pulsecrm.ai.base import SegmentAnswer
from pulsecrm.ai.composer import AudienceSummary, Variant
from pulsecrm.errors import InvalidInput
from pulsecrm.segments import rules as rule_lang
from pulsecrm.segments.catalog import ATTRIBUTE_PREFIX, Catalog, FieldSpec

Node = dict[str, Any]

DEFAULT_LAPSED_DAYS = 90
DEFAULT_RECENT_DAYS = 30
DEFAULT_NEW_DAYS = 30


class NotUnderstood(InvalidInput):
    code = "prompt_not_understood"


@dataclass(frozen=True)
class Parsed:
    rules: Node
    not_understood: list[str]
    notes: list[str]


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


# --- comparators ------------------------------------------------------------------------------

CMP_WORDS: dict[str, tuple[str, ...]] = {
    "gte": (
        "at least", "atleast", "a minimum of", "minimum of", "min of", "minimum", "min",
        "no less than", "not less than", "no fewer than", "not fewer than", "not under",
        "not below", ">=", "=>",
    ),
    "lte": (
        "at most", "atmost", "no more than", "not more than", "no greater than",
        "not greater than", "not over", "not above", "not exceeding", "up to", "upto",
        "a maximum of", "maximum of", "max of", "maximum", "max", "<=", "=<",
    ),
    "gt": (
        "more than", "greater than", "over", "above", "exceeding", "exceeds", "exceed",
        "in excess of", "upwards of", "upward of", "beyond", "higher than", "bigger than",
        "larger than", "north of", "mor than", ">",
    ),
    "lt": (
        "less than", "fewer than", "under", "below", "lower than", "smaller than", "beneath",
        "south of", "<",
    ),
    "eq": ("exactly", "of exactly", "precisely", "equal to", "equals", "=", "only", "just", "is"),
}  # fmt: skip
POST_WORDS: dict[str, tuple[str, ...]] = {
    "gte": (
        "+", "or more", "or above", "or higher", "or over", "and above", "and up", "and over",
        "and more", "plus", "or greater", "at least", "minimum", "or plus",
    ),
    "lte": (
        "or less", "or fewer", "or below", "or lower", "or under", "and below", "and under",
        "and less", "at most", "max", "maximum", "or lesser",
    ),
}  # fmt: skip
_CMP_OF = {phrase: cmp for cmp, phrases in CMP_WORDS.items() for phrase in phrases}
_POST_OF = {phrase: cmp for cmp, phrases in POST_WORDS.items() for phrase in phrases}


def _alt(phrases: Any) -> str:
    return "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))


CMP = _alt(_CMP_OF)
POST = _alt(_POST_OF)


def quantity(value: str) -> str:
    """A comparison with a value: 'more than 5k', '5k+', 'between 2k and 5k', '3 to 5'."""
    return (
        rf"(?:(?:between|from|btw|btwn) (?P<lo>{value}) (?:and|to|or) (?P<hi>{value})"
        rf"|(?P<lo2>{value}) to (?P<hi2>{value})"
        rf"|(?:(?P<cmp>{CMP}) )?(?P<val>{value})(?: (?P<post>{POST})(?! than| [\d₹$]))?)"
        # "more than 5k but less than 10k": a second bound on the same field
        rf"(?: (?:and|but|yet|,|, but|, and) (?:(?:is|was|are) )?(?P<cmp2>{CMP}) (?P<val2>{value}))?"
    )


def _compare(
    m: re.Match[str], parse: Callable[[str], Decimal | None], *, bare: str
) -> tuple[str, Any] | None:
    """(comparator, JSON value) from a `quantity` match; `bare` is the comparator of '5k' alone."""
    groups = m.groupdict()
    lo, hi = groups.get("lo") or groups.get("lo2"), groups.get("hi") or groups.get("hi2")
    if lo and hi:
        low, high = parse(lo), parse(hi)
        if low is None or high is None:
            return None
        return "between", [w.plain(min(low, high)), w.plain(max(low, high))]
    value = parse(m["val"])
    if value is None:
        return None
    if groups.get("cmp2"):
        second, cmp2 = parse(groups["val2"]), _CMP_OF[groups["cmp2"]]
        first = _CMP_OF.get(m["cmp"] or "") or _POST_OF.get(m["post"] or "") or bare
        if second is None or {first, cmp2} not in ({"gt", "lt"}, {"gte", "lte"}) or m["post"]:
            return None
        low, high = (value, second) if first in ("gt", "gte") else (second, value)
        if {first, cmp2} == {"gte", "lte"}:
            return "between", [w.plain(low), w.plain(high)]
        return "and", [("gt", w.plain(low)), ("lt", w.plain(high))]
    cmp = _CMP_OF.get(m["cmp"] or "") or _POST_OF.get(m["post"] or "") or bare
    if m["cmp"] and m["post"]:
        # "more than 5k or more" is just "more than"; "up to 5k or more" makes no sense.
        upward = _CMP_OF[m["cmp"]] in ("gt", "gte")
        if upward != (_POST_OF[m["post"]] == "gte"):
            return None
        cmp = _CMP_OF[m["cmp"]]
    return cmp, w.plain(value)


def _compared(name: str, found: tuple[str, Any]) -> Node:
    cmp, value = found
    if cmp == "and":  # two bounds: more than one and less than the other
        return {"op": "and", "rules": [_cond(name, c, v) for c, v in value]}
    return _cond(name, cmp, value)


def _count(text: str) -> Decimal | None:
    value = {"once": Decimal(1), "twice": Decimal(2), "thrice": Decimal(3)}.get(text) or w.number(text)
    return value if value is not None and value == value.to_integral_value() and value >= 0 else None


def _money(text: str) -> Decimal | None:
    return w.amount(text)


# --- places -----------------------------------------------------------------------------------

# Well-known spellings, so "Bombay" finds the "Mumbai" customers. The first name of a group is
# used when the catalog has none of them.
CITY_GROUPS: tuple[tuple[str, ...], ...] = (
    ("Mumbai", "Bombay"), ("Delhi", "New Delhi"), ("Bengaluru", "Bangalore"), ("Pune", "Poona"),
    ("Hyderabad",), ("Chennai", "Madras"), ("Kolkata", "Calcutta"), ("Ahmedabad",), ("Jaipur",),
    ("Kochi", "Cochin"), ("Gurugram", "Gurgaon"), ("Noida",), ("Lucknow",), ("Surat",),
    ("Chandigarh",), ("Indore",), ("Nagpur",), ("Bhopal",), ("Goa",), ("Coimbatore",),
    ("Mysuru", "Mysore"), ("Thiruvananthapuram", "Trivandrum"), ("Visakhapatnam", "Vizag"),
    ("Vadodara", "Baroda"), ("Patna",), ("Navi Mumbai",), ("Thane",), ("Nashik",),
    ("London",), ("New York", "NYC"), ("San Francisco", "SF"), ("Los Angeles", "LA"),
    ("Chicago",), ("Boston",), ("Seattle",), ("Toronto",), ("Sydney",), ("Melbourne",),
    ("Singapore",), ("Dubai",), ("Paris",), ("Berlin",), ("Manchester",), ("Zürich", "Zurich"),
)  # fmt: skip


# --- vocabulary of the tree -------------------------------------------------------------------

FILLER = frozenset(
    """
    customers customer people person persons users user clients client shoppers shopper buyers
    buyer folks members member contacts contact audience segment everyone everybody anyone
    anybody all any those these them they their theirs show me find get give list select pick
    want need target please i we us our my you the a an of to for who whom whose have has had
    having are is was were be been being do does did ones one just some total overall lifetime
    ever so far in at on from by as there here what whats which that whose guys ppl cust custs
    already currently still now customers' someone somebody like can could would should will
    """.split()  # noqa: SIM905 - a word list is easier to extend as text
)
_FILLER_PHRASES = ("from us", "with us", "so far", "to date", "in total", "at all")

CONNECTIVES: dict[str, str] = {
    "and": "AND", "or": "OR", "nor": "OR", ",": "COMMA", "but": "BREAK", "who": "BREAK",
    "whom": "BREAK", "that": "BREAK", "which": "BREAK", "whose": "BREAK", "where": "BREAK",
    "with": "BREAK", "having": "BREAK", "plus": "BREAK", "while": "BREAK", "whereas": "BREAK",
    "although": "BREAK", "though": "BREAK", "however": "BREAK", "also": "BREAK",
    "additionally": "BREAK", "either": "EITHER", "neither": "NEITHER", "not": "NOT", "no": "NOT",
    "non": "NOT", "never": "NOT", "without": "NOT", "except": "WIDE_NOT", "excluding": "WIDE_NOT",
    "exclude": "WIDE_NOT", "excl": "WIDE_NOT", "minus": "WIDE_NOT", "besides": "WIDE_NOT",
    "(": "LP", ")": "RP", "[": "LP", "]": "RP",
}  # fmt: skip
_CONNECTIVE_PHRASES = {
    ("other", "than"): "WIDE_NOT", ("apart", "from"): "WIDE_NOT", ("but", "not"): "BREAK NOT",
    ("as", "well", "as"): "BREAK", ("and", "also"): "BREAK", ("in", "addition", "to"): "BREAK",
    ("and", "or"): "OR", ("leaving", "out"): "WIDE_NOT", ("leave", "out"): "WIDE_NOT",
}  # fmt: skip


# --- the grammar ------------------------------------------------------------------------------

Handler = Callable[[re.Match[str], "Context"], "Atom | list[Atom] | None"]


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]
    handler: Handler


@dataclass
class Context:
    catalog: Catalog
    grammar: Grammar
    today: date
    capitalised: set[str]  # words the user capitalised (a place we don't know yet)
    notes: list[str] = field(default_factory=list)


def _cond(name: str, cmp: str, value: Any = None) -> Node:
    node: Node = {"field": name, "cmp": cmp}
    if cmp not in ("is_set", "is_not_set"):
        node["value"] = value
    return node


def _and(*nodes: Node) -> Node:
    return {"op": "and", "rules": list(nodes)}


ORDER_VERB = (
    r"(?:ordered|ordering|order|orders|bought|buy|buying|purchased|purchase|purchases|purchasing"
    r"|shopped|shop|shopping|transacted|transacting|transaction|transactions|checked out|placed (?:an |any |a )?orders?"
    r"|made (?:a |any |an )?(?:purchases?|orders?)|spent anything|spent money|bought anything|been active|activity)"
)
ORDER_TAIL = r"(?: (?:anything|something|from us|with us|again|at all|online|here|stuff|items|products|at least once|even once|once))*"
WINDOW = (
    r"(?:in|within|during|for|over|since|inside)(?: the)?(?: (?:last|past|previous|recent|prior|preceding))?"
)
AGO_MORE = r"(?:more than|over|at least|longer than|older than|>|beyond|earlier than)"
AGO_LESS = (
    r"(?:less than|under|within|fewer than|inside|<|in the last|in the past|within the last|within the past)"
)
CAL = r"(?:this|current|last|previous) (?:week|month|year)|today|yesterday"
JOIN_VERB = (
    r"(?:joined|join|signed up|sign up|signup|registered|register|subscribed|created (?:an |their )?accounts?"
    r"|became (?:a )?customers?|onboarded|acquired|enrolled|signed on|sign ups|signups|sign up date"
    r"|signup date|joining date|registration date|account created|created)"
)
FIRST_VERB = r"(?:(?:(?:placed|made|did) (?:their |a |an |the )?)?first (?:order|purchase|bought|ordered|purchased|transaction|buy|shopped)(?: date)?)"
LAST_ORDER = r"(?:(?:last|latest|most recent|previous|recent) (?:order|purchase|transaction|buy)(?: date)?|last ordered|last purchased|last bought|last shopped)"
IS = r"(?: (?:was|is|were|are|placed|made|date|on|at|happened))*"
# What makes "no orders …" about a period rather than ever: "in the last", "for 3", "since", "this".
_PERIOD_AHEAD = (
    r"(?:(?:in|within|for|during|over)(?: the)? (?:last|past|previous|recent|prior|this|\d|an?|one|two|three"
    r"|four|five|six|seven|eight|nine|ten|twelve|few|couple)|since|this|after|before|recently)"
)


class Grammar:
    """The patterns for one catalog (its attributes and known places), compiled once."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.cities = self._cities(catalog)
        self.patterns: list[Pattern] = []
        self._build()
        self.vocabulary = self._vocabulary()

    # - places -

    @staticmethod
    def _cities(catalog: Catalog) -> dict[str, tuple[str, ...]]:
        """Every spelling we recognise -> the values to match (the catalog's own spelling)."""
        spec = catalog.get("city")
        known = {v.lower(): v for v in (spec.values if spec else ())}
        spellings: dict[str, tuple[str, ...]] = {}
        for group in CITY_GROUPS:
            present = tuple(known[g.lower()] for g in group if g.lower() in known)
            for name in group:
                spellings[name.lower()] = present or (group[0],)
        for low, value in known.items():
            spellings.setdefault(low, (value,))
        return spellings

    # - building -

    def add(self, name: str, regex: str, handler: Handler) -> None:
        self.patterns.append(Pattern(name, re.compile(rf"(?<!\S)(?:{regex})(?!\S)"), handler))

    def _build(self) -> None:
        add = self.add
        dur = rf"(?P<dur>{w.DURATION})"
        # "in the last 3 months", but not "over a year ago" (that is the other way round).
        window = rf"{WINDOW}(?: (?:{AGO_MORE}))? {dur}(?! (?:ago|back|before|earlier))"
        date_ = rf"(?P<date>{w.DATE})"

        # Dates first: they own the verbs "ordered", "joined" when a period follows.
        neg = r"(?:(?:have|has|had|did|do|does|is|are) not|not|never|no|without|zero|nil)(?: been| yet| even| ever| once)*"
        add(
            "no_order_window",
            rf"{neg} (?:any |an |a )?{ORDER_VERB}{ORDER_TAIL} {window}",
            self._no_order_window,
        )
        add(
            "no_order_vague",
            rf"{neg} (?:any |an |a )?{ORDER_VERB}{ORDER_TAIL} (?:in|for) (?:a while|a long time|ages|some time|quite some time|long|a bit|months|weeks)",
            self._inactive,
        )
        add(
            "no_order_since",
            rf"{neg} (?:any |an |a )?{ORDER_VERB}{ORDER_TAIL} (?:since|after) {date_}",
            self._no_order_since,
        )
        add(
            "last_order_ago",
            rf"{LAST_ORDER}{IS} (?P<rel>{AGO_MORE}|{AGO_LESS}) {dur}(?: ago| back| before)?",
            self._last_order_ago,
        )
        add(
            "last_order_date",
            rf"{LAST_ORDER}{IS} (?P<rel>since|after|before|until|till|prior to|in|during|on or after|on or before|on) {date_}",
            self._dated("last_order_at"),
        )
        add("first_order_window", rf"{FIRST_VERB}{IS} {window}", self._within("first_order_at"))
        add(
            "first_order_ago",
            rf"{FIRST_VERB}{IS} (?P<rel>{AGO_MORE}|{AGO_LESS}) {dur}(?: ago| back)?",
            self._ago("first_order_at"),
        )
        add(
            "first_order_date",
            rf"{FIRST_VERB}{IS} (?P<rel>since|after|before|until|till|prior to|in|during|on) {date_}",
            self._dated("first_order_at"),
        )
        add("first_order_cal", rf"{FIRST_VERB}{IS}(?: in)? (?P<cal>{CAL})", self._calendar("first_order_at"))
        add("joined_window", rf"{JOIN_VERB}(?: with us| up)?{IS} {window}", self._within("created_at"))
        add(
            "joined_ago",
            rf"{JOIN_VERB}(?: with us)?{IS} (?P<rel>{AGO_MORE}|{AGO_LESS}) {dur}(?: ago| back)",
            self._ago("created_at"),
        )
        add(
            "joined_date",
            rf"{JOIN_VERB}(?: with us)?{IS} (?P<rel>since|after|before|until|till|prior to|in|during|on|between) {date_}(?: (?:and|to) (?P<date2>{w.DATE}))?",
            self._dated("created_at"),
        )
        add(
            "joined_cal",
            rf"{JOIN_VERB}(?: with us)?{IS}(?: in)? (?P<cal>{CAL})",
            self._calendar("created_at"),
        )
        add(
            "tenure",
            rf"(?:been )?(?:with us|customers?|members?|a customer|a member|on board|around)(?: for)? (?P<rel>{AGO_MORE}|{AGO_LESS}) {dur}",
            self._ago("created_at", "rel", tenure=True),
        )
        add(
            "inactive",
            rf"(?:inactive|lapsed|dormant|churned|idle|gone quiet|not active|unengaged|disengaged|lapsing)(?: (?:customers?|users?|buyers?|shoppers?|clients?))?(?: (?:for|in|since|over|during)(?: the)?(?: (?:last|past))?(?: (?:{AGO_MORE}))? {dur})?",
            self._inactive,
        )
        add(
            "order_window",
            rf"(?:(?:have|has|had) )?(?:{ORDER_VERB}|active|engaged){ORDER_TAIL} {window}",
            self._within("last_order_at"),
        )
        add(
            "order_cal",
            rf"(?:{ORDER_VERB}|active){ORDER_TAIL}(?: in)? (?P<cal>{CAL})",
            self._calendar("last_order_at"),
        )
        add(
            "order_date",
            rf"(?:{ORDER_VERB}|active){ORDER_TAIL} (?P<rel>since|after|in|during|on) {date_}",
            self._dated("last_order_at", some_order=True),
        )
        add(
            "recent",
            r"(?:ordered|bought|purchased|shopped|active|order|purchase) recently|recently (?:ordered|bought|purchased|shopped|active)|recent (?:buyers?|purchasers?|shoppers?|customers?|orders?|purchases?)",
            self._assumed("last_order_at", "within_last_days", DEFAULT_RECENT_DAYS, "“recent” has no period"),
        )
        add(
            "new_buyers",
            r"new (?:buyers?|purchasers?)|first ?time (?:buyers? )?(?:in|within) (?:the )?last month",
            self._assumed(
                "first_order_at", "within_last_days", DEFAULT_NEW_DAYS, "“new buyers” has no period"
            ),
        )

        # How many orders.
        times = r"(?:times|time|x)"
        once = r"(?:once|twice|thrice)"
        add(
            "one_time",
            rf"one ?time (?:buyers?|customers?|shoppers?|purchasers?|users?|orderers?)|single (?:purchase|order)(?: (?:customers?|buyers?))?|first ?time (?:buyers?|customers?|shoppers?|purchasers?)|(?:only|just|exactly) one (?:order|purchase)|(?:ordered|bought|purchased|shopped) (?:only|just) {once}",
            self._one_time,
        )
        add(
            "repeat",
            r"repeat (?:customers?|buyers?|purchasers?|shoppers?|clients?|orderers?|purchase customers)|returning (?:customers?|buyers?|shoppers?)|(?:ordered|bought|purchased|shopped) (?:again|multiple times|repeatedly|more than once)|(?:multiple|several|repeat) (?:orders|purchases)|more than one (?:order|purchase)|multi ?order customers|repeaters",
            self._const(_cond("order_count", "gte", 2)),
        )
        add(
            "never_ordered",
            rf"(?:never|not yet|yet to|not ever)(?: (?:have|has|had|did|once|even|ever))* (?:{ORDER_VERB}){ORDER_TAIL}(?: (?:yet|ever|before))?|{neg} (?:{ORDER_VERB}){ORDER_TAIL}(?: (?:yet|ever|before))?(?! (?:{_PERIOD_AHEAD}|more|less|at|over|under|exactly|once|twice|\d))|(?:no|zero|0|nil|without any|without) (?:orders|purchases|order history|purchase history|transactions)(?! {_PERIOD_AHEAD})|non ?(?:buyers|purchasers)|(?:never|non) ?(?:buyers|purchasers)|prospects|leads",
            self._const(_cond("order_count", "eq", 0)),
        )
        order_noun = r"(?:orders|order|purchases|purchase|transactions|transaction)"
        add(
            "order_times",
            rf"(?:{ORDER_VERB}|visited us){ORDER_TAIL} {quantity(w.NUMBER)} {times}",
            self._counted("order_count", bare="eq"),
        )
        add(
            "order_once",
            rf"(?:{ORDER_VERB}){ORDER_TAIL} (?:(?P<cmp>{CMP}) )?(?P<val>{once})(?: (?P<post>{POST}))?",
            self._counted("order_count", bare="eq"),
        )
        add(
            "order_count_field",
            rf"(?:order count|orders count|number of orders|no of orders|num orders|total orders|order total count|purchase count|number of purchases|total purchases|orders placed|order frequency)(?: (?:is|are|of|was))? {quantity(w.NUMBER)}",
            self._counted("order_count", bare="eq"),
        )
        add(
            "orders_n",
            rf"(?:(?:placed|made|with|having|has|have|had) )?{quantity(w.NUMBER)} (?:or more )?(?:{order_noun})(?! (?:ago|worth|of|value))",
            self._counted("order_count", bare="eq"),
        )
        add(
            "have_ordered",
            r"(?:have|has|had) (?:ever )?(?:ordered|bought|purchased|shopped|placed an order|made a purchase)(?: (?:from us|with us|before|something|anything))*(?! (?:in|within|for|since|during|over|the|last|past|this|more|less|at|\d|once|twice|thrice|exactly|only|just|under|between|recently|a|an))|(?:existing|paying|active paying) customers|(?:buyers|purchasers) only",
            self._const(_cond("order_count", "gte", 1)),
        )

        # Money: total spend, or the average order.
        avg = r"(?:(?:average|avg|mean|typical) (?:order|basket|purchase|ticket|cart|transaction|bill|spend per order)(?: (?:value|size|amount|spend|total))?|aov|(?:spend|spent|spending) per (?:order|purchase|visit)|per order|basket size|order value|ticket size|average spend)"
        total = r"(?:total (?:spend|spent|spending|purchases|purchase value|order value|value|revenue|sales)|lifetime (?:value|spend|spending|revenue)|ltv|clv|spent|spend|spends|spending|spenders?|purchased worth|bought worth|shopped for|bought for|purchased for|bought|purchased|shopped|ordered|purchases worth|worth|revenue|revenue of|value of|paid)"
        between_words = r"(?: (?:is|was|are|of|been|has|have|had|totalling|totaling|totals|total|in total|overall|a total of|so far|to date|with us|altogether|till date|in all|until now|amount|amounting to|money|an amount of|sum))*"
        after_words = r"(?: (?:in total|overall|so far|to date|with us|lifetime|altogether|in all|worth|in purchases|on purchases|on orders|on shopping|till date|until now|in their lifetime|total|spend|spent|of spend|in spend|value))*"
        add(
            "avg_spend",
            rf"(?P<f>{avg}){between_words} {quantity(w.AMOUNT)}{after_words}",
            self._spend("avg_order_value"),
        )
        add(
            "avg_spend_after",
            rf"{quantity(w.AMOUNT)} (?:in |of |as |for )?(?P<f>{avg})",
            self._spend("avg_order_value"),
        )
        add(
            "total_spend",
            rf"(?P<f>{total}){between_words} {quantity(w.AMOUNT)}{after_words}",
            self._spend("total_spend"),
        )
        add(
            "total_spend_after",
            rf"{quantity(w.AMOUNT)} (?:in |of |worth of |worth |in total |total |lifetime |as )*(?P<f>spend|spent|spending|spenders|lifetime value|ltv|clv|worth|of purchases|in purchases|in orders|in sales|revenue|sales|value|total spend|buyers|customers)",
            self._spend("total_spend"),
        )

        # Contact details: "without an email", "with a phone number".
        contact = r"(?P<f>e ?mail|email address|e ?mail id|mail id|emails|phone|phone number|phone numbers|mobile|mobile number|contact number|number|phones|city|location|name)"
        on_file = r"(?: (?:on file|address|number|set|given|listed|info))?"
        add(
            "missing",
            rf"(?:without|no|missing|lacking|having no|with no|not having|has no|have no|do not have|does not have)(?: (?:an|a|any|their|valid))? {contact}{on_file}",
            self._contact("is_not_set"),
        )
        add(
            "missing_after",
            rf"{contact} (?:is |are )?(?:missing|not set|empty|blank|unknown|not given|not available|null)",
            self._contact("is_not_set"),
        )
        add(
            "present",
            rf"(?:with|have|has|having|who have|that have|providing|provided|gave)(?: (?:an|a|any|their|valid))? {contact}{on_file}(?! (?:contains|containing|starts|starting|ends|ending|is|has|like|at|of|from|domain|begins|beginning|includes|including|\w+ ?@))",
            self._contact("is_set"),
        )
        add(
            "present_after",
            rf"{contact} (?:is |are )?(?:set|present|known|available|given|on file)",
            self._contact("is_set"),
        )
        domain = r"(?P<domain>@?[\w.+-]*@[\w-]+(?:\.[\w-]+)+|[a-z][\w-]*(?:\.(?:com|in|net|org|co|io|edu|gov|info|biz|uk))+|gmail|yahoo|hotmail|outlook|rediffmail|rediff|icloud|protonmail|proton|aol|live)"
        add(
            "email_domain",
            rf"(?:(?:with|using|on|having|have|has|at|from)(?: an?)? )?{domain}(?: (?:users?|accounts?|address(?:es)?|ids?|customers?|e ?mails?|domain|people|emails?))+",
            self._email_domain,
        )
        add(
            "email_is_domain",
            rf"(?:e ?mails?|email address|email domain|email id|mail)(?: (?:is|are|at|on|with|from|domain|address|id|ending|ends|ending in|ends with|ending with|contains|containing|includes|including|like|of))+ {domain}",
            self._email_domain,
        )
        add("with_domain", rf"(?:with|using|on|at) {domain}", self._email_domain)
        text_fields = r"(?P<f>name|first name|full name|e ?mail|email address|phone|phone number|mobile|city|customer id|id|external id)"
        add(
            "text_op",
            rf"{text_fields} (?P<op>contains|containing|includes|including|has|having|with|like|starts with|starting with|begins with|beginning with|start with|begin with|ends with|ending with|ending in|ends in|is not|isn't|is|=|equals|equal to|not equal to|!=|matches) (?P<v>[\w@.+-]+)",
            self._text_op,
        )

        # Custom attributes, from the catalog.
        # Numbers and flags before text attributes: "vip or gold tier" is two conditions.
        attributes = [f for f in self.catalog.fields if f.attribute is not None]
        for spec in sorted(attributes, key=lambda f: f.type == "text"):
            self._attribute(spec)

        # Places last among the specific patterns: a lone capitalised word is a weak signal.
        names = "|".join(re.escape(c) for c in sorted(self.cities, key=len, reverse=True))
        lead = r"(?:(?:live|lives|living|located|based|residing|reside|resident|residents|staying|stays|stay|who are|are|is|shipping|ship|delivering|delivered)(?: (?:out))? )?"
        neg_place = r"(?P<neg>outside(?: of)?|not in|not from|not living in|not located in|away from)"
        place = r"(?P<prep>in|at|from|within|out of|of|city|city is|city =|city of|cities|town|near|around|across)"
        add(
            "place",
            rf"(?:{neg_place}|{lead}{place})? ?(?P<city>{names})(?: (?:based|customers|residents|people|users|buyers|shoppers|folks|city|area|region|metro|locals))?",
            self._place,
        )
        add(
            "place_unknown",
            rf"(?:{neg_place}|(?:live|lives|living|located|based|residing|reside|from|in|city is|city =|city)(?: in| at| out of)?) (?P<city>[a-z][a-z]+(?: [a-z][a-z]+)?)",
            self._place_unknown,
        )

    def _attribute(self, spec: FieldSpec) -> None:
        key = spec.attribute or ""
        parts = [p for p in re.split(r"[_\W]+", key.lower()) if p]
        if not parts:
            return
        label = " ?".join(re.escape(p) for p in parts)
        variants = [label, re.escape(spec.label.lower())]
        if len(parts) == 1 and parts[0].endswith("s") and len(parts[0]) > 3:
            stem = re.escape(parts[0][:-1])
            variants += [stem, rf"{stem}ed", rf"{stem}ing"]  # "visits": "visited", "visit"
        if "opt" in parts and "in" in parts:
            rest = " ".join(p for p in parts if p not in ("opt", "in"))
            variants += [rf"opted in(?: (?:to|for))?(?: {re.escape(rest)})?", rf"{re.escape(rest)} opt ?ins?"]
        names = "|".join(sorted(set(variants), key=len, reverse=True))
        add = self.add
        if spec.type == "number":
            add(
                f"attr_num_{key}",
                rf"(?:{names})(?: (?:is|are|count|of|was|score|us|the store|our store|the site|the website|the app))* {quantity(w.NUMBER)}(?: (?:times|time|x))?",
                self._counted(spec.name, bare="eq"),
            )
            add(
                f"attr_num_after_{key}",
                rf"{quantity(w.NUMBER)} (?:{names})",
                self._counted(spec.name, bare="eq"),
            )
        elif spec.type == "boolean":
            add(
                f"attr_bool_is_{key}",
                rf"(?:{names})(?: (?:is|=|:|status))* (?P<b>true|false|yes|no|on|off|y|n)",
                self._bool(spec.name),
            )
            add(f"attr_bool_{key}", rf"(?:{names})s?", self._const(_cond(spec.name, "eq", True)))
            if "opt" in parts and "in" in parts:
                rest = " ".join(p for p in parts if p not in ("opt", "in"))
                add(
                    f"attr_optout_{key}",
                    rf"opted out(?: (?:of|from))?(?: {re.escape(rest)})?|{re.escape(rest)} opt ?outs?|unsubscribed from {re.escape(rest)}",
                    self._const(_cond(spec.name, "eq", False)),
                )
        elif spec.type == "text":
            value = r"(?!(?:and|or|not|but|who|with|in|from|tier|is|are|the|any|all)(?!\S))[\w@.+-]+"
            values = rf"(?P<v>{value}(?: (?:or|,|, or|and|/) {value})*)"
            add(
                f"attr_text_{key}",
                rf"(?:{names})(?: (?:is|=|:|of|level|status|equals|equal to|in))* (?P<not>not |other than |isn't |!= )?{values}",
                self._text_values(spec.name),
            )
            add(
                f"attr_text_after_{key}",
                rf"{values} (?:{names})(?: (?:members?|customers?|users?|level|status))?",
                self._text_values(spec.name),
            )

    def _vocabulary(self) -> frozenset[str]:
        """Words worth correcting a typo towards: every keyword of every pattern."""
        found: set[str] = set(FILLER) | set(CONNECTIVES) | set(w.MONTHS) | set(w.UNITS) | set(w.TENS)
        for pattern in self.patterns:
            found.update(re.findall(r"[a-z]{4,}", pattern.regex.pattern))
        for city in self.cities:
            found.update(city.split())
        found.update(
            ("older", "newer", "month", "months", "days", "weeks", "years", "lakh", "lakhs", "crore")
        )
        return frozenset(found)

    # - handlers -

    @staticmethod
    def _const(node: Node) -> Handler:
        return lambda m, _ctx: Atom(m.start(), m.end(), dict(node))

    @staticmethod
    def _counted(name: str, *, bare: str) -> Handler:
        def handle(m: re.Match[str], _ctx: Context) -> Atom | None:
            for group in ("val", "lo", "lo2"):
                if group in m.re.groupindex and m[group] and w.is_money_like(m[group]):
                    return None  # "orders over ₹5k" is money, not a count
            found = _compare(m, _count, bare=bare)
            return None if found is None else Atom(m.start(), m.end(), _compared(name, found))

        return handle

    @staticmethod
    def _spend(name: str) -> Handler:
        def handle(m: re.Match[str], _ctx: Context) -> Atom | None:
            verb = m["f"] or ""
            values = [v for g in ("val", "lo", "hi", "lo2", "hi2") if (v := m.groupdict().get(g))]
            if verb in (
                "bought",
                "purchased",
                "shopped",
                "ordered",
                "buyers",
                "customers",
                "value",
                "paid",
            ) and not any(w.is_money_like(v) for v in values):
                return None  # "bought 3 times" is a count; only "bought ₹5k" is money
            found = _compare(m, _money, bare="gte")
            return None if found is None else Atom(m.start(), m.end(), _compared(name, found))

        return handle

    @staticmethod
    def _bool(name: str) -> Handler:
        def handle(m: re.Match[str], _ctx: Context) -> Atom:
            return Atom(m.start(), m.end(), _cond(name, "eq", m["b"] in ("true", "yes", "on", "y")))

        return handle

    @staticmethod
    def _text_values(name: str) -> Handler:
        def handle(m: re.Match[str], ctx: Context) -> Atom | None:
            values = [v for v in re.split(r" (?:or|,|and|/) | , or ", m["v"]) if v and v not in FILLER]
            if not values or any(v in ctx.grammar.cities or v in CONNECTIVES for v in values):
                return None
            negate = bool(m.groupdict().get("not"))
            if len(values) == 1:
                return Atom(m.start(), m.end(), _cond(name, "ne" if negate else "eq", values[0]))
            return Atom(m.start(), m.end(), _cond(name, "not_in" if negate else "in", values))

        return handle

    @staticmethod
    def _contact(cmp: str) -> Handler:
        fields = {
            "phone": "phone",
            "mobile": "phone",
            "number": "phone",
            "contact": "phone",
            "city": "city",
            "location": "city",
            "name": "name",
        }

        def handle(m: re.Match[str], _ctx: Context) -> Atom:
            word = m["f"].split()[0]
            return Atom(m.start(), m.end(), _cond(fields.get(word.rstrip("s"), "email"), cmp))

        return handle

    @staticmethod
    def _email_domain(m: re.Match[str], _ctx: Context) -> Atom:
        domain = m["domain"].lstrip("@")
        if "@" in domain:  # a whole address
            return Atom(m.start(), m.end(), _cond("email", "eq", domain))
        if "." not in domain:
            domain = {"rediff": "rediffmail", "proton": "protonmail"}.get(domain, domain) + "."
        return Atom(m.start(), m.end(), _cond("email", "contains", "@" + domain))

    @staticmethod
    def _text_op(m: re.Match[str], _ctx: Context) -> Atom | None:
        word = m["f"].replace(" ", "")
        name = {
            "firstname": "name", "fullname": "name", "email": "email", "emailaddress": "email",
            "phonenumber": "phone", "mobile": "phone", "customerid": "external_id", "id": "external_id",
            "externalid": "external_id",
        }.get(word, word)  # fmt: skip
        op, value = m["op"], m["v"]
        if (
            name == "city"
            and value in _ctx.grammar.cities
            and op in ("is", "=", "equals", "equal to", "matches")
        ):
            return _place_atom(m, _ctx.grammar.cities[value], negated=False, bare=False)
        if (
            name == "city"
            and value in _ctx.grammar.cities
            and op in ("is not", "isn't", "not equal to", "!=")
        ):
            return _place_atom(m, _ctx.grammar.cities[value], negated=True, bare=False)
        if op in ("contains", "containing", "includes", "including", "has", "having", "with", "like"):
            cmp = "contains"
        elif op.startswith(("start", "begin")):
            cmp = "starts_with"
        elif op.startswith("end"):
            if name != "email":
                return None  # no "ends with" comparator; "contains" would mean something else
            cmp, value = "contains", value if value.startswith("@") else "@" + value
        elif op in ("is not", "isn't", "not equal to", "!="):
            cmp = "ne"
        else:
            cmp = "eq"
        return Atom(m.start(), m.end(), _cond(name, cmp, value))

    def _no_order_window(self, m: re.Match[str], _ctx: Context) -> Atom | None:
        days = w.duration_days(m["dur"])
        return (
            None
            if days is None
            else Atom(m.start(), m.end(), _cond("last_order_at", "not_within_last_days", days))
        )

    def _no_order_since(self, m: re.Match[str], ctx: Context) -> Atom | None:
        found = w.date_range(m["date"], ctx.today)
        if found is None:
            return None
        # No order on or after the start: includes those who never ordered, like "in 90 days".
        node = {
            "op": "and",
            "not": True,
            "rules": [_cond("last_order_at", "after", _iso(found[0] - timedelta(days=1)))],
        }
        return Atom(m.start(), m.end(), node)

    def _last_order_ago(self, m: re.Match[str], _ctx: Context) -> Atom | None:
        days = w.duration_days(m["dur"])
        if days is None:
            return None
        if re.fullmatch(AGO_MORE, m["rel"]):
            # "Last order more than 90 days ago" needs a last order: those who never ordered are out.
            return Atom(
                m.start(),
                m.end(),
                _and(_cond("last_order_at", "not_within_last_days", days), _cond("last_order_at", "is_set")),
            )
        return Atom(m.start(), m.end(), _cond("last_order_at", "within_last_days", days))

    def _inactive(self, m: re.Match[str], ctx: Context) -> Atom | None:
        if m["dur"]:
            days = w.duration_days(m["dur"])
            if days is None:
                return None
            return Atom(m.start(), m.end(), _cond("last_order_at", "not_within_last_days", days))
        return Atom(
            m.start(), m.end(), _cond("last_order_at", "not_within_last_days", DEFAULT_LAPSED_DAYS),
            note=f"“{m[0]}” has no period: {DEFAULT_LAPSED_DAYS} days assumed (say e.g. “inactive for 60 days”)",
        )  # fmt: skip

    @staticmethod
    def _within(name: str) -> Handler:
        def handle(m: re.Match[str], _ctx: Context) -> Atom | None:
            days = w.duration_days(m["dur"])
            return None if days is None else Atom(m.start(), m.end(), _cond(name, "within_last_days", days))

        return handle

    @staticmethod
    def _ago(name: str, rel: str = "rel", *, tenure: bool = False) -> Handler:
        def handle(m: re.Match[str], _ctx: Context) -> Atom | None:
            days = w.duration_days(m["dur"])
            if days is None:
                return None
            older = bool(re.fullmatch(AGO_MORE, m[rel]))
            if name == "first_order_at" and older:
                return Atom(
                    m.start(), m.end(), _and(_cond(name, "not_within_last_days", days), _cond(name, "is_set"))
                )
            return Atom(
                m.start(), m.end(), _cond(name, "not_within_last_days" if older else "within_last_days", days)
            )

        return handle

    @staticmethod
    def _calendar(name: str) -> Handler:
        def handle(m: re.Match[str], ctx: Context) -> Atom | None:
            found = w.calendar_range(m["cal"], ctx.today)
            if found is None or (name == "last_order_at" and found[1] < ctx.today):
                # "ordered last month" is some order then, which the last order alone can't tell.
                return None
            return Atom(m.start(), m.end(), _range_node(name, "in", found, ctx.today))

        return handle

    @staticmethod
    def _dated(name: str, *, some_order: bool = False) -> Handler:
        def handle(m: re.Match[str], ctx: Context) -> Atom | None:
            found = w.date_range(m["date"], ctx.today)
            if found is None:
                return None
            if m.groupdict().get("date2"):
                second = w.date_range(m["date2"], ctx.today)
                if second is None:
                    return None
                found = (found[0], second[1])
            rel = m["rel"]
            if some_order and rel in ("in", "during", "on"):
                # "ordered in March" is some order in March, which the last order alone can't
                # tell; say what we can express instead of answering something else.
                return None
            return Atom(m.start(), m.end(), _range_node(name, rel, found, ctx.today))

        return handle

    def _assumed(self, name: str, cmp: str, days: int, why: str) -> Handler:
        def handle(m: re.Match[str], _ctx: Context) -> Atom:
            return Atom(
                m.start(), m.end(), _cond(name, cmp, days), weak=True, note=f"{why}: {days} days assumed"
            )

        return handle

    def _one_time(self, m: re.Match[str], _ctx: Context) -> Atom:
        return Atom(m.start(), m.end(), _cond("order_count", "eq", 1))

    def _place(self, m: re.Match[str], ctx: Context) -> Atom | None:
        values = self.cities[m["city"]]
        negated = bool(m["neg"])
        bare = (
            not negated
            and not m["prep"]
            and not m[0].startswith(("live", "located", "based", "resid", "stay"))
        )
        if bare and m["city"] in ("la", "sf", "goa") and m["city"].upper() not in ctx.capitalised:
            return None  # short names only when written as names
        return _place_atom(m, values, negated=negated, bare=bare)

    def _place_unknown(self, m: re.Match[str], ctx: Context) -> Atom | None:
        words = m["city"].split()
        while words and (words[-1] in FILLER or words[-1] in CONNECTIVES or words[-1] in self.vocabulary):
            words.pop()
        if not words or any(x not in ctx.capitalised for x in words):
            return None  # a place we don't know must at least be written as a name
        if any(x in self.vocabulary or x in FILLER or x in w.MONTHS for x in words):
            return None
        name = " ".join(x.capitalize() for x in words)
        end = m.start("city") + len(" ".join(words))
        atom = _place_atom(m, (name,), negated=bool(m["neg"]), bare=False)
        atom.end = end
        return atom


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


# --- reading a prompt -------------------------------------------------------------------------


@lru_cache(maxsize=16)
def grammar_for(catalog: Catalog) -> Grammar:
    return Grammar(catalog)


MAX_PROMPT = 1000


def rules_from_text(prompt: str, catalog: Catalog, *, now: datetime | None = None) -> Parsed:
    """The rule tree a prompt describes, what could not be read, and the defaults assumed.

    Raises NotUnderstood (422, naming `prompt`) when no condition is found at all."""
    grammar = grammar_for(catalog)
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    tokens = w.tokenize(prompt[:MAX_PROMPT], grammar.vocabulary)
    capitalised = {t.text for t in tokens if t.original[:1].isupper()}
    text = " ".join(t.text for t in tokens)
    starts, pos = [], 0
    for token in tokens:
        starts.append(pos)
        pos += len(token.text) + 1
    ctx = Context(catalog, grammar, today, capitalised)

    atoms: list[Atom] = []
    work = text
    for pattern in grammar.patterns:
        if not any(ch.isalnum() or ch in "₹$<>=+" for ch in work):
            break
        found: list[Atom] = []
        for m in pattern.regex.finditer(work):
            atom = pattern.handler(m, ctx)
            if atom is None:
                continue
            found.extend(atom if isinstance(atom, list) else [atom])
        for atom in found:
            work = work[: atom.start] + "\x00" * (atom.end - atom.start) + work[atom.end :]
            atoms.append(atom)
    atoms.sort(key=lambda a: a.start)

    # Weak defaults ("new customers" = joined in 30 days) give way to a stated period.
    named = [_fields(a.node) for a in atoms if not a.weak]
    atoms = [a for a in atoms if not (a.weak and any(_fields(a.node) & f for f in named))]
    notes = [a.note for a in atoms if a.note]

    stream, not_understood = _stream(tokens, starts, atoms)
    if not atoms:
        raise NotUnderstood(
            "no condition found in the prompt; try e.g. “spent more than 5k and haven't ordered in "
            "3 months, in Mumbai or Pune”",
            details=[
                {
                    "loc": ["body", "prompt"],
                    "path": "$.prompt",
                    "message": "nothing in the prompt names a customer field, amount, count, date or place",
                    "not_understood": not_understood,
                }
            ],
        )
    tree = _Parser(_merge_places(stream)).parse()
    root = _root(_simplify(tree))
    rule_lang.check(rule_lang.parse(root), catalog)  # our own output obeys the same contract
    return Parsed(root, not_understood, notes)


def _fields(node: Node) -> set[str]:
    if "field" in node:
        return {node["field"]}
    return set().union(*(_fields(n) for n in node["rules"])) if node["rules"] else set()


Item = Atom | str


def _stream(tokens: list[w.Token], starts: list[int], atoms: list[Atom]) -> tuple[list[Item], list[str]]:
    """Atoms and connectives in order, and the runs of words nobody understood."""
    items: list[Item] = []
    unknown: list[str] = []
    run: list[str] = []

    pending: list[str] = []

    def flush() -> None:
        pending.clear()
        if run:
            unknown.append(" ".join(run))
            run.clear()

    i, a = 0, 0
    while i < len(tokens):
        if a < len(atoms) and starts[i] >= atoms[a].start:
            flush()
            items.append(atoms[a])
            while i < len(tokens) and starts[i] < atoms[a].end:
                i += 1
            a += 1
            continue
        word = tokens[i].text
        matched = False
        for phrase, kinds in _CONNECTIVE_PHRASES.items():
            if tuple(t.text for t in tokens[i : i + len(phrase)]) == phrase and not (
                a < len(atoms)
                and i + len(phrase) - 1 < len(tokens)
                and starts[i + len(phrase) - 1] >= atoms[a].start
            ):
                flush()
                items.extend(kinds.split())
                i += len(phrase)
                matched = True
                break
        if matched:
            continue
        two = f"{word} {tokens[i + 1].text}" if i + 1 < len(tokens) else ""
        if two in _FILLER_PHRASES:
            i += 2
            continue
        if word not in _GLUE and word in FILLER:
            pending.clear()
        if word in CONNECTIVES:
            flush()
            items.append(CONNECTIVES[word])
        elif word not in FILLER:
            run.extend(pending)
            pending.clear()
            run.append(tokens[i].original or word)
        elif word in _GLUE:
            pending.append(tokens[i].original or word)  # keep "in the last 3 months" whole
            i += 1
            continue
        else:
            flush()
        i += 1
    flush()
    return items, [u for u in unknown if any(ch.isalnum() for ch in u)]


_GLUE = frozenset(("in", "at", "on", "from", "of", "for", "the", "a", "an", "to", "by"))
_JOINERS = {"AND", "OR", "COMMA"}


def _merge_places(items: list[Item]) -> list[Item]:
    """'in Mumbai, Pune or Delhi' -> one condition: city in [Mumbai, Pune, Delhi]."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, Atom) and item.cities:
            j = len(out) - 1
            while j >= 0 and isinstance(out[j], str) and out[j] in _JOINERS:
                j -= 1
            prev = out[j] if j >= 0 else None
            if (
                isinstance(prev, Atom)
                and prev.cities
                and j < len(out) - 1
                and (item.bare or item.negated == prev.negated)
            ):
                values = tuple(dict.fromkeys(prev.cities + item.cities))
                merged = Atom(prev.start, item.end, {}, cities=values, negated=prev.negated)
                merged.node = _cond("city", "not_in" if prev.negated else "in", list(values))
                out[j:] = [merged]
                continue
        out.append(item)
    return out


class _Parser:
    """Recursive descent over atoms and connectives (see the module docstring for precedence)."""

    def __init__(self, items: list[Item]) -> None:
        self.items = self._tidy(items)
        self.pos = 0

    @staticmethod
    def _tidy(items: list[Item]) -> list[str | Atom]:
        """Collapse each run of joiners into one: any OR makes it an OR, a comma or clause
        word makes it a clause boundary; drop joiners that join nothing."""
        out: list[str | Atom] = []
        run: list[str] = []
        for item in [*items, "END"]:
            if isinstance(item, str) and item in ("AND", "OR", "COMMA", "BREAK"):
                run.append(item)
                continue
            if (
                not run
                and out
                and (isinstance(out[-1], Atom) or out[-1] == "RP")
                and (isinstance(item, Atom) or item in ("NOT", "WIDE_NOT", "EITHER", "NEITHER", "LP"))
            ):
                # "vip or gold tier customers in Mumbai": modifiers side by side qualify the
                # whole phrase, so they join like a clause, not like a tight "and".
                run = ["BREAK"]
            if run:
                starts_clause = not out or (
                    isinstance(out[-1], str) and out[-1] in ("NOT", "WIDE_NOT", "EITHER", "NEITHER", "LP")
                )
                if not starts_clause and item not in ("END", "RP"):
                    loose = "COMMA" in run or "BREAK" in run
                    if "OR" in run:
                        out.append("ORBREAK" if loose else "OR")
                    else:
                        out.append("BREAK" if loose else "AND")
                run = []
            if item != "END":
                out.append(item)
        return out

    def peek(self) -> str | Atom | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self) -> str | Atom | None:
        item = self.peek()
        self.pos += 1
        return item

    def parse(self) -> Node:
        nodes = []
        while self.peek() is not None:
            nodes.append(self.or_clauses())
            if self.peek() == "RP":  # an unmatched ")"
                self.take()
        return _and(*nodes) if len(nodes) != 1 else nodes[0]

    def or_clauses(self) -> Node:
        nodes = [self.clauses()]
        while self.peek() == "ORBREAK":
            self.take()
            nodes.append(self.clauses())
        return nodes[0] if len(nodes) == 1 else {"op": "or", "rules": nodes}

    def clauses(self) -> Node:
        nodes = [self.disjunction()]
        while self.peek() == "BREAK":
            self.take()
            nodes.append(self.disjunction())
        return nodes[0] if len(nodes) == 1 else _and(*nodes)

    def disjunction(self) -> Node:
        nodes = [self.conjunction()]
        while self.peek() == "OR":
            self.take()
            nodes.append(self.conjunction())
        return nodes[0] if len(nodes) == 1 else {"op": "or", "rules": nodes}

    def conjunction(self) -> Node:
        nodes = [self.unary()]
        while True:
            nxt = self.peek()
            if nxt == "AND":
                self.take()
            elif not (isinstance(nxt, Atom) or nxt in ("NOT", "WIDE_NOT", "EITHER", "NEITHER", "LP")):
                break
            nodes.append(self.unary())
        return nodes[0] if len(nodes) == 1 else _and(*nodes)

    def unary(self) -> Node:
        item = self.take()
        if item is None or item in ("RP", "OR", "ORBREAK", "BREAK", "AND"):
            return _and()  # a dangling "not" or "either": matches everyone, simplified away
        if isinstance(item, Atom):
            return item.node
        if item == "NOT":
            return _negate(self.unary())
        if item == "WIDE_NOT":
            return _negate(self.disjunction())
        if item == "EITHER":
            return self.disjunction()
        if item == "NEITHER":
            return _negate(self.disjunction())
        # "(": everything up to the matching ")"
        inner = self.or_clauses()
        if self.peek() == "RP":
            self.take()
        return inner


_FLIP = {
    "eq": "ne", "ne": "eq", "in": "not_in", "not_in": "in", "within_last_days": "not_within_last_days",
    "not_within_last_days": "within_last_days", "is_set": "is_not_set", "is_not_set": "is_set",
}  # fmt: skip
_ORDER_FLIP = {"gt": "lte", "lte": "gt", "gte": "lt", "lt": "gte"}
NEVER_EMPTY = frozenset({"total_spend", "order_count", "created_at", "name", "external_id"})


def _negate(node: Node) -> Node:
    """The exact complement, as the plainest tree: flip a comparator when that is exact."""
    if "field" in node:
        cmp = node["cmp"]
        if cmp in _FLIP:
            return {**node, "cmp": _FLIP[cmp]}
        if cmp in _ORDER_FLIP and node["field"] in NEVER_EMPTY:
            return {**node, "cmp": _ORDER_FLIP[cmp]}
        return {"op": "and", "not": True, "rules": [node]}
    if not node["rules"]:
        return node  # "not" of nothing: ignore rather than match no one
    flipped = {**node, "not": not node.get("not", False)}
    if not flipped["not"]:
        del flipped["not"]
    return flipped


def _simplify(node: Node) -> Node:
    """Flatten same-op groups, drop empty ones and duplicates, unwrap single children."""
    if "field" in node:
        return node
    op, negated = node.get("op", "and"), node.get("not", False)
    children: list[Node] = []
    for child in (_simplify(c) for c in node["rules"]):
        if "field" not in child and not child["rules"]:
            continue
        if "field" not in child and child.get("op") == op and not child.get("not"):
            children.extend(child["rules"])
        else:
            children.append(child)
    unique = list({_key(c): c for c in children}.values())
    if len(unique) == 1 and not negated:
        return unique[0]
    if len(unique) == 1 and "field" in unique[0]:
        return _negate(unique[0])
    out: Node = {"op": op, "rules": unique}
    if negated:
        out["not"] = True
    return out


def _key(node: Node) -> str:
    return repr(sorted(node.items())) if "field" in node else repr(node)


def _root(node: Node) -> Node:
    if "field" in node or node.get("not"):
        return {"version": 1, "op": "and", "rules": [node]}
    return {"version": 1, "op": node["op"], "rules": node["rules"]}


def attribute_name(spec: FieldSpec) -> str:
    return spec.name.removeprefix(ATTRIBUTE_PREFIX)


class OfflineEngine:
    """The default engine: this module's parser and the composer, no network."""

    name = "offline"

    async def rules_from_text(
        self, prompt: str, catalog: Catalog, *, now: datetime | None = None
    ) -> SegmentAnswer:
        parsed = rules_from_text(prompt, catalog, now=now)
        return SegmentAnswer(parsed.rules, self.name, parsed.not_understood, parsed.notes)

    async def message_variants(
        self, goal: str, audience: AudienceSummary, channel: str, count: int
    ) -> list[Variant]:
        return composer.compose(goal, audience, channel, count)
