"""Round 6 tuning prompts: what eight different marketers type, each with the tree it must mean.

Written for round 6 by someone who had not read the engine, before any engine change, from the
rule language (docs/segments.md), the evaluation data set (tests/ai/evaluation.py) and the
reference matcher (tests/segments/reference.py) only. The prompts are in eight marketers'
voices, about 25 each: terse; chatty (full sentences with filler); typo-ridden; symbols and
abbreviations; business jargon (cohort, LTV, RFM, winback, reactivation); long compound
requests; questions; negatives and exclusions.

An expected tree of None is a prompt the rule language cannot say (products, categories,
channels, age, gender, birthdays, opens or clicks of a campaign named without an id, rankings,
comparisons between two fields, totals limited to a period, lookalikes, predictions, and
prompts that mix an expressible part with one of those), or one a careful person could not
disambiguate. Percentiles are named by placeholder ("P90") and resolved on the data set.

Scored before any engine change: 199 of 225 (0.8844), 2 silently wrong.
"""

from __future__ import annotations

from tests.ai.corpus import (
    AND,
    AOV,
    CITY,
    FIRST,
    JOINED,
    LAST,
    NOT,
    OPT_IN,
    OR,
    ORDERS,
    SPEND,
    TIER,
    VIP,
    VISITS,
    Node,
    c,
)

EMAIL, PHONE = "email", "phone"

THIS_YEAR = "2025-12-31"  # "this year": after the last day of 2025
THIS_MONTH = "2026-10-31"  # "this month": after the last day of October 2026
YEAR_2025 = ["2025-01-01", "2025-12-31"]
YEAR_2024 = ["2024-01-01", "2024-12-31"]

TERSE: list[tuple[str, Node | None]] = [
    ("big spenders in pune", AND(c(SPEND, "gte", "P90"), c(CITY, "eq", "Pune"))),
    ("gold tier", c(TIER, "eq", "gold")),
    ("vips", c(VIP, "eq", True)),
    ("opted out", c(OPT_IN, "eq", False)),
    ("no email", c(EMAIL, "is_not_set")),
    ("chennai, 3+ orders", AND(c(CITY, "eq", "Chennai"), c(ORDERS, "gte", 3))),
    ("lapsed platinum", AND(c(LAST, "not_within_last_days", 90), c(TIER, "eq", "platinum"))),
    ("aov under 1000", c(AOV, "lt", 1000)),
    ("joined this year", c(JOINED, "after", THIS_YEAR)),
    ("never ordered", c(ORDERS, "eq", 0)),
    ("one-time buyers, kolkata", AND(c(ORDERS, "eq", 1), c(CITY, "eq", "Kolkata"))),
    ("visits 20+", c(VISITS, "gte", 20)),
    ("no city", c(CITY, "is_not_set")),
    ("new customers", c(JOINED, "within_last_days", 30)),
    ("spend 10k-50k", c(SPEND, "between", [10000, 50000])),
    ("low spenders", c(SPEND, "lte", "P10")),
    ("first order 2025", c(FIRST, "between", YEAR_2025)),
    ("recent buyers, opted in", AND(c(LAST, "within_last_days", 30), c(OPT_IN, "eq", True))),
    ("silver or bronze", c(TIER, "in", ["silver", "bronze"])),
    ("last order over 45 days ago", AND(c(LAST, "not_within_last_days", 45), c(LAST, "is_set"))),
    ("non-vip whales", AND(c(VIP, "ne", True), c(SPEND, "gte", "P90"))),
    ("repeat buyers in noida", AND(c(ORDERS, "gte", 2), c(CITY, "eq", "Noida"))),
    ("dormant 6 months", c(LAST, "not_within_last_days", 180)),
    ("top 50 customers", None),
    ("shoe buyers", None),
    ("women in delhi", None),
    ("likely churners", None),
    ("loyal ones", None),
]

