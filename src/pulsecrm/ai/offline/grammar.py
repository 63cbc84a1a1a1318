"""The grammar: for one catalog, the patterns that find atoms, in priority order, and their handlers."""

# ruff: noqa: E501 - patterns read best one per line, as the phrases people type

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache

from pulsecrm.ai import words as w
from pulsecrm.ai.offline.atoms import (
    DEFAULT_LAPSED_DAYS,
    DEFAULT_NEW_DAYS,
    DEFAULT_RECENT_DAYS,
    Atom,
    Node,
    _and,
    _cond,
    _iso,
    _place_atom,
    _range_node,
)
from pulsecrm.ai.offline.lexicon import (
    _CMP_OF,
    _PERIOD_AHEAD,
    AGO_LESS,
    AGO_MORE,
    CAL,
    CITY_GROUPS,
    CMP,
    CONNECTIVE_PHRASES,
    CONNECTIVES,
    CONSENT_NO,
    CONSENT_YES,
    FILLER,
    FIRST_VERB,
    HIGH_VALUE,
    IS,
    JOIN_VERB,
    LAST_ORDER,
    LOW_VALUE,
    NAME_CUE,
    ORDER_TAIL,
    ORDER_VERB,
    PEOPLE,
    POST,
    REGIONS,
    RETURN_VERB,
    SPEND_VERB,
    TIER_CUES,
    TIER_KEYS,
    TIER_NOT_AFTER,
    TIER_NOUN,
    TIER_ORDER,
    TIER_VALUES,
    WINDOW,
    _alt,
)
from pulsecrm.ai.offline.quantities import _compare, _compared, _count, _money, quantity
from pulsecrm.segments.catalog import Catalog, FieldSpec

# --- the grammar ------------------------------------------------------------------------------

