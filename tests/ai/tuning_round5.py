"""Round 5 of the words -> rules tuning prompts, each with the tree it should mean.

Written for round 5 by someone who had not read the engine, before any engine change. The
prompts probe readings that are easy to get silently wrong: the scope of a negation, "and"
that means "or" (and "or" that distributes over a shared condition), numbers that are not
amounts (counts, dates, percentiles, ranks), quantity words attached to the wrong field, calendar
and relative time phrases, value slang, and things the rule language cannot say. About forty
are ordinary prompts (typos, abbreviations, Indian amount formats) so the set is not only
adversarial.

An expected tree of None means the prompt cannot be said exactly in the rule language (or a
careful person could not tell what it means): the engine must refuse it or flag the part it
did not understand, never answer something else quietly. Compared by audience on the data set
of tests/ai/evaluation.py, with `NOW` = Sunday 15 Nov 2026 12:00 UTC (tests/ai/corpus.py).

Conventions: absence ("haven't ordered in 60 days") includes customers who never ordered; "last
order more than N days ago" requires an order; months are 30 days, weeks 7, a quarter 91, a
year 365; "last week" is the last 7 days; vague lapse words (dormant, churned, at risk, lapsed,
inactive) mean no order in 90 days; "big spenders", "whales" and "top customers" are the top
10% by spend (P90), "low spenders" the bottom 10% (P10); "top N%" by spend is gte P(100-N).
Calendar phrases: "this month" is after 31 Oct 2026, "this quarter" after 30 Sep 2026, "this
year" after 31 Dec 2025. Slash dates are Indian (day/month/year). Tiers are ordered bronze <
silver < gold < platinum < diamond.

Scored before any engine change: 226 of 256 (0.8828), 14 silently wrong.
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

EMAIL, PHONE, NAME = "email", "phone", "name"

IS_VIP = c(VIP, "eq", True)
NOT_VIP = c(VIP, "ne", True)
OPTED_IN = c(OPT_IN, "eq", True)
BIG = c(SPEND, "gte", "P90")
LOW = c(SPEND, "lte", "P10")
LAPSED = c(LAST, "not_within_last_days", 90)
ORDERED = c(LAST, "is_set")
GOLD_UP = ["gold", "platinum", "diamond"]


def city(name: str) -> Node:
    return c(CITY, "eq", name)


def cities(*names: str) -> Node:
    return c(CITY, "in", list(names))


def on_day(field: str, day: str) -> Node:
    return c(field, "between", [day, day])


ROUND5: list[tuple[str, Node | None]] = [
    # --- negation scope ---------------------------------------------------------------------
    ("customers not in Mumbai or Delhi", c(CITY, "not_in", ["Mumbai", "Delhi"])),
    ("everyone except VIPs in Pune", NOT(AND(IS_VIP, city("Pune")))),
    ("Pune customers except the VIPs", AND(city("Pune"), NOT_VIP)),
    ("non-VIP customers who spent over 5k", AND(NOT_VIP, c(SPEND, "gt", 5000))),
    ("customers who are not both VIP and from Delhi", NOT(AND(IS_VIP, city("Delhi")))),
    (
        "Mumbai customers, excluding those who ordered in the last week",
        AND(city("Mumbai"), c(LAST, "not_within_last_days", 7)),
    ),
    ("customers who are not without orders", c(ORDERS, "gt", 0)),
    ("customers who aren't inactive", c(LAST, "within_last_days", 90)),
    ("everyone except those who haven't ordered in 90 days", c(LAST, "within_last_days", 90)),
    ("customers not in Mumbai, Delhi or Pune", c(CITY, "not_in", ["Mumbai", "Delhi", "Pune"])),
    ("all customers except those in Pune and Nagpur", c(CITY, "not_in", ["Pune", "Nagpur"])),
    ("customers who are not in Mumbai, or are VIPs", OR(c(CITY, "ne", "Mumbai"), IS_VIP)),
    ("customers outside Mumbai who aren't VIP", AND(c(CITY, "ne", "Mumbai"), NOT_VIP)),
    ("non-Mumbai VIPs", AND(c(CITY, "ne", "Mumbai"), IS_VIP)),
    ("VIPs not from Mumbai or Pune", AND(IS_VIP, c(CITY, "not_in", ["Mumbai", "Pune"]))),
    ("customers who are neither VIP nor opted in", AND(NOT_VIP, c(OPT_IN, "ne", True))),
    ("customers who aren't gold or platinum", c(TIER, "not_in", ["gold", "platinum"])),
    ("customers who are not gold tier or above", c(TIER, "not_in", GOLD_UP)),
    ("customers below gold tier", c(TIER, "in", ["bronze", "silver"])),
    (
        "haven't ordered in 60 days and aren't VIP",
        AND(c(LAST, "not_within_last_days", 60), NOT_VIP),
    ),
    ("spent over 5k but not in Mumbai", AND(c(SPEND, "gt", 5000), c(CITY, "ne", "Mumbai"))),
    ("everyone but the whales", c(SPEND, "lt", "P90")),
    ("all customers except the ones who never ordered", ORDERED),
    ("exclude customers who opted out of marketing", c(OPT_IN, "ne", False)),
    ("customers who haven't opted in to marketing", c(OPT_IN, "ne", True)),
    ("customers who are not VIP or gold", AND(NOT_VIP, c(TIER, "ne", "gold"))),
    ("no VIPs, no Mumbai", AND(NOT_VIP, c(CITY, "ne", "Mumbai"))),
    (
        "everyone except Pune VIPs and Delhi big spenders",
        NOT(OR(AND(city("Pune"), IS_VIP), AND(city("Delhi"), BIG))),
    ),
    ("customers that aren't non-VIPs", IS_VIP),
    (
        "customers who did not order in the last 30 days but did in the last 90",
        AND(c(LAST, "not_within_last_days", 30), c(LAST, "within_last_days", 90)),
    ),
    ("customers who haven't ordered since 1 September", NOT(c(LAST, "after", "2026-08-31"))),
    ("customers whose last order was before 1 September", c(LAST, "before", "2026-09-01")),
    ("customers with no orders this year", NOT(c(LAST, "after", "2025-12-31"))),
    ("customers who haven't ordered this month", NOT(c(LAST, "after", "2026-10-31"))),
    ("customers with a city on file that isn't Mumbai", AND(c(CITY, "is_set"), c(CITY, "ne", "Mumbai"))),
    ("everyone outside Mumbai", c(CITY, "ne", "Mumbai")),
    ("customers whose city we don't know", c(CITY, "is_not_set")),
    ("customers who don't lack an email address", c(EMAIL, "is_set")),
    # --- "and" / "or" structure -------------------------------------------------------------
    (
        "spent over 10k in Mumbai or over 5k in Pune",
        OR(AND(c(SPEND, "gt", 10000), city("Mumbai")), AND(c(SPEND, "gt", 5000), city("Pune"))),
    ),
    ("customers in Mumbai and Pune", cities("Mumbai", "Pune")),
    ("both Pune customers and Nagpur customers", cities("Pune", "Nagpur")),
    ("customers who are both gold tier and VIP", AND(c(TIER, "eq", "gold"), IS_VIP)),
    ("either VIPs or anyone who spent over 50k", OR(IS_VIP, c(SPEND, "gt", 50000))),
    (
        "either in Mumbai or spent over 10k, and opted in",
        AND(OR(city("Mumbai"), c(SPEND, "gt", 10000)), OPTED_IN),
    ),
    ("VIPs in Mumbai or Delhi", AND(IS_VIP, cities("Mumbai", "Delhi"))),
    ("VIPs in Mumbai, or anyone in Delhi", OR(AND(IS_VIP, city("Mumbai")), city("Delhi"))),
    ("Mumbai VIPs and Delhi big spenders", OR(AND(city("Mumbai"), IS_VIP), AND(city("Delhi"), BIG))),
    ("over 10k spend in Mumbai or Pune", AND(c(SPEND, "gt", 10000), cities("Mumbai", "Pune"))),
    (
        "customers in Pune who spent over 5k, and customers in Kochi who spent over 2k",
        OR(AND(city("Pune"), c(SPEND, "gt", 5000)), AND(city("Kochi"), c(SPEND, "gt", 2000))),
    ),
    (
        "Mumbai customers with over 5 orders or over 20k spend",
        AND(city("Mumbai"), OR(c(ORDERS, "gt", 5), c(SPEND, "gt", 20000))),
    ),
    (
        "customers in Mumbai with more than 5 orders and customers in Pune with more than 3",
        OR(AND(city("Mumbai"), c(ORDERS, "gt", 5)), AND(city("Pune"), c(ORDERS, "gt", 3))),
    ),
    (
        "Pune; spent over 5k; ordered in the last 30 days",
        AND(city("Pune"), c(SPEND, "gt", 5000), c(LAST, "within_last_days", 30)),
    ),
    ("Mumbai customers; exclude VIPs; only opted in", AND(city("Mumbai"), NOT_VIP, OPTED_IN)),
    (
        "VIPs, gold tier customers, and anyone in Kochi",
        OR(IS_VIP, c(TIER, "eq", "gold"), city("Kochi")),
    ),
    ("VIPs as well as gold tier customers", OR(IS_VIP, c(TIER, "eq", "gold"))),
    ("customers who are VIP as well as opted in", AND(IS_VIP, OPTED_IN)),
    ("Mumbai customers plus Pune customers", cities("Mumbai", "Pune")),
    ("VIPs plus anyone who spent over 1 lakh", OR(IS_VIP, c(SPEND, "gt", 100000))),
    ("opted-in Mumbai customers plus all VIPs", OR(AND(OPTED_IN, city("Mumbai")), IS_VIP)),
    ("Delhi customers along with the Noida ones", cities("Delhi", "Noida")),
    ("Pune big spenders along with anyone in Nagpur", OR(AND(city("Pune"), BIG), city("Nagpur"))),
    ("Delhi customers who are VIPs or big spenders", AND(city("Delhi"), OR(IS_VIP, BIG))),
    ("VIPs anywhere, or big spenders in Delhi", OR(IS_VIP, AND(BIG, city("Delhi")))),
    ("VIPs or big spenders in Delhi", None),  # does "in Delhi" bind both sides or one?
    ("spent over 5k and ordered in the last 30 days or VIP", None),  # precedence unclear
    ("gold and VIP customers", None),  # gold VIPs, or gold customers and VIP customers?
    ("silver or gold VIPs", AND(c(TIER, "in", ["silver", "gold"]), IS_VIP)),
    ("silver and gold customers", c(TIER, "in", ["silver", "gold"])),
    (
        "opted-in customers in Chennai or Kochi who haven't ordered in 60 days",
        AND(OPTED_IN, cities("Chennai", "Kochi"), c(LAST, "not_within_last_days", 60)),
    ),
    (
        "at least 2 orders or at least 10k spend, but only opted-in customers",
        AND(OR(c(ORDERS, "gte", 2), c(SPEND, "gte", 10000)), OPTED_IN),
    ),
    (
        "VIP or opted in but not both",
        OR(AND(IS_VIP, c(OPT_IN, "ne", True)), AND(NOT_VIP, OPTED_IN)),
    ),
    (
        "ordered in the last 30 days in Mumbai or the last 60 days in Pune",
        OR(
            AND(c(LAST, "within_last_days", 30), city("Mumbai")),
            AND(c(LAST, "within_last_days", 60), city("Pune")),
        ),
    ),
    (
        "spent over 5k in Mumbai, over 8k in Delhi and over 3k everywhere else",
        OR(
            AND(city("Mumbai"), c(SPEND, "gt", 5000)),
            AND(city("Delhi"), c(SPEND, "gt", 8000)),
            AND(c(CITY, "not_in", ["Mumbai", "Delhi"]), c(SPEND, "gt", 3000)),
        ),
    ),
    ("customers in Mumbai and with over 5 orders", AND(city("Mumbai"), c(ORDERS, "gt", 5))),
    ("Kolkata and Kochi VIPs", AND(cities("Kolkata", "Kochi"), IS_VIP)),
    # --- numbers that are not amounts -------------------------------------------------------
    ("customers in our top 5 cities", None),
    ("top 5 cities by spend", None),
    ("customers with over 3 orders and over 3k spend", AND(c(ORDERS, "gt", 3), c(SPEND, "gt", 3000))),
    ("spent 3k+ across 3+ orders", AND(c(SPEND, "gte", 3000), c(ORDERS, "gte", 3))),
    ("customers with 3 orders", c(ORDERS, "eq", 3)),
    ("customers whose last 2 orders were above 1000", None),
    ("AOV of the last 3 orders over 2k", None),
    ("customers who joined on 2 Oct 2026", on_day(JOINED, "2026-10-02")),
    ("customers who joined after 15/08/2026", c(JOINED, "after", "2026-08-15")),
    ("joined before 1/4/2026", c(JOINED, "before", "2026-04-01")),
    ("customers who joined in 2025", c(JOINED, "between", ["2025-01-01", "2025-12-31"])),
    ("top 20% by spend", c(SPEND, "gte", "P80")),
    ("top 5% of customers by spend", c(SPEND, "gte", "P95")),
    ("top 1 percent by lifetime value", c(SPEND, "gte", "P99")),
    ("bottom 20% of spenders", c(SPEND, "lte", "P20")),
    ("customers above the median spend", c(SPEND, "gt", "P50")),
    ("top 20% by order count", None),
    ("top 10% by AOV", None),
    ("customers who spent more than average", None),  # the mean is not a spend percentile
    ("customers with more than five orders", c(ORDERS, "gt", 5)),
    ("at least twelve visits", c(VISITS, "gte", 12)),
    ("fewer than three orders", c(ORDERS, "lt", 3)),
    ("two or more orders", c(ORDERS, "gte", 2)),
    ("a dozen orders or more", c(ORDERS, "gte", 12)),
    ("customers with zero orders", c(ORDERS, "eq", 0)),
    ("only one order so far", c(ORDERS, "eq", 1)),
    ("spent 5k to 10k", c(SPEND, "between", [5000, 10000])),
    ("spend 5-10k", c(SPEND, "between", [5000, 10000])),
    ("2 to 5 orders", c(ORDERS, "between", [2, 5])),
    ("orders 3 through 6", c(ORDERS, "between", [3, 6])),
    ("spend from 1L to 2.5L", c(SPEND, "between", [100000, 250000])),
    ("between 10 and 20 visits", c(VISITS, "between", [10, 20])),
    ("customers in pincode 411001", None),
    ("customers with 5+ orders in the last 30 days", None),  # order count is lifetime
    ("spent over 10k in the last month", None),  # spend is lifetime
    ("customers who spent over 5k in October", None),
    ("customers who ordered twice in the last week", None),
    ("customers who ordered in both October and November", None),
    ("top 100 customers", None),
    ("3 orders totalling over 5k", AND(c(ORDERS, "eq", 3), c(SPEND, "gt", 5000))),
    ("3 orders worth over 5k each", None),
    ("customers whose phone number contains 98765", c(PHONE, "contains", "98765")),
    # --- quantity words on the wrong field --------------------------------------------------
    ("customers who spent over 5 times", c(ORDERS, "gt", 5)),
    ("ordered more than 5k", c(SPEND, "gt", 5000)),
    ("bought over 3k worth", c(SPEND, "gt", 3000)),
    ("shopped more than 10 times", c(ORDERS, "gt", 10)),
    ("purchased 5k+", c(SPEND, "gte", 5000)),
    ("ordered 3 times or more", c(ORDERS, "gte", 3)),
    ("customers with an AOV of 3 orders", None),
    ("customers with more than 5k orders", None),  # 5,000 orders, or orders worth 5k?
    ("customers with orders over 2k", None),  # each order, some order, or the average?
    ("visited 5 times but never ordered", AND(c(VISITS, "eq", 5), c(ORDERS, "eq", 0))),
    ("5+ visits and no orders", AND(c(VISITS, "gte", 5), c(ORDERS, "eq", 0))),
    # --- time phrases -----------------------------------------------------------------------
    (
        "ordered in the last 3 months but not the last month",
        AND(c(LAST, "within_last_days", 90), c(LAST, "not_within_last_days", 30)),
    ),
    ("customers who have ordered since the start of October", c(LAST, "after", "2026-09-30")),
    ("joined since the start of October", c(JOINED, "after", "2026-09-30")),
    ("customers who joined before 2025", c(JOINED, "before", "2025-01-01")),
    ("customers who ordered before 2025", c(FIRST, "before", "2025-01-01")),
    ("last ordered before 2025", c(LAST, "before", "2025-01-01")),
    ("customers acquired this quarter", c(JOINED, "after", "2026-09-30")),
    ("first order this quarter", c(FIRST, "after", "2026-09-30")),
    ("ordered last week", c(LAST, "within_last_days", 7)),
    ("signed up yesterday", on_day(JOINED, "2026-11-14")),
    ("customers whose last order was yesterday", on_day(LAST, "2026-11-14")),
    ("signed up today", on_day(JOINED, "2026-11-15")),
    ("last ordered over a year ago", AND(c(LAST, "not_within_last_days", 365), ORDERED)),
    ("joined over a year ago", c(JOINED, "not_within_last_days", 365)),
    ("haven't bought anything in over a year", c(LAST, "not_within_last_days", 365)),
    ("ordered within the last fortnight", c(LAST, "within_last_days", 14)),
    ("joined within a fortnight", c(JOINED, "within_last_days", 14)),
    ("no orders for the past 6 weeks", c(LAST, "not_within_last_days", 42)),
    ("dormant customers", LAPSED),
    ("churned customers in Mumbai", AND(LAPSED, city("Mumbai"))),
    ("at-risk VIPs", AND(LAPSED, IS_VIP)),
    ("lapsed buyers who are opted in", AND(LAPSED, OPTED_IN)),
    ("dormant for 6 months", c(LAST, "not_within_last_days", 180)),
    ("lapsed for over a year", c(LAST, "not_within_last_days", 365)),
    ("joined this month", c(JOINED, "after", "2026-10-31")),
    ("new this year", c(JOINED, "after", "2025-12-31")),
    ("first purchase this year", c(FIRST, "after", "2025-12-31")),
    ("ordered this month", c(LAST, "after", "2026-10-31")),
    ("ordered in the past quarter", c(LAST, "within_last_days", 91)),
    ("first ordered over 2 years ago", AND(c(FIRST, "not_within_last_days", 730), c(FIRST, "is_set"))),
    ("customers for more than a year", c(JOINED, "not_within_last_days", 365)),
    (
        "joined in the last 3 months but haven't ordered yet",
        AND(c(JOINED, "within_last_days", 90), c(ORDERS, "eq", 0)),
    ),
    ("last order more than 45 days ago", AND(c(LAST, "not_within_last_days", 45), ORDERED)),
    ("no purchase in 2 months", c(LAST, "not_within_last_days", 60)),
    ("inactive for 120+ days", c(LAST, "not_within_last_days", 120)),
    # --- value slang ------------------------------------------------------------------------
    ("big spenders in Bangalore", AND(BIG, city("Bengaluru"))),
    ("whales who have gone dormant", AND(BIG, LAPSED)),
    ("top customers who haven't opted in", AND(BIG, c(OPT_IN, "ne", True))),
    ("low spenders in Pune or Nagpur", AND(LOW, cities("Pune", "Nagpur"))),
    ("low spenders who aren't VIP", AND(LOW, NOT_VIP)),
    ("Bombay big spenders", AND(city("Mumbai"), BIG)),
    ("whales", BIG),
    ("customers with high AOV", None),  # no agreed threshold
    ("frequent buyers", None),
    ("loyal customers", None),
    # --- what the rule language cannot say --------------------------------------------------
    ("customers who bought sarees", None),
    ("customers who purchased Samsung phones", None),
    ("people who shop in the kids category", None),
    ("VIPs in Mumbai who bought electronics", None),
    ("customers who spent over 5k on footwear", None),
    ("VIPs who bought Nike", None),
    ("customers who ordered via the mobile app", None),
    ("customers who came from Instagram ads", None),
    ("iPhone users", None),
    ("big spenders on Android", None),
    ("customers who ordered in the last 30 days from the app", None),
    ("customers aged 25 to 35", None),
    ("customers under 30", None),  # age, not spend or orders
    ("senior citizens in Pune", None),
    ("opted-in customers over 40 years old", None),
    ("women customers who spent over 5k", None),
    ("male VIPs", None),
    ("customers with a birthday this month", None),
    ("customers whose birthday is in December", None),
    ("customers who opened our last email", None),
    ("customers who clicked the Diwali sale email", None),
    ("people who didn't open our newsletter", None),
    ("customers in Pune who clicked our SMS", None),
    ("top 5 customers by spend", None),
    ("the average customer", None),
    ("customers who spent more than their AOV", None),
    ("customers whose AOV is higher than the city average", None),
    ("most recent 100 customers", None),
    ("the last 50 signups", None),
    ("customers similar to Priya Rao", None),
    ("customers who returned an order", None),
    ("customers with an abandoned cart", None),
    ("customers who used coupon DIWALI10", None),
    ("customers who paid cash on delivery", None),
    ("customers who shop at our Koramangala store", None),
    ("Hindi speaking customers", None),
    ("customers in metro cities", None),
    ("customers whose spend grew month over month", None),
    # --- ordinary prompts: typos, abbreviations, Indian amounts ------------------------------
    ("cust in mumbai spent > 5k", AND(city("Mumbai"), c(SPEND, "gt", 5000))),
    ("custs w/ 3+ ord", c(ORDERS, "gte", 3)),
    ("ltv above 1L", c(SPEND, "gt", 100000)),
    ("LTV > Rs 50,000", c(SPEND, "gt", 50000)),
    ("amt spent >= ₹25k", c(SPEND, "gte", 25000)),
    ("total spend over INR 2 lakh", c(SPEND, "gt", 200000)),
    ("spent over 1.5 lakhs", c(SPEND, "gt", 150000)),
    ("spent more than 1 cr", c(SPEND, "gt", 10_000_000)),
    ("spent over 12 lakh", c(SPEND, "gt", 1_200_000)),
    ("spent 20L+", c(SPEND, "gte", 2_000_000)),
    ("spent over Rs. 1,00,000", c(SPEND, "gt", 100000)),
    ("spend above ₹2.5L", c(SPEND, "gt", 250000)),
    ("spent more than fifty thousand rupees", c(SPEND, "gt", 50000)),
    ("spent over 20,000/-", c(SPEND, "gt", 20000)),
    ("spent at least 5 grand", c(SPEND, "gte", 5000)),
    ("aov above 2500", c(AOV, "gt", 2500)),
    ("avg order value at least Rs. 1,200", c(AOV, "gte", 1200)),
    ("AOV under 800", c(AOV, "lt", 800)),
    ("spend <= 1000", c(SPEND, "lte", 1000)),
    ("spent exactly 5000", c(SPEND, "eq", 5000)),
    ("spent b/w 5k and 10k", c(SPEND, "between", [5000, 10000])),
    ("orders 2-4", c(ORDERS, "between", [2, 4])),
    ("mumbai custmers", city("Mumbai")),
    ("custoemrs in hyderbad", city("Hyderabad")),
    ("vip cust in pune", AND(IS_VIP, city("Pune"))),
    ("platinum members in chennai", AND(c(TIER, "eq", "platinum"), city("Chennai"))),
    ("customers from calcutta", city("Kolkata")),
    ("customers in madras or cochin", cities("Chennai", "Kochi")),
    ("poona customers who are opted in", AND(city("Pune"), OPTED_IN)),
    ("gold tier", c(TIER, "eq", "gold")),
    ("gold or above", c(TIER, "in", GOLD_UP)),
    ("opted in for marketing", OPTED_IN),
    ("customers we can send promotions to", OPTED_IN),
    ("ord count 10+", c(ORDERS, "gte", 10)),
    ("more than 20 visits", c(VISITS, "gt", 20)),
    ("visited at least 5 times", c(VISITS, "gte", 5)),
    ("joined in the last 30 days", c(JOINED, "within_last_days", 30)),
    ("new custs this month", c(JOINED, "after", "2026-10-31")),
    ("first order in last 14 days", c(FIRST, "within_last_days", 14)),
    ("cust with no email", c(EMAIL, "is_not_set")),
    ("customers who have a phone number", c(PHONE, "is_set")),
    ("customers with a gmail address", c(EMAIL, "contains", "@gmail.com")),
    ("customers called John", c(NAME, "contains", "John")),
    ("havent orderd in 45 days", c(LAST, "not_within_last_days", 45)),
    ("nagpur & noida cust with 2+ orders", AND(cities("Nagpur", "Noida"), c(ORDERS, "gte", 2))),
]