CHATTY: list[tuple[str, Node | None]] = [
    (
        "hey can you pull up everyone in Bengaluru who's spent more than 20,000 with us?",
        AND(c(CITY, "eq", "Bengaluru"), c(SPEND, "gt", 20000)),
    ),
    (
        "Hi! I'd love a list of all our gold members who have placed at least 5 orders, thanks so much",
        AND(c(TIER, "eq", "gold"), c(ORDERS, "gte", 5)),
    ),
    (
        "hey could you grab me the folks who signed up in the last two weeks but haven't bought anything yet",
        AND(c(JOINED, "within_last_days", 14), c(ORDERS, "eq", 0)),
    ),
    (
        "so I'm putting together a newsletter and I need everyone who's opted in to marketing emails, please",
        c(OPT_IN, "eq", True),
    ),
    ("can you find me customers whose average order is above 3,000 rupees? just curious", c(AOV, "gt", 3000)),
    (
        "hey, pull up our VIPs in Mumbai please, want to send them a thank-you note",
        AND(c(VIP, "eq", True), c(CITY, "eq", "Mumbai")),
    ),
    (
        "I need to clean up our list, can you show me everybody we don't have an email address for?",
        c(EMAIL, "is_not_set"),
    ),
    (
        "hi there, could you get me the people who haven't ordered anything in the last 60 days?",
        c(LAST, "not_within_last_days", 60),
    ),
    (
        "so basically I want the platinum folks who haven't ordered anything in like three months",
        AND(c(TIER, "eq", "platinum"), c(LAST, "not_within_last_days", 90)),
    ),
    ("hey can you pull up anyone who's visited more than 15 times", c(VISITS, "gt", 15)),
    ("hey quick one: customers who joined back in 2024, can you list them?", c(JOINED, "between", YEAR_2024)),
    (
        "could you help me find people whose first order was in the last 30 days? welcome series stuff",
        c(FIRST, "within_last_days", 30),
    ),
    (
        "hey hey, I want the Hyderabad and Chennai customers together in one list if possible",
        c(CITY, "in", ["Hyderabad", "Chennai"]),
    ),
    (
        "pull up please everyone with a total spend of at least 1 lakh, we're doing a premium event",
        c(SPEND, "gte", 100000),
    ),
    (
        "so for the loyalty push can you get me people with 10 or more orders who aren't VIP yet?",
        AND(c(ORDERS, "gte", 10), c(VIP, "ne", True)),
    ),
    (
        "hey, can you pull up the customers who bought in the last week? I want to send a review request",
        c(LAST, "within_last_days", 7),
    ),
    (
        "could I get a list of customers we don't have a city for? the data team wants to fix them",
        c(CITY, "is_not_set"),
    ),
    (
        "hey can you pull up the best customers who have opted in to marketing",
        AND(c(SPEND, "gte", "P90"), c(OPT_IN, "eq", True)),
    ),
    (
        "hiya, I'd like everyone who spent between 5,000 and 15,000 and lives in Pune",
        AND(c(SPEND, "between", [5000, 15000]), c(CITY, "eq", "Pune")),
    ),
    (
        "hey can you pull up people who opted out of marketing but still buy, like ordered in the last month",
        AND(c(OPT_IN, "eq", False), c(LAST, "within_last_days", 30)),
    ),
    (
        "would you mind getting me anyone whose last purchase was over a year ago?",
        AND(c(LAST, "not_within_last_days", 365), c(LAST, "is_set")),
    ),
    (
        "hey can you show me the bronze folks in Nagpur, thanks!",
        AND(c(TIER, "eq", "bronze"), c(CITY, "eq", "Nagpur")),
    ),
    ("hey can you pull up everyone who bought something from the kids' collection?", None),
    ("hi! could you find the customers with birthdays coming up this month so we can send a treat?", None),
    ("hey can you pull up people who came in through our Instagram ads?", None),
    ("so can you get me the customers who are similar to our best VIPs, like a lookalike group?", None),
    ("hey can you pull up everyone who spent over 10k in the last month", None),
    ("hey can you get me our frequent shoppers?", None),
]