# A money multiplier or currency word right after a number: the number is an amount.
_PERCENT_AFTER = re.compile(r" (?:%|percent|per cent|pc|pct)(?!\S)")
_MONEY_AFTER = re.compile(rf" (?:{w.MULTIPLIER_WORDS}|{w.CURRENCY_AFTER})(?![a-z])")

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
    text: str = ""  # the normalised prompt
    notes: list[str] = field(default_factory=list)


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
        window = rf"{WINDOW}(?: (?:{AGO_MORE}))? {dur}(?! (?:ago|back|before|earlier|\d{{4}})(?!\S))"
        # A named day may carry its date in brackets: "since Diwali (8 Nov 2026)"; its words are
        # no place, month or connective ("joined in Pune (1 Jan 2025)", "in March (2025)").
        stop = "|".join(
            re.escape(x)
            for x in sorted(
                {*self.cities, *w.MONTHS, *(c for c in CONNECTIVES if c.isalpha())}, key=len, reverse=True
            )
        )
        named = rf"(?P<named>(?:(?!(?:{stop})(?!\S))[a-z]+ ){{1,4}})"
        # … or after it, when the date names a day: "since Diwali on 8 Nov", "since Diwali, 8 Nov"
        months = "|".join(sorted(w.MONTHS, key=len, reverse=True))
        day = rf"(?=\d{{1,2}}(?: (?:st|nd|rd|th))? (?:of )?(?:{months})(?!\S)|(?:{months}) \d{{1,2}}(?!\d)|\d{{4}}-\d\d-\d\d)"
        date_ = (
            rf"(?:{named}(?:(?P<lp>\( )(?:on )?|(?:on |, (?:ie |on )?)?{day}))?(?P<date>{w.DATE})(?(lp) \))"
        )

        # Dates first: they own the verbs "ordered", "joined" when a period follows.
        neg = r"(?:(?:have|has|had|did|do|does|is|are) not|not|never|no|without|zero|nil)(?: been| yet| even| ever| once)*"
        add(
            "no_order_window",
            rf"{neg} (?:any |an |a )?(?:{ORDER_VERB}|{RETURN_VERB}|back){ORDER_TAIL} {window}(?: or (?:more|longer|over|above))?",
            self._no_order_window,
        )
        add(
            "nothing_window",
            rf"(?:nothing|no (?:(?:order|orders|purchase|purchasing|buying|shopping|ordering|customer|account) )?activity|no orders?|no purchases?|no transactions?)(?: (?:bought|ordered|purchased|spent|placed|new))?(?: (?:from (?:us|them)|with us))? (?:{WINDOW}(?: (?:{AGO_MORE}))? )?{dur}(?! (?:ago|back|before|earlier))(?: or (?:more|longer|over|above))?",
            self._no_order_window,
        )
        add(
            "no_order_vague",
            rf"{neg} (?:any |an |a )?{ORDER_VERB}{ORDER_TAIL} (?:in|for) (?:a while|a long time|ages|some time|quite some time|long|a bit|months|weeks)",
            self._inactive,
        )
        add(
            "no_order_since",
            rf"{neg} (?:any |an |a )?(?:{ORDER_VERB}|{RETURN_VERB}|back){ORDER_TAIL} (?:since|after) {date_}",
            self._no_order_since,
        )
        add(
            "last_order_between_ago",
            rf"{LAST_ORDER}{IS} (?:between|from) (?P<d1>{w.DURATION}|{w.NUMBER}) (?:and|to) {dur} (?:ago|back|before)",
            self._last_order_between,
        )
        add(
            "last_order_ago",
            rf"{LAST_ORDER}{IS} (?P<rel>{AGO_MORE}|{AGO_LESS}) {dur}(?: ago| back| before)?",
            self._last_order_ago,
        )
        add(
            "last_order_date",
            rf"{LAST_ORDER}{IS} (?P<rel>since|after|before|until|till|prior to|in|during|on or after|on or before|on|between|from) {date_}(?: (?:and|to) (?P<date2>{w.DATE}))?",
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
            rf"{FIRST_VERB}{IS} (?P<rel>since|after|before|until|till|prior to|on or after|on or before|in|during|on|between|from) {date_}(?: (?:and|to) (?P<date2>{w.DATE}))?",
            self._dated("first_order_at"),
        )
        add("first_order_cal", rf"{FIRST_VERB}{IS}(?: in)? (?P<cal>{CAL})", self._calendar("first_order_at"))
        # "last order was yesterday", "last ordered last month": the last order's own date
        add(
            "last_order_cal",
            rf"{LAST_ORDER}{IS}(?: in)? (?P<cal>{CAL})",
            self._calendar("last_order_at", exact=True),
        )
        add("joined_window", rf"{JOIN_VERB}(?: with us| up)?{IS} {window}", self._within("created_at"))
        add(
            "joined_ago",
            rf"{JOIN_VERB}(?: with us)?{IS} (?P<rel>{AGO_MORE}|{AGO_LESS}) {dur}(?: ago| back)",
            self._ago("created_at"),
        )
        ago_post = rf"{dur} (?:ago|back) (?P<post>or (?:less|fewer|sooner|later|more recently|more|longer|earlier|before|over|above))"
        add("joined_ago_post", rf"{JOIN_VERB}(?: with us)?{IS} {ago_post}", self._ago_post("created_at"))
        add("first_order_ago_post", rf"{FIRST_VERB}{IS} {ago_post}", self._ago_post("first_order_at"))
        add("last_order_ago_post", rf"{LAST_ORDER}{IS} {ago_post}", self._ago_post("last_order_at"))
        add(
            "joined_date",
            rf"{JOIN_VERB}(?: with us)?{IS} (?P<rel>since|after|before|until|till|prior to|on or after|on or before|in|during|on|between|from) {date_}(?: (?:and|to) (?P<date2>{w.DATE}))?",
            self._dated("created_at"),
        )
        add(
            "joined_cal",
            rf"{JOIN_VERB}(?: with us)?{IS}(?: (?:in|during|within|over|from|of|for))?(?: the)? (?P<cal>{CAL})",
            self._calendar("created_at"),
        )
        newly = r"(?:newly|recently|just) (?:joined|signed up|signed|registered|acquired|added|onboarded|enrolled|created)"
        new = rf"(?:(?:brand )?new {PEOPLE}|{newly}(?: {PEOPLE})?|{PEOPLE} (?:who|that) (?:have )?{newly})"
        add(
            "new_people_window",
            rf"{new}(?: (?:who )?(?:joined|signed up|registered|added|acquired|onboarded))?(?: from)? {window}",
            self._within("created_at"),
        )
        add(
            "new_people_cal",
            rf"{new}(?: (?:who )?(?:joined|signed up|registered|added|acquired|onboarded))?(?: (?:from|in|within|during|of|for|since|over))?(?: the)? (?P<cal>{CAL})",
            self._calendar("created_at"),
        )
        add(
            "new_cal_bare",
            rf"(?:(?:are|is|were) )?(?:brand )?new(?: (?:from|in|within|during|of|for|since|over))?(?: the)? (?P<cal>{CAL})",
            self._calendar("created_at"),
        )
        add(
            "new_window_bare",
            rf"(?:(?:are|is|were) )?(?:brand )?new {window}",
            self._within("created_at"),
        )
        add(
            "new_date_bare",
            rf"(?:(?:are|is|were) )?(?:brand )?new (?P<rel>since|after|before|in|during|from) {date_}",
            self._dated("created_at"),
        )
        add(
            "date_signups",
            rf"(?P<rel>){date_} (?:sign ?ups?|joiners|registrations|new customers|new members|new users|cohort|acquisitions|joinees)",
            self._dated("created_at"),
        )
        add(
            "new_people_date",
            rf"{new}(?: (?:who )?(?:joined|signed up|registered|added|acquired|onboarded))? (?P<rel>since|after|before|in|during|from) {date_}",
            self._dated("created_at"),
        )
        add(
            "tenure",
            rf"(?:been )?(?:with us|customers?|members?|a customer|a member|on board|around)(?: for)? (?P<rel>{AGO_MORE}|{AGO_LESS}) {dur}",
            self._ago("created_at", "rel", tenure=True),
        )
        away = r"(?:(?:been|gone|went|stayed|remained) )?(?:away|absent|missing|silent|quiet|cold|dormant|idle|inactive|lapsed|not active|not been active)"
        add("inactive_since", rf"{away} since {date_}", self._no_order_since)
        add(
            "gone_without",
            rf"(?:(?:have|has|had) )?(?:gone|been) (?:(?:{AGO_MORE}) )?{dur}(?: or more| plus)? without (?:an? |any )?(?:{ORDER_VERB}|orders?|purchases?|buying|ordering|purchasing|shopping)",
            self._inactive,
        )
        add(
            "away_for",
            rf"{away}(?: from us)? (?:for|in|over|during|since)(?: the)?(?: (?:last|past))?(?: (?:{AGO_MORE}))? {dur}",
            self._inactive,
        )
        # "it's been 90 days since their last order", "days since last order > 60"
        add(
            "days_since_last_order",
            rf"(?:number of )?(?:days|weeks|months) since (?:their |the )?{LAST_ORDER}(?: (?:is|are|was))? {quantity(w.NUMBER)}",
            self._days_since_last_order,
        )
        add(
            "since_last_order",
            rf"(?:(?:it )?(?:has |have |had |is )?been )?(?:(?P<rel>{AGO_MORE}) )?{dur}(?: or more| plus)? since (?:their |the |his |her )?{LAST_ORDER}",
            self._since_last_order,
        )
        add(
            "inactive",
            rf"(?:inactive|lapsed|dormant|churned|idle|gone quiet|not active|unengaged|disengaged|lapsing|at risk(?: of (?:churn|churning|lapsing))?)(?: (?:customers?|users?|buyers?|shoppers?|clients?))?(?:(?: (?:for|in|since|over|during)(?: the)?(?: (?:last|past))?)?(?: (?:{AGO_MORE}))? {dur})?",
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
        # "ordered before 2025": some order before then, which is the first order before then
        # (as "ordered since March" is the last order since then)
        add(
            "order_before",
            rf"(?:{ORDER_VERB}|active){ORDER_TAIL} (?P<rel>before|prior to) {date_}",
            self._dated("first_order_at"),
        )
        add(
            "order_date",
            rf"(?:{ORDER_VERB}|active){ORDER_TAIL} (?P<rel>since|after|in|during|on) {date_}",
            self._dated("last_order_at", some_order=True),
        )
        add(
            "recent",
            rf"(?:ordered|bought|purchased|shopped|active|order|purchase){ORDER_TAIL} (?:recently|lately|of late)|recently (?:ordered|bought|purchased|shopped|active)|recent (?:buyers?|purchasers?|shoppers?|customers?|orders?|purchases?)",
            self._assumed("last_order_at", "within_last_days", DEFAULT_RECENT_DAYS, "“recent” has no period"),
        )
        add(
            "new_buyers",
            r"new (?:buyers?|purchasers?)|first ?time (?:buyers? )?(?:in|within) (?:the )?last month",
            self._assumed(
                "first_order_at", "within_last_days", DEFAULT_NEW_DAYS, "“new buyers” has no period"
            ),
        )

        add(
            "new_bare",
            r"(?:(?:are|is|were) )?(?:brand )?new(?= (?:in|from|at|to) | *$| (?:and|or|but|,|who|with)(?!\S))",
            self._assumed(
                "created_at", "within_last_days", DEFAULT_NEW_DAYS, "“new customers” has no period"
            ),
        )
        add(
            "new_people",
            new,
            self._assumed(
                "created_at", "within_last_days", DEFAULT_NEW_DAYS, "“new customers” has no period"
            ),
        )

        # How many orders.
        times = r"(?:times|time|x)"
        once = r"(?:once|twice|thrice)"
        add(
            "one_time",
            rf"one ?timers?|one ?time (?:buyers?|customers?|shoppers?|purchasers?|users?|orderers?)|(?<!in )(?<!in a )single (?:purchase|order)(?: (?:customers?|buyers?))?|first ?time (?:buyers?|customers?|shoppers?|purchasers?)|(?:(?:placed|made|has|have|had|with) )?(?:only|just|exactly) (?:one|a single|1) (?:order|purchase)|(?:ordered|bought|purchased|shopped) (?:only|just) {once}",
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
            # "spent over 5 times" counts the times money was spent: orders, not an amount
            rf"(?:{ORDER_VERB}|spent|spend|spends|paid){ORDER_TAIL} {quantity(w.NUMBER, alternatives=True)} {times}(?: (?P<post_after>{POST})(?! than| [\d₹$]))?",
            self._counted("order_count", bare="eq"),
        )
        add(
            "order_once",
            rf"(?:{ORDER_VERB}){ORDER_TAIL} (?:(?P<cmp>{CMP}) )?(?P<val>{once})(?: (?P<post>{POST})(?! than| [\d₹$]))?",
            self._counted("order_count", bare="eq"),
        )
        add(
            "order_count_field",
            rf"(?:order count|orders count|number of orders|no of orders|num orders|total orders|order total count|purchase count|number of purchases|total purchases|orders placed|order frequency)(?: (?:is|are|of|was))? {quantity(w.NUMBER)}",
            self._counted("order_count", bare="eq"),
        )
        add(
            "orders_compared",
            # "spend per order under 500" is an average, not a count
            rf"(?<!per )(?<!each )(?<!every )(?:orders|purchases|transactions|order|purchase)(?: (?:count|placed|made|number))?(?: (?:are|of|was))? {quantity(w.NUMBER)}",
            self._compared_count,
        )
        add(
            "orders_n",
            rf"(?<!in )(?:(?:placed|made|with|having|has|have|had) )?{quantity(w.NUMBER, alternatives=True)} (?:or more )?(?:{order_noun})(?! (?:ago|worth|of|value))(?: (?P<post_after>{POST})(?! than| [\d₹$]))?",
            self._counted("order_count", bare="eq"),
        )
        add(
            "have_ordered",
            r"(?:have|has|had) (?:ever )?(?:ordered|bought|purchased|shopped|placed an order|made a purchase)(?: (?:from us|with us|before|something|anything))*(?! (?:in|within|for|since|during|over|the|last|past|this|more|less|at|\d|once|twice|thrice|exactly|only|just|under|between|recently|a|an))|(?:existing|paying|active paying) customers|(?:buyers|purchasers) only",
            self._const(_cond("order_count", "gte", 1)),
        )
        add(
            "ordered_before",
            rf"(?:{ORDER_VERB}){ORDER_TAIL} (?:before|previously|in the past|at some point|at least once|ever)(?= *$| (?:,|and|or|but|who|with|in|from|except|excluding|not|who|are|is)(?!\S))",
            self._const(_cond("order_count", "gte", 1)),
        )

        # Money: total spend, or the average order.
        per = r"(?:per|an|a|each|every) (?:order|purchase|transaction|visit|bill|basket)"
        avg = (
            r"(?:(?:average|avg|mean|typical) (?:order|basket|purchase|ticket|cart|transaction|bill|spend per order|checkout)(?: (?:value|size|amount|spend|total|price))?"
            rf"|(?:average|avg|mean|typical) (?:spend|spent|spending|amount|value|revenue|bill|ticket) {per}|aov|abv|atv"
            rf"|(?:spend|spent|spending|spends|pays?|paid|paying|revenue|value|amount) (?:on average |on avg )?{per}(?: on average| on avg)?"
            rf"|(?:orders?|purchases?|baskets?|tickets?|transactions?) (?:that )?(?:average|averaging|averages|averaged|avg)(?: at| out at| of)?"
            rf"|on (?:an? )?average {per}|{per} on average|on (?:an? )?(?:average|avg)|(?:per|each|every) (?:order|purchase|transaction|bill|basket)|basket size|basket value|cart size|cart value|order value|ticket size|average ticket|average spend|average basket|average order)"
        )
        # A share of customers by spend: "top 20%", "bottom quartile", "above the median".
        side = r"(?P<side>top|bottom|highest|lowest|upper|lower|best|biggest|least|largest|smallest)"
        share = rf"(?: (?P<n>{w.NUMBER}) ?(?:%|percent|per cent|pc|pct)| (?P<part>half|quartile|quarter|quintile|fifth|decile|tenth))"
        by_spend = r"(?: (?:by|in|on|for|in terms of|based on|ranked by) (?:(?:total|lifetime|overall) )?(?:spend|spending|spent|revenue|value|ltv|clv|sales|purchase value|money spent|amount spent))"
        add(
            "spend_share",
            rf"(?:(?:in|within|among|from|are|is) )?(?:the )?(?:our )?{side}(?: (?:spending|spend|paying|value|valued))?{share}(?: of)?(?: (?:our |all |the )?{TIER_NOUN})?{by_spend}?(?: {TIER_NOUN})?",
            self._spend_share,
        )
        spend_word = r"(?:spent|spend|spends|spending|spenders?|total spend|lifetime value|ltv)"
        add(
            "spend_median",
            rf"{spend_word}(?: (?:is|was|are))? (?P<cmp>{CMP}) (?:the )?(?:median|typical customer)(?: (?:spend|spending|spender|customer|total spend|amount|value|of (?:all )?customers))*"
            rf"|(?P<above>above|below|over|under) ?(?:the )?median {spend_word}(?: {TIER_NOUN})?",
            self._spend_median,
        )
        # Nothing spent: total spend is 0 ("spent nothing so far", "zero spend").
        add(
            "spent_nothing",
            rf"(?:(?:{SPEND_VERB}|spent|spend|spends|spending) (?:nothing|nil|not a (?:single )?(?:rupee|penny|paisa|cent|dime))"
            r"|(?:(?:have|has|had|did|do|does) not|never) (?:spent|spend) (?:(?:a|one) (?:single )?(?:rupee|penny|paisa|cent|dime|thing)|any money)"
            r"|(?:with )?(?:zero|no|nil) (?:total |lifetime )?(?:spend|spending)(?! (?:in|within|during|over|for|since|this|last|past)(?!\S))"
            r"|(?:total |lifetime )?(?:spend|spending) (?:is |was |of |= )?(?:nothing|nil))(?: (?:yet|ever|at all))?",
            self._const(_cond("total_spend", "eq", 0)),
        )
        add("low_value", LOW_VALUE, self._value_tier(high=False))
        add("high_value", HIGH_VALUE, self._value_tier(high=True))
        total = rf"(?:{SPEND_VERB}|total (?:spend|spent|spending|purchases|purchase value|order value|value|revenue|sales)|lifetime (?:value|spend|spending|revenue)|ltv|clv|spent|spend|spends|spending|spenders?|purchased worth|bought worth|shopped for|bought for|purchased for|bought|purchased|shopped|ordered|purchases worth|worth|revenue|revenue of|value of)"
        between_words = r"(?: (?:in the range of|in the range|in a range of|(?:in|within) the(?= \S+(?: [a-z]+)? to \S+(?: [a-z]+)? (?:range|bracket|band))|anywhere|somewhere|is|was|are|of|been|has|have|had|totalling|totaling|totals|total|in total|overall|a total of|so far|to date|with us|altogether|till date|in all|until now|amount|amounting to|money|an amount of|sum))*"
        after_words = r"(?: (?:range|bracket|band|in total|overall|so far|to date|with us|lifetime|altogether|in all|worth|in purchases|on purchases|on orders|on shopping|till date|until now|in their lifetime|total|spend|spent|of spend|in spend|value))*"
        add(
            "avg_spend",
            # "total order value" is the total, not the average; "average order value (AOV)"
            # says the name twice
            rf"(?<!total )(?<!lifetime )(?<!overall )(?<!cumulative )(?P<f>{avg})(?: \( (?:{avg}) \))?{between_words} {quantity(w.AMOUNT)}{after_words}",
            self._spend("avg_order_value"),
        )
        add(
            "avg_spend_after",
            rf"(?:(?:spent|spend|spends|spending|paying|pays|paid|who spend|who spent) )?{quantity(w.AMOUNT)} (?:in |of |as |for )?(?P<f>{avg})",
            self._spend("avg_order_value"),
        )
        add(
            "total_spend",
            rf"(?P<f>{total})(?: \( (?:{total}) \))?{between_words} {quantity(w.AMOUNT)}{after_words}",
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
            rf"(?:without|no|missing|lacking|lack|lacks|having no|with no|not having|has no|have no|do not have|does not have)(?: (?:an|a|any|their|valid))? {contact}{on_file}",
            self._contact("is_not_set"),
        )
        add(
            "missing_after",
            rf"{contact} (?:is |are )?(?:missing|not set|empty|blank|unknown|not given|not available|null|not known|(?:we|i) (?:do not|did not) (?:know|have))",
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
        add("named", rf"{NAME_CUE} (?P<v>[a-z]+(?: (?:[a-z]+|or|and|,))*)", self._named)
        add(
            "name_has",
            r"(?:with|having|has|have) (?P<v>[a-z]+) (?:in|as (?:part of)?) (?:their|the|his|her) (?:full |first |last |sur)?names?",
            self._name_has,
        )
        text_fields = r"(?P<f>names?|first names?|full names?|e ?mails?|email address(?:es)?|phones?|phone numbers?|mobile|city|customer id|id|external id)"
        add(
            "text_op",
            rf"{text_fields} (?P<op>contains|containing|includes|including|has|having|with|like|starts with|starting with|begins with|beginning with|start with|begin with|ends with|ending with|ending in|ends in|is not|isn't|is|=|equals|equal to|not equal to|!=|matches) (?P<v>[\w@.+-]+)",
            self._text_op,
        )

        # Tiers compared by their usual order: "above silver tier", "gold and above".
        tier = self._tier()
        if tier is not None:
            ranked = "|".join(TIER_ORDER)
            keys = "|".join(TIER_KEYS)
            # "not above silver" is left to "not": no tier above silver, or none at all
            up_down = _alt(
                p
                for p, cmp in _CMP_OF.items()
                if cmp in ("gt", "gte", "lt", "lte") and p.split()[0] not in ("not", "no")
            )
            noun = rf"(?: (?:{keys}|{PEOPLE}|card ?holders?|status|members?|and (?:up|higher)))*"
            add(
                "tier_compare",
                rf"(?:(?:{keys})s? )?(?P<cmp>{up_down}|better than|worse than) (?:the )?(?P<v>{ranked}){noun}"
                rf"|(?P<cmp3>higher|better|lower|worse) (?:{keys}) than (?:the )?(?P<v3>{ranked}){noun}"
                rf"|(?P<v2>{ranked})(?: (?:{keys}|{PEOPLE}|status|members?))? (?P<post>or above|and above|or higher|and higher|or better|and better|and up|or more|at least|minimum|or below|and below|or lower|and lower|or worse|at most|maximum)",
                self._tier_compare(tier),
            )

        # Custom attributes, from the catalog.
        # Numbers and flags before text attributes: "vip or gold tier" is two conditions.
        attributes = [f for f in self.catalog.fields if f.attribute is not None]
        for spec in sorted(attributes, key=lambda f: f.type == "text"):
            self._attribute(spec)

        if tier is not None:
            value = "|".join(TIER_VALUES)
            add(
                "tier_word",
                rf"(?P<v>(?:{value})(?: (?:or|,|, or|and|/) (?:{value}))*)(?: (?P<noun>{PEOPLE}|card ?holders?|status|category|club|level|tier))?",
                self._tier_word(tier),
            )

        # Places last among the specific patterns: a lone capitalised word is a weak signal.
        names = "|".join(re.escape(c) for c in sorted(self.cities, key=len, reverse=True))
        lead = r"(?:(?:live|lives|living|located|based|residing|reside|resident|residents|staying|stays|stay|who are|are|is|shipping|ship|delivering|delivered)(?: (?:out))? )?"
        neg_place = r"(?P<neg>outside(?: of)?|not in|not from|not living in|not located in|away from)"
        place = r"(?P<prep>in|at|from|within|out of|of|city|city is|city =|city of|city in|cities|cities in|town|across)"
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
        # A period on its own ("new customers from Delhi this month"): the parser gives it to
        # the vague date word beside it, or reports it.
        add("loose_window", window, self._loose_window)
        # … without a preposition, with a count ("recent buyers (last 15 days)", "past week"),
        # or a duration alone in brackets ("lapsed customers (60 days)", "(> 60 days)").
        add(
            "loose_last",
            rf"(?:(?:the )?(?:(?P<last>last|previous|prior|preceding)|past) |(?P<bracket>(?<=\( ))(?:(?P<rel>{AGO_MORE}|{AGO_LESS}) )?)"
            rf"{dur}(?(bracket)(?P<plus> (?:plus|or more|or longer|and above|\+))?(?= \)))",
            self._loose_last,
        )
        # "in the last 30 days but not in the last 7": the count takes the unit said before it.
        add(
            "loose_count",
            rf"(?:(?:(?:in|within|during|over|inside) )?(?:the )?(?:last|past|previous)|within) (?P<n>{w.NUM})(?= *$| (?:and|or|but|,|\)|who|with|in|from|except|excluding)(?!\S))",
            self._loose_count,
        )
        add(
            "loose_cal",
            rf"(?:(?:in|during|from|of|for|since|over|within) )?(?:the )?(?P<cal>{CAL})",
            self._loose_cal,
        )
        # Last: a comparison with no field ("or over 10k in Delhi"), completed by the parser
        # from the parallel clause before it.
        add("bare_amount", quantity(w.AMOUNT), self._bare_amount)
        add(
            "bare_times",
            rf"{quantity(w.NUMBER)} (?:times|time|x)(?: (?P<post_after>{POST})(?! than| [\d₹$]))?",
            self._bare_times,
        )

    def _consent(self) -> FieldSpec | None:
        """The boolean attribute that is marketing consent, if exactly one looks like it."""
        found = []
        for spec in self.catalog.fields:
            parts = set(re.split(r"[_\W]+", (spec.attribute or "").lower()))
            if (
                spec.type == "boolean"
                and spec.attribute
                and (
                    {"opt", "in"} <= parts
                    or {"optin", "consent", "subscribed", "marketing", "newsletter"} & parts
                )
            ):
                found.append(spec)
        return found[0] if len(found) == 1 else None

    def _tier(self) -> FieldSpec | None:
        """The text attribute that holds a membership tier, if exactly one is named like one."""
        found = [
            spec
            for spec in self.catalog.fields
            if spec.type == "text"
            and spec.attribute
            and set(re.split(r"[_\W]+", spec.attribute.lower())) & set(TIER_KEYS)
        ]
        return found[0] if len(found) == 1 else None

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
            variants += [
                rf"(?:opted|opt) ?in(?: (?:to|for))?(?: {re.escape(rest)})?",
                rf"{re.escape(rest)} opt ?ins?",
            ]
        names = "|".join(sorted(set(variants), key=len, reverse=True))
        add = self.add
        where = r"(?:(?:site|store|in ?store|website|web|app|online|shop|page|total|number of|no of) )?"
        if spec.type == "number":
            add(
                f"attr_num_{key}",
                rf"{where}(?:{names})(?: (?:is|are|count|of|was|score|us|the store|our store|the site|the website|the app))* {quantity(w.NUMBER)}(?: (?:times|time|x)(?: (?P<post_after>{POST})(?! than| [\d₹$]))?)?",
                self._counted(spec.name, bare="eq"),
            )
            add(
                f"attr_num_after_{key}",
                rf"{quantity(w.NUMBER)} {where}(?:{names})(?: (?P<post_after>{POST})(?! than| [\d₹$]))?",
                self._counted(spec.name, bare="eq"),
            )
        elif spec.type == "boolean":
            add(
                f"attr_bool_is_{key}",
                rf"(?:{names})(?: (?:is|=|:|status))* (?P<b>true|false|yes|no|on|off|y|n)",
                self._bool(spec.name),
            )
            if spec is self._consent():
                add(
                    f"attr_consent_is_{key}",
                    r"(?:marketing )?(?:consent|consented)(?: (?:status|flag))?(?: (?:is|=))* (?P<b>true|false|yes|no|y|n)",
                    self._bool(spec.name),
                )
                add(f"attr_consent_no_{key}", CONSENT_NO, self._const(_cond(spec.name, "eq", False)))
                add(f"attr_consent_{key}", CONSENT_YES, self._const(_cond(spec.name, "eq", True)))
            add(f"attr_bool_{key}", rf"(?:{names})s?", self._const(_cond(spec.name, "eq", True)))
            if "opt" in parts and "in" in parts:
                rest = " ".join(p for p in parts if p not in ("opt", "in"))
                add(
                    f"attr_optout_{key}",
                    rf"opted out(?: (?:of|from))?(?: {re.escape(rest)})?|{re.escape(rest)} opt ?outs?|unsubscribed from {re.escape(rest)}",
                    self._const(_cond(spec.name, "eq", False)),
                )
        elif spec.type == "text":
            # "without a tier", "customers who have a tier": the attribute is missing or present
            add(
                f"attr_missing_{key}",
                rf"(?:without|no|missing|lacking|having no|with no|not having|has no|have no)(?: (?:an?|any|their))? (?:{names})(?: (?:set|value|info|given|assigned))?(?= *$| (?:and|or|but|,|who|in|from|with)(?!\S))",
                self._const(_cond(spec.name, "is_not_set")),
            )
            add(
                f"attr_present_{key}",
                rf"(?:with|have|has|having)(?: (?:an?|any|their|some))? (?:{names})(?: (?:set|value|assigned))?(?= *$| (?:and|or|but|,|who|in|from|with)(?!\S))",
                self._const(_cond(spec.name, "is_set")),
            )
            # A known place is never a tier's value: "gold tier in Mumbai, or platinum tier".
            places = "|".join(re.escape(c) for c in self.cities)
            # … nor a word of a comparison ("tier above or equal to gold" is no value "above")
            value = rf"(?!(?:and|or|not|but|who|with|in|from|tier|is|are|the|any|all|spenders?|buyers?|shoppers?|than|above|below|over|under|equal|more|less|higher|lower|greater|better|worse|at|least|most|to|up|{places})(?!\S))[\w@.+-]+"
            values = rf"(?P<v>{value}(?: (?:or|,|, or|and|/) {value})*)"
            add(
                f"attr_text_{key}",
                rf"(?:{names})(?: (?:is|=|:|of|level|status|equals|equal to|in))* (?P<not>not |other than |isn't |!= )?{values}",
                self._text_values(spec.name),
            )
            add(
                f"attr_text_after_{key}",
                rf"{values} (?:{names})s?(?: (?:members?|customers?|users?|level|status))?",
                self._text_values(spec.name),
            )

    def _vocabulary(self) -> frozenset[str]:
        """Words worth correcting a typo towards: every keyword of every pattern."""
        found: set[str] = set(FILLER) | set(CONNECTIVES) | set(w.MONTHS) | set(w.UNITS) | set(w.TENS)
        found.update(word for phrase in CONNECTIVE_PHRASES for word in phrase)  # "as well as"
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
            if _MONEY_AFTER.match(m.string, m.end()):
                return None  # "purchases above 15 k": the number is money, its unit follows
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
            ) and not any(w.is_money_like(v) for v in values):
                return None  # "bought 3 times" is a count; only "bought ₹5k" is money
            if _PERCENT_AFTER.match(m.string, m.end()):
                return None  # "spending 10%" is a share, not an amount
            found = _compare(m, _money, bare="gte")
            said = m["cmp"] or m["post"] or m.groupdict().get("post_after")
            if found == ("gte", 0) and not said:
                found = ("eq", 0)  # "spent 0" is nothing, not "at least nothing"
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

        def handle(m: re.Match[str], ctx: Context) -> Atom | None:
            word = m["f"].split()[0]
            after = ctx.text[m.end() :].split()[:1]
            if word == "name" and after and after[0] in ctx.capitalised:
                return None  # "with name Arjun" names someone; the name cue reads it
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
            "externalid": "external_id", "names": "name", "firstnames": "name", "fullnames": "name",
            "emails": "email", "emailaddresses": "email", "phones": "phone", "phonenumbers": "phone",
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
        if found is None or not _named_day(m):
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
        if m.groupdict().get("dur"):
            days = w.duration_days(m["dur"])
            if days is None:
                return None
            return Atom(m.start(), m.end(), _cond("last_order_at", "not_within_last_days", days))
        return Atom(
            m.start(), m.end(), _cond("last_order_at", "not_within_last_days", DEFAULT_LAPSED_DAYS), weak=True,
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

    def _since_last_order(self, m: re.Match[str], _ctx: Context) -> Atom | None:
        days = w.duration_days(m["dur"])
        if days is None or " " not in m["dur"]:  # "days since …" is no period: a count is needed
            return None
        node = _and(_cond("last_order_at", "not_within_last_days", days), _cond("last_order_at", "is_set"))
        return Atom(m.start(), m.end(), node)

    def _days_since_last_order(self, m: re.Match[str], _ctx: Context) -> Atom | None:
        """'days since last order > 60': more than 60 days ago; '< 30': within the last 30."""
        found = _compare(m, _count, bare="eq")
        unit = w.UNIT_DAYS.get(m[0].split()[0] if m[0].split()[0] != "number" else m[0].split()[2], 1)
        if found is None or found[0] not in ("gt", "gte", "lt", "lte"):
            return None
        days = int(found[1]) * unit
        if found[0] in ("lt", "lte"):
            return Atom(m.start(), m.end(), _cond("last_order_at", "within_last_days", days))
        node = _and(_cond("last_order_at", "not_within_last_days", days), _cond("last_order_at", "is_set"))
        return Atom(m.start(), m.end(), node)

    @staticmethod
    def _ago_post(name: str) -> Handler:
        """'joined 2 weeks ago or less' (within), '… 3 months ago or more' (longer ago)."""

        def handle(m: re.Match[str], _ctx: Context) -> Atom | None:
            days = w.duration_days(m["dur"])
            if days is None:
                return None
            if m["post"].split()[-1] in ("less", "fewer", "sooner", "later", "recently"):
                return Atom(m.start(), m.end(), _cond(name, "within_last_days", days))
            node = _cond(name, "not_within_last_days", days)
            if name != "created_at":  # an order "more than N days ago" needs an order
                node = _and(node, _cond(name, "is_set"))
            return Atom(m.start(), m.end(), node)

        return handle

    @staticmethod
    def _calendar(name: str, *, exact: bool = False) -> Handler:
        def handle(m: re.Match[str], ctx: Context) -> Atom | None:
            found = w.calendar_range(m["cal"], ctx.today)
            if found is None or (name == "last_order_at" and found[1] < ctx.today and not exact):
                # "ordered last month" is some order then, which the last order alone can't tell.
                return None
            return Atom(m.start(), m.end(), _range_node(name, "in", found, ctx.today))

        return handle

    @staticmethod
    def _dated(name: str, *, some_order: bool = False) -> Handler:
        def handle(m: re.Match[str], ctx: Context) -> Atom | None:
            found = w.date_range(m["date"], ctx.today)
            if found is None or not _named_day(m):
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
        if (
            bare
            and m["city"] in ("la", "sf", "goa", "hyd", "blr")
            and m["city"].upper() not in ctx.capitalised
        ):
            return None  # short names only when written as names
        return _place_atom(m, values, negated=negated, bare=bare)

    def _tier_word(self, spec: FieldSpec) -> Handler:
        key = re.compile(rf"(?<!\S){re.escape((spec.attribute or '').lower().replace('_', ' '))}(?!\S)")
        values_of = Grammar._text_values(spec.name)
        # "VIPs or platinum": a bare tier word listed with a yes/no attribute is a status too.
        flags = "|".join(
            re.escape(f.attribute.lower().replace("_", " "))
            for f in self.catalog.fields
            if f.type == "boolean" and f.attribute
        )
        cued = re.compile(
            rf"(?:^|\s)(?:{'|'.join(TIER_CUES)}"
            + (rf"|(?:{flags})s? (?:or|and|nor|,|, or|/)" if flags else "")
            + r") $"
        )
        product = re.compile(rf" {TIER_NOT_AFTER}(?!\S)")
        # "silver or gold VIPs": a tier word right before a yes/no status word is a status too
        flagged = re.compile(rf" (?:{flags})s?(?!\S)") if flags else None

        def handle(m: re.Match[str], ctx: Context) -> Atom | list[Atom] | None:
            # A bare "gold" is a tier only beside a people word, where the tier is named, or
            # after a word that makes it a status ("are platinum", "neither VIP nor gold") and
            # before no word that makes it a product ("are gold buyers").
            if not m["noun"] and not key.search(ctx.text):
                status = (
                    cued.search(ctx.text[: m.start()]) or (flagged and flagged.match(ctx.text, m.end()))
                ) and not product.match(ctx.text, m.end())
                if not status:
                    return None
            return values_of(m, ctx)

        return handle

    @staticmethod
    def _tier_compare(spec: FieldSpec) -> Handler:
        def handle(m: re.Match[str], _ctx: Context) -> Atom | None:
            value = m["v"] or m["v2"] or m["v3"]
            if m["cmp3"]:
                cmp = "gt" if m["cmp3"] in ("higher", "better") else "lt"
            elif m["cmp"]:
                cmp = {"better than": "gt", "worse than": "lt"}.get(m["cmp"]) or _CMP_OF[m["cmp"]]
            else:
                up = m["post"].split()[-1] in ("above", "higher", "better", "up", "more", "least", "minimum")
                cmp = "gte" if up else "lte"
            rank = TIER_ORDER.index(value)
            ranks = {
                "gt": TIER_ORDER[rank + 1 :],
                "gte": TIER_ORDER[rank:],
                "lt": TIER_ORDER[:rank],
                "lte": TIER_ORDER[: rank + 1],
            }[cmp]
            if not ranks:
                return None  # "above diamond": no tier we know of, reported
            node = (
                _cond(spec.name, "eq", ranks[0]) if len(ranks) == 1 else _cond(spec.name, "in", list(ranks))
            )
            note = f"“{m[0]}” read by the usual order of tiers ({', '.join(TIER_ORDER)}): {', '.join(ranks)}"
            return Atom(m.start(), m.end(), node, note=note)

        return handle

    @staticmethod
    def _loose_window(m: re.Match[str], _ctx: Context) -> Atom | None:
        days = w.duration_days(m["dur"])
        return None if days is None else Atom(m.start(), m.end(), {}, when=("days", days))

    @staticmethod
    def _loose_last(m: re.Match[str], ctx: Context) -> Atom | None:
        """'last 15 days' and '(15 days)' need a count: 'last week' is the calendar week (a
        fortnight is no calendar unit). 'The last month' is the one just gone by, as 'in the
        last month' is ("in the last 3 months but not the last month")."""
        counted = re.match(rf"(?:{w.NUM}|{w.NUMW}) |(?:an? )?fortnight", m["dur"]) is not None
        counted = counted or m[0].startswith("the ")
        if (m["last"] or m["bracket"] is not None) and not counted:
            return None
        days = w.duration_days(m["dur"])
        if days is None:
            return None
        # "(> 60 days)" is a length of absence, "(< 15 days)" one of recency; the parser gives
        # each only to a vague word that points the same way.
        more = m["plus"] or (m["rel"] and re.fullmatch(AGO_MORE, m["rel"]))
        kind = "more" if more else "less" if m["rel"] else "days"
        return Atom(m.start(), m.end(), {}, when=(kind, days))

    @staticmethod
    def _loose_count(m: re.Match[str], ctx: Context) -> Atom | None:
        """'in the last 7' after '… in the last 30 days': 7 of the unit said before it."""
        said = [d for d in re.finditer(rf"(?<!\S){w.DURATION}", ctx.text[: m.start()]) if d[0][:1].isdigit()]
        days = w.duration_days(f"{m['n']} {said[-1][0].split()[-1]}") if said else None
        return None if days is None else Atom(m.start(), m.end(), {}, when=("days", days))

    @staticmethod
    def _loose_cal(m: re.Match[str], ctx: Context) -> Atom | None:
        found = w.calendar_range(m["cal"], ctx.today)
        return None if found is None else Atom(m.start(), m.end(), {}, when=("range", found))

    def _last_order_between(self, m: re.Match[str], _ctx: Context) -> Atom | None:
        """'last order between 30 and 60 days ago': older than one, within the other."""
        high = w.duration_days(m["dur"])
        unit = m["dur"].split()[-1]
        low = (
            w.duration_days(m["d1"])
            if not re.fullmatch(w.NUMBER, m["d1"])
            else w.duration_days(f"{m['d1']} {unit}")
        )
        if high is None or low is None or low >= high:
            return None
        return Atom(
            m.start(),
            m.end(),
            _and(
                _cond("last_order_at", "not_within_last_days", low),
                _cond("last_order_at", "within_last_days", high),
            ),
        )

    @staticmethod
    def share_percentile(m: re.Match[str]) -> tuple[bool, int] | None:
        """(high, q) for a `spend_share` match: 'top 20%' is (True, 80), 'bottom half' (False, 50)."""
        high = m["side"] in ("top", "highest", "upper", "best", "biggest", "largest")
        if m["part"]:
            n = {"half": 50, "quartile": 25, "quarter": 25, "quintile": 20, "fifth": 20}.get(m["part"], 10)
        else:
            value = w.number(m["n"])
            if value is None or value != value.to_integral_value() or not 0 < value < 100:
                return None
            n = int(value)
        return high, 100 - n if high else n

    def _spend_share(self, m: re.Match[str], ctx: Context) -> Atom | None:
        if re.match(r" (?:of \S+ )?(?:by|in terms of|based on|ranked by|on|for) ", m.string[m.end() :]):
            return None  # "top 20% by orders": a share of something else, reported
        found = self.share_percentile(m)
        if found is None:
            return None
        high, q = found
        return self._spend_bound(m, ctx, "gte" if high else "lte", q)

    def _spend_median(self, m: re.Match[str], ctx: Context) -> Atom | None:
        if m["above"]:
            cmp = "gt" if m["above"] in ("above", "over") else "lt"
        else:
            cmp = _CMP_OF[m["cmp"]]
            if cmp not in ("gt", "gte", "lt", "lte"):
                return None
        return self._spend_bound(m, ctx, cmp, 50)

    @staticmethod
    def _spend_bound(m: re.Match[str], ctx: Context, cmp: str, q: int) -> Atom | None:
        """Total spend compared with its q-th percentile now, rounded outwards to the paisa."""
        spend = ctx.catalog.spend
        at = spend.at(q) if spend is not None and spend.customers else None
        if spend is None or at is None:
            return None  # no distribution to read it against: reported, not guessed
        upward = cmp in ("gt", "gte")
        bound = at.quantize(Decimal("0.01"), rounding=ROUND_CEILING if upward else ROUND_FLOOR)
        where = "the median" if q == 50 else f"the {q}{_ordinal(q)} percentile"
        sign = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}[cmp]
        note = (
            f"“{m[0]}” read as total spend {sign} {w.plain(bound)}, {where} of all "
            f"{spend.customers} customers now"
        )
        return Atom(m.start(), m.end(), _cond("total_spend", cmp, w.plain(bound)), note=note)

    def _value_tier(self, *, high: bool) -> Handler:
        def handle(m: re.Match[str], ctx: Context) -> Atom | None:
            spend = ctx.catalog.spend
            if spend is None or spend.customers == 0:
                return None  # no distribution to read it against: reported, not guessed
            if high:
                bound = spend.p90.quantize(Decimal("0.01"), rounding=ROUND_CEILING)
                node, said = _cond("total_spend", "gte", w.plain(bound)), "the top 10% by total spend"
                where = "the 90th percentile"
            else:
                bound = spend.p10.quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
                node, said = _cond("total_spend", "lte", w.plain(bound)), "the bottom 10% by total spend"
                where = "the 10th percentile"
            note = (
                f"“{m[0]}” read as {said}: total spend {'≥' if high else '≤'} {w.plain(bound)}, "
                f"{where} of all {spend.customers} customers now"
            )
            return Atom(m.start(), m.end(), node, note=note)

        return handle

    def _compared_count(self, m: re.Match[str], ctx: Context) -> Atom | None:
        """'orders > 5', 'purchases at least 3': a count, when a comparison is written."""
        if not (m["cmp"] or m["post"] or m["lo"] or m["lo2"]):
            return None
        if any((n := _count(v)) is not None and n >= 1000 for g in ("val", "lo", "lo2") if (v := m[g])):
            return None  # "purchases over 5000" is money: left to the amount patterns, or reported
        atom = self._counted("order_count", bare="eq")(m, ctx)
        return atom if isinstance(atom, Atom) else None

    def _named(self, m: re.Match[str], ctx: Context) -> Atom | None:
        """'named Asha or Ravi': one `contains` per name; a name is capitalised or no keyword."""
        names: list[list[str]] = [[]]
        end = m.start("v")
        pos = m.start("v")
        for word in m["v"].split(" "):
            if word in ("or", "and", ","):
                if not names[-1]:
                    break
                names.append([])
            elif (
                (word in ctx.capitalised or word not in ctx.grammar.vocabulary)
                and word not in FILLER
                and word not in CONNECTIVES
                and word not in ctx.grammar.cities
                and len(names[-1]) < 3
            ):
                names[-1].append(word)
                end = pos + len(word)
            else:
                break
            pos += len(word) + 1
        found = [" ".join(n) for n in names if n]
        if not found:
            return None
        rules = [_cond("name", "contains", n) for n in found]
        node = rules[0] if len(rules) == 1 else {"op": "or", "rules": rules}
        return Atom(m.start(), end, node)

    def _name_has(self, m: re.Match[str], ctx: Context) -> Atom | None:
        """'with Smith in their name': a name is capitalised or no keyword."""
        word = m["v"]
        if word not in ctx.capitalised and word in ctx.grammar.vocabulary:
            return None
        return Atom(m.start(), m.end(), _cond("name", "contains", word))

    def _bare_amount(self, m: re.Match[str], ctx: Context) -> Atom | None:
        money = any(w.is_money_like(v) for g in ("val", "lo", "lo2") if (v := m.groupdict().get(g)))
        # "more than 5k in Pune or 10k in Mumbai": an amount right after "or", written as money
        inherit = (
            money
            and m.string[: m.start()].endswith(" or ")
            and not (m["cmp"] or m["post"])
            and re.match(r" (?:in|from|for|among|at) ", ctx.text[m.end() :]) is not None
        )
        if not (m["cmp"] or m["post"] or m["lo"] or m["lo2"] or inherit):
            return None  # a number alone is no condition
        if _PERCENT_AFTER.match(m.string, m.end()):
            return None
        found = _compare(m, _money, bare="gte")
        if found is None:
            return None
        return Atom(m.start(), m.end(), {}, pending=found, money=money, inherit=bool(inherit))

    def _bare_times(self, m: re.Match[str], _ctx: Context) -> Atom | None:
        """'… or 5 times in Delhi': a count whose verb was said in the parallel clause before."""
        found = _compare(m, _count, bare="eq")
        return None if found is None else Atom(m.start(), m.end(), {}, pending=found, times=True)

    def _place_unknown(self, m: re.Match[str], ctx: Context) -> Atom | None:
        words = m["city"].split()
        while words and (words[-1] in FILLER or words[-1] in CONNECTIVES or words[-1] in self.vocabulary):
            words.pop()
        if not words or any(x not in ctx.capitalised for x in words):
            return None  # a place we don't know must at least be written as a name
        if any(x in self.vocabulary or x in FILLER or x in w.MONTHS for x in words):
            return None
        if " ".join(words) in REGIONS or words[0] in REGIONS:
            return None  # a state or a country is no city: reported, not read as one
        name = " ".join(x.capitalize() for x in words)
        end = m.start("city") + len(" ".join(words))
        atom = _place_atom(m, (name,), negated=bool(m["neg"]), bare=False)
        atom.end = end
        return atom


def _named_day(m: re.Match[str]) -> bool:
    """A named day's date said without brackets ("… Diwali on 8 Nov") only after a word for a
    point in time (since, after, before): "first order in app on 3 March" is a place to buy."""
    groups = m.groupdict()
    return (
        not groups.get("named")
        or bool(groups.get("lp"))
        or groups.get("rel") not in ("in", "during", "on", "from", "between")
    )


def _ordinal(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


@lru_cache(maxsize=16)
def grammar_for(catalog: Catalog) -> Grammar:
    return Grammar(catalog)