TYPOS: list[tuple[str, Node | None]] = [
    ("custmers in mumbia", c(CITY, "eq", "Mumbai")),
    ("spnt more then 5000", c(SPEND, "gt", 5000)),
    ("gold teir custmers in dehli", AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Delhi"))),
    ("havent orderd in 90 dys", c(LAST, "not_within_last_days", 90)),
    ("vip custoemrs", c(VIP, "eq", True)),
    ("peple who nevr ordred", c(ORDERS, "eq", 0)),
    ("avrage order valu over 2000", c(AOV, "gt", 2000)),
    ("joind in the last 7 days", c(JOINED, "within_last_days", 7)),
    ("oped in to marketting", c(OPT_IN, "eq", True)),
    ("custmers with no emial", c(EMAIL, "is_not_set")),
    ("platnum tier in bangalore", AND(c(TIER, "eq", "platinum"), c(CITY, "eq", "Bengaluru"))),
    ("atleast 3 ordres", c(ORDERS, "gte", 3)),
    ("lapsd custmers in hyderbad", AND(c(LAST, "not_within_last_days", 90), c(CITY, "eq", "Hyderabad"))),
    ("frist order befor 2025", c(FIRST, "before", "2025-01-01")),
    ("last ordr in the past 2 weks", c(LAST, "within_last_days", 14)),
    ("spend betwen 1000 and 3000", c(SPEND, "between", [1000, 3000])),
    ("non vip big spendrs", AND(c(VIP, "ne", True), c(SPEND, "gte", "P90"))),
    ("custmers from kochi or chenai", c(CITY, "in", ["Kochi", "Chennai"])),
    ("more then 25 vists", c(VISITS, "gt", 25)),
    ("silvr tier that opted out", AND(c(TIER, "eq", "silver"), c(OPT_IN, "eq", False))),
    ("repet custmers that joind this yr", AND(c(ORDERS, "gte", 2), c(JOINED, "after", THIS_YEAR))),
    ("no citty on file", c(CITY, "is_not_set")),
    ("one tim buyers with spnd under 500", AND(c(ORDERS, "eq", 1), c(SPEND, "lt", 500))),
    ("custmers who bougth jeans", None),
    ("pepole aged 25 to 35", None),
    ("custmers likly to churn nxt month", None),
]

SYMBOLS: list[tuple[str, Node | None]] = [
    ("spend>=10k & city=Pune", AND(c(SPEND, "gte", 10000), c(CITY, "eq", "Pune"))),
    ("orders>5", c(ORDERS, "gt", 5)),
    ("AOV<₹800", c(AOV, "lt", 800)),
    ("tier=gold|platinum", c(TIER, "in", ["gold", "platinum"])),
    ("vip=Y, opt-in=Y", AND(c(VIP, "eq", True), c(OPT_IN, "eq", True))),
    ("last order <30d", c(LAST, "within_last_days", 30)),
    ("last ord >60d ago", AND(c(LAST, "not_within_last_days", 60), c(LAST, "is_set"))),
    ("joined w/in 90d", c(JOINED, "within_last_days", 90)),
    ("spend 2.5L+", c(SPEND, "gte", 250000)),
    ("ttl spend ≤ ₹1,000", c(SPEND, "lte", 1000)),
    ("#orders = 1 & city = Noida", AND(c(ORDERS, "eq", 1), c(CITY, "eq", "Noida"))),
    ("visits ≥ 10 & orders = 0", AND(c(VISITS, "gte", 10), c(ORDERS, "eq", 0))),
    ("email: none", c(EMAIL, "is_not_set")),
    ("city: blank", c(CITY, "is_not_set")),
    ("vip: null", c(VIP, "is_not_set")),
    ("opt-in=N", c(OPT_IN, "eq", False)),
    ("tier != bronze", c(TIER, "ne", "bronze")),
    ("city ≠ Mumbai/Delhi", c(CITY, "not_in", ["Mumbai", "Delhi"])),
    ("1st order ≥ 2026-01-01", c(FIRST, "after", "2025-12-31")),
    ("signup < Jan '24", c(JOINED, "before", "2024-01-01")),
    ("spend > 1cr", c(SPEND, "gt", 10_000_000)),
    ("top 10% by spend", c(SPEND, "gte", "P90")),
    ("top 25% spend", c(SPEND, "gte", "P75")),
    ("bottom 10% spenders", c(SPEND, "lte", "P10")),
    ("AOV 500-1500, Kolkata", AND(c(AOV, "between", [500, 1500]), c(CITY, "eq", "Kolkata"))),
    ("no ord 45d+", c(LAST, "not_within_last_days", 45)),
    ("vip≠Y", c(VIP, "ne", True)),
    ("spend > AOV*5", None),
    ("top 100 by spend", None),
    ("≥3 orders in last 7d", None),
    ("cat=electronics", None),
    ("spend>5k last 30d", None),
]

JARGON: list[tuple[str, Node | None]] = [
    ("winback cohort", c(LAST, "not_within_last_days", 90)),
    (
        "reactivation list: lapsed 120+ days, 3+ lifetime orders",
        AND(c(LAST, "not_within_last_days", 120), c(ORDERS, "gte", 3)),
    ),
    ("high-LTV cohort in Mumbai", AND(c(SPEND, "gte", "P90"), c(CITY, "eq", "Mumbai"))),
    ("LTV over 50k", c(SPEND, "gt", 50000)),
    ("Q3 2026 acquisition cohort", c(JOINED, "between", ["2026-07-01", "2026-09-30"])),
    ("churned high-value customers", AND(c(LAST, "not_within_last_days", 90), c(SPEND, "gte", "P90"))),
    ("at-risk gold members", AND(c(LAST, "not_within_last_days", 90), c(TIER, "eq", "gold"))),
    ("net-new customers this month", c(JOINED, "after", THIS_MONTH)),
    ("first-purchase cohort from the last 60 days", c(FIRST, "within_last_days", 60)),
    (
        "activation gap: signed up over 30 days ago, zero orders",
        AND(c(JOINED, "not_within_last_days", 30), c(ORDERS, "eq", 0)),
    ),
    ("marketable base: opted in and has an email", AND(c(OPT_IN, "eq", True), c(EMAIL, "is_set"))),
    (
        "AOV uplift targets: AOV below 1,000 with 4+ orders",
        AND(c(AOV, "lt", 1000), c(ORDERS, "gte", 4)),
    ),
    ("dormant platinum accounts", AND(c(LAST, "not_within_last_days", 90), c(TIER, "eq", "platinum"))),
    ("engaged non-buyers: 10+ visits, no orders", AND(c(VISITS, "gte", 10), c(ORDERS, "eq", 0))),
    ("top-decile spenders", c(SPEND, "gte", "P90")),
    ("top quintile by spend", c(SPEND, "gte", "P80")),
    ("upsell cohort: silver tier, spend above 20k", AND(c(TIER, "eq", "silver"), c(SPEND, "gt", 20000))),
    ("consented VIP segment", AND(c(VIP, "eq", True), c(OPT_IN, "eq", True))),
    ("suppression list: opted out of marketing", c(OPT_IN, "eq", False)),
    ("one-and-done buyers", c(ORDERS, "eq", 1)),
    ("recency under 14 days", c(LAST, "within_last_days", 14)),
    (
        "lapsed VIPs in Delhi",
        AND(c(LAST, "not_within_last_days", 90), c(VIP, "eq", True), c(CITY, "eq", "Delhi")),
    ),
    (
        "win-back targets who lapsed 6+ months ago but spent 25k+ lifetime",
        AND(c(LAST, "not_within_last_days", 180), c(SPEND, "gte", 25000)),
    ),
    ("RFM champions", None),
    ("predicted CLV top tier", None),
    ("churn propensity above 0.7", None),
    ("the cohort with the highest retention", None),
    ("detractors with NPS below 6", None),
]

COMPOUND: list[tuple[str, Node | None]] = [
    (
        "customers in Mumbai or Pune who spent over 10,000, have at least 3 orders and opted in to marketing",
        AND(
            c(CITY, "in", ["Mumbai", "Pune"]),
            c(SPEND, "gt", 10000),
            c(ORDERS, "gte", 3),
            c(OPT_IN, "eq", True),
        ),
    ),
    (
        "gold or platinum tier, last ordered within 60 days, average order above 2,000, and not VIP",
        AND(
            c(TIER, "in", ["gold", "platinum"]),
            c(LAST, "within_last_days", 60),
            c(AOV, "gt", 2000),
            c(VIP, "ne", True),
        ),
    ),
    (
        "joined this year, has placed exactly one order, lives in Bengaluru and has an email on file",
        AND(
            c(JOINED, "after", THIS_YEAR),
            c(ORDERS, "eq", 1),
            c(CITY, "eq", "Bengaluru"),
            c(EMAIL, "is_set"),
        ),
    ),
    (
        "VIPs who haven't ordered in 90 days, spent at least 50k in total and are opted in",
        AND(
            c(VIP, "eq", True),
            c(LAST, "not_within_last_days", 90),
            c(SPEND, "gte", 50000),
            c(OPT_IN, "eq", True),
        ),
    ),
    (
        "customers with more than 20 visits, fewer than 2 orders, in Delhi or Noida",
        AND(c(VISITS, "gt", 20), c(ORDERS, "lt", 2), c(CITY, "in", ["Delhi", "Noida"])),
    ),
    (
        "first order in 2025, last order in the last 30 days, total spend over 5k",
        AND(c(FIRST, "between", YEAR_2025), c(LAST, "within_last_days", 30), c(SPEND, "gt", 5000)),
    ),
    (
        "silver tier customers in Chennai who spent between 2,000 and 8,000 and visited at least 5 times",
        AND(
            c(TIER, "eq", "silver"),
            c(CITY, "eq", "Chennai"),
            c(SPEND, "between", [2000, 8000]),
            c(VISITS, "gte", 5),
        ),
    ),
    (
        "either VIPs or customers who spent over 1 lakh, as long as they opted in to marketing",
        AND(OR(c(VIP, "eq", True), c(SPEND, "gt", 100000)), c(OPT_IN, "eq", True)),
    ),
    (
        "bronze tier with 5 or more orders and an average order under 1,500, excluding Mumbai",
        AND(c(TIER, "eq", "bronze"), c(ORDERS, "gte", 5), c(AOV, "lt", 1500), c(CITY, "ne", "Mumbai")),
    ),
    (
        "signed up over a year ago, never ordered, opted in, and we have their email",
        AND(
            c(JOINED, "not_within_last_days", 365),
            c(ORDERS, "eq", 0),
            c(OPT_IN, "eq", True),
            c(EMAIL, "is_set"),
        ),
    ),
    (
        "customers in Hyderabad who joined in the last 90 days and have already made 2 or more orders",
        AND(c(CITY, "eq", "Hyderabad"), c(JOINED, "within_last_days", 90), c(ORDERS, "gte", 2)),
    ),
    (
        "last order between 30 and 90 days ago, 3+ orders, gold tier",
        AND(
            c(LAST, "not_within_last_days", 30),
            c(LAST, "within_last_days", 90),
            c(ORDERS, "gte", 3),
            c(TIER, "eq", "gold"),
        ),
    ),
    (
        "Kolkata or Kochi customers who are either gold tier or VIP and spent more than 15,000",
        AND(
            c(CITY, "in", ["Kolkata", "Kochi"]),
            OR(c(TIER, "eq", "gold"), c(VIP, "eq", True)),
            c(SPEND, "gt", 15000),
        ),
    ),
    (
        "high-value customers who haven't ordered in 60 days, are not VIP, and have opted in",
        AND(
            c(SPEND, "gte", "P90"),
            c(LAST, "not_within_last_days", 60),
            c(VIP, "ne", True),
            c(OPT_IN, "eq", True),
        ),
    ),
    (
        "new customers this month with an average order over 3,000 who are in Pune",
        AND(c(JOINED, "after", THIS_MONTH), c(AOV, "gt", 3000), c(CITY, "eq", "Pune")),
    ),
    (
        "customers with no city on file who spent over 5,000 and ordered in the last 90 days",
        AND(c(CITY, "is_not_set"), c(SPEND, "gt", 5000), c(LAST, "within_last_days", 90)),
    ),
    (
        "platinum customers in Mumbai, Delhi or Bengaluru with 10+ orders who ordered in the last 2 weeks",
        AND(
            c(TIER, "eq", "platinum"),
            c(CITY, "in", ["Mumbai", "Delhi", "Bengaluru"]),
            c(ORDERS, "gte", 10),
            c(LAST, "within_last_days", 14),
        ),
    ),
    (
        "one-time buyers whose single order was over 5,000, who joined before 2026 and are opted in",
        AND(
            c(ORDERS, "eq", 1),
            c(SPEND, "gt", 5000),
            c(JOINED, "before", "2026-01-01"),
            c(OPT_IN, "eq", True),
        ),
    ),
    (
        "customers with at most 3 visits, at least 1 order, and last order in the last 45 days",
        AND(c(VISITS, "lte", 3), c(ORDERS, "gte", 1), c(LAST, "within_last_days", 45)),
    ),
    (
        "lapsed customers in Nagpur with total spend above 3,000 who are not VIP",
        AND(
            c(LAST, "not_within_last_days", 90),
            c(CITY, "eq", "Nagpur"),
            c(SPEND, "gt", 3000),
            c(VIP, "ne", True),
        ),
    ),
    (
        "first ordered more than 2 years ago, still ordering in the last 30 days, spend 50k or more",
        AND(
            c(FIRST, "not_within_last_days", 730),
            c(LAST, "within_last_days", 30),
            c(SPEND, "gte", 50000),
        ),
    ),
    (
        "either repeat customers in Chennai or one-time buyers in Kochi",
        OR(
            AND(c(ORDERS, "gte", 2), c(CITY, "eq", "Chennai")),
            AND(c(ORDERS, "eq", 1), c(CITY, "eq", "Kochi")),
        ),
    ),
    ("Mumbai customers who bought running shoes in the last 30 days and spent over 5k", None),
    ("gold tier, over 5 orders, and opened the Diwali email", None),
    ("Pune VIPs who are likely to buy again in December", None),
    ("customers in Delhi aged over 40 with 3+ orders", None),
]

QUESTIONS: list[tuple[str, Node | None]] = [
    ("who hasn't bought anything since March?", NOT(c(LAST, "after", "2026-02-28"))),
    ("which customers spent more than 25,000?", c(SPEND, "gt", 25000)),
    ("how many VIPs do we have in Kolkata?", AND(c(VIP, "eq", True), c(CITY, "eq", "Kolkata"))),
    ("who are our one-time buyers?", c(ORDERS, "eq", 1)),
    ("which customers joined in October?", c(JOINED, "between", ["2026-10-01", "2026-10-31"])),
    ("who ordered in the last 3 days?", c(LAST, "within_last_days", 3)),
    ("who has an average order value of 5,000 or more?", c(AOV, "gte", 5000)),
    (
        "which gold members haven't ordered in 45 days?",
        AND(c(TIER, "eq", "gold"), c(LAST, "not_within_last_days", 45)),
    ),
    ("who's opted out of marketing?", c(OPT_IN, "eq", False)),
    ("which customers don't have an email?", c(EMAIL, "is_not_set")),
    ("who visited fewer than 5 times?", c(VISITS, "lt", 5)),
    ("which customers are missing a city?", c(CITY, "is_not_set")),
    ("who placed their first order this year?", c(FIRST, "after", THIS_YEAR)),
    ("who are the big spenders in Delhi?", AND(c(SPEND, "gte", "P90"), c(CITY, "eq", "Delhi"))),
    ("which platinum customers aren't VIP?", AND(c(TIER, "eq", "platinum"), c(VIP, "ne", True))),
    ("who has more than 8 orders?", c(ORDERS, "gt", 8)),
    (
        "who signed up before 2025 but never bought?",
        AND(c(JOINED, "before", "2025-01-01"), c(ORDERS, "eq", 0)),
    ),
    (
        "which customers last ordered more than 6 months ago?",
        AND(c(LAST, "not_within_last_days", 180), c(LAST, "is_set")),
    ),
    ("who spent under 1,000 in total?", c(SPEND, "lt", 1000)),
    (
        "which customers in Pune or Nagpur are opted in?",
        AND(c(CITY, "in", ["Pune", "Nagpur"]), c(OPT_IN, "eq", True)),
    ),
    ("who's in the top 5% by spend?", c(SPEND, "gte", "P95")),
    ("which customers have no tier assigned?", c(TIER, "is_not_set")),
    ("who hasn't told us either way about marketing consent?", c(OPT_IN, "is_not_set")),
    ("who are our 20 best customers?", None),
    ("which customers bought a gift card?", None),
    ("who clicked on the summer sale email?", None),
    ("who spends more per order now than they used to?", None),
    ("who placed 2 orders this week?", None),
    ("who spent more than 10k this year?", None),
]

NEGATIVES: list[tuple[str, Node | None]] = [
    ("everyone except VIPs", c(VIP, "ne", True)),
    ("customers not in Mumbai", c(CITY, "ne", "Mumbai")),
    ("exclude anyone who opted out", c(OPT_IN, "ne", False)),
    ("customers who are not gold tier", c(TIER, "ne", "gold")),
    ("everyone outside Delhi, Noida and Mumbai", c(CITY, "not_in", ["Delhi", "Noida", "Mumbai"])),
    ("customers who haven't ordered in the last 30 days", c(LAST, "not_within_last_days", 30)),
    ("people who have never placed an order", c(ORDERS, "eq", 0)),
    ("customers who have not opted in to marketing", c(OPT_IN, "ne", True)),
    ("exclude bronze and silver tiers", c(TIER, "not_in", ["bronze", "silver"])),
    ("not VIP and not opted out", AND(c(VIP, "ne", True), c(OPT_IN, "ne", False))),
    (
        "customers with an email, excluding anyone in Chennai",
        AND(c(EMAIL, "is_set"), c(CITY, "ne", "Chennai")),
    ),
    (
        "repeat customers, but leave out the platinum tier",
        AND(c(ORDERS, "gte", 2), c(TIER, "ne", "platinum")),
    ),
    ("everyone who didn't join this year", c(JOINED, "before", "2026-01-01")),
    ("big spenders who aren't in Bengaluru", AND(c(SPEND, "gte", "P90"), c(CITY, "ne", "Bengaluru"))),
    ("customers with no visits recorded", c(VISITS, "is_not_set")),
    ("exclude customers with no city", c(CITY, "is_set")),
    ("customers who aren't lapsed", c(LAST, "within_last_days", 90)),
    ("everyone but the one-time buyers", c(ORDERS, "ne", 1)),
    (
        "customers who didn't order in the last 2 months and aren't VIP",
        AND(c(LAST, "not_within_last_days", 60), c(VIP, "ne", True)),
    ),
    ("exclude anyone who spent more than 50k", c(SPEND, "lte", 50000)),
    (
        "everyone except the people in Kochi who never ordered",
        NOT(c(CITY, "eq", "Kochi"), c(ORDERS, "eq", 0)),
    ),
    ("customers with no phone number", c(PHONE, "is_not_set")),
    (
        "not VIP, not gold, not in Pune",
        AND(c(VIP, "ne", True), c(TIER, "ne", "gold"), c(CITY, "ne", "Pune")),
    ),
    (
        "customers without an order in the last 3 weeks who aren't in the bronze tier",
        AND(c(LAST, "not_within_last_days", 21), c(TIER, "ne", "bronze")),
    ),
    ("everyone except those who bought from the sale category", None),
    ("customers who didn't open the Black Friday email", None),
    ("everyone except our top 200 spenders", None),
    ("exclude customers under 18", None),
]

ROUND6: list[tuple[str, Node | None]] = (
    TERSE + CHATTY + TYPOS + SYMBOLS + JARGON + COMPOUND + QUESTIONS + NEGATIVES
)
