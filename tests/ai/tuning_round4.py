"""Round 4 tuning prompts for the offline words -> rules engine, each with the tree it should mean.

Written for round 4 by someone who had not read the engine, before any engine change. The
author read only the helpers at the top of tests/ai/corpus.py, tests/ai/evaluation.py (the
data set and how audiences are compared) and docs/segments.md (the rule language), and wrote
the prompts the way marketers at an Indian retailer might type them.

Scored before any engine change: 166 of 180 (0.9222), 3 silently wrong; 168 once two
expectations were corrected to the engine's reading (a last or first order "more than N days
ago" needs an order, so it excludes customers who never ordered).

Conventions (NOW is Sunday 15 Nov 2026, 12:00 UTC):
- Vague value words ("big spenders", "whales", "top customers", "high-value") mean total spend
  >= the 90th percentile ("P90"); "low/small spenders" mean <= "P10"; "top 20%" is >= "P80",
  "bottom quarter" is <= "P25". Placeholders are resolved on the data set by
  tests.ai.evaluation.resolve.
- Absence ("haven't ordered in 60 days") is `not_within_last_days`, which also matches
  customers who never ordered. Months are 30 days, weeks 7, a quarter 91, a year 365.
- "this month" is after 2026-10-31, "this year" after 2025-12-31; a plain date as `after`'s
  value means the end of that day, so "since 1 October" is after 2026-09-30.
- "more than/over/above" is gt, "at least/X+/X or more" gte, "under/less than/below" lt,
  "at most/no more than/up to" lte, "between A and B" between [A, B] (inclusive).
- "not VIP" / "excluding VIPs" / "not opted in" are `ne True` (customers with no value count as
  not VIP); "opted out" is `eq False` (they said no).
- `None`: the rule language cannot say it (products, gender, age, browsing, a campaign named
  without an id, a festival without a date...); the engine must refuse or flag it.
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

THIS_MONTH = c(JOINED, "after", "2026-10-31")
THIS_YEAR = c(JOINED, "after", "2025-12-31")
BIG = c(SPEND, "gte", "P90")
SMALL = c(SPEND, "lte", "P10")
IS_VIP = c(VIP, "eq", True)
NOT_VIP = c(VIP, "ne", True)
OPTED_IN = c(OPT_IN, "eq", True)

ROUND4: list[tuple[str, Node | None]] = [
    # --- value and slang (27) ---
    ("big spenders", BIG),
    ("show me our whales", BIG),
    ("Top customers by spend", BIG),
    ("high-value customers", BIG),
    ("low spenders", SMALL),
    ("small spenders only pls", SMALL),
    ("top 20% by total spend", c(SPEND, "gte", "P80")),
    ("bottom quarter of customers by spend", c(SPEND, "lte", "P25")),
    ("top 5 percent of spenders", c(SPEND, "gte", "P95")),
    ("customers in the top half by spend", c(SPEND, "gte", "P50")),
    ("spent more than 5k", c(SPEND, "gt", 5000)),
    ("total spend over ₹10,000", c(SPEND, "gt", 10000)),
    ("Customers with a lifetime spend of at least Rs 1 lakh", c(SPEND, "gte", 100000)),
    ("people who've spent 1.5L or more with us", c(SPEND, "gte", 150000)),
    ("spend > 2500", c(SPEND, "gt", 2500)),
    ("total_spend >= 50000", c(SPEND, "gte", 50000)),
    ("customers who spent under 1000 rupees", c(SPEND, "lt", 1000)),
    ("spent no more than ₹800 in total", c(SPEND, "lte", 800)),
    ("total spend between 20k and 50k", c(SPEND, "between", [20000, 50000])),
    ("spent between Rs 1,00,000 and Rs 2,50,000", c(SPEND, "between", [100000, 250000])),
    ("customers who have spent 1 crore+", c(SPEND, "gte", 10000000)),
    ("spend above twelve lakh", c(SPEND, "gt", 1200000)),
    ("anyone who has spent 20L or more", c(SPEND, "gte", 2000000)),
    ("customers who spent nothing so far", c(SPEND, "eq", 0)),
    ("spnt over 3000 INR", c(SPEND, "gt", 3000)),
    ("INR 5000+ spenders", c(SPEND, "gte", 5000)),
    ("customers whose total purchases are less than two thousand rupees", c(SPEND, "lt", 2000)),
    # --- recency and absence (27) ---
    ("haven't ordered in 60 days", c(LAST, "not_within_last_days", 60)),
    ("nothing since 2 months", c(LAST, "not_within_last_days", 60)),
    ("customers who ordered in the last 30 days", c(LAST, "within_last_days", 30)),
    ("bought something in the past week", c(LAST, "within_last_days", 7)),
    ("ordered within the last 14 days", c(LAST, "within_last_days", 14)),
    ("no purchase in 90 days", c(LAST, "not_within_last_days", 90)),
    ("Customers who haven't bought anything in 6 months", c(LAST, "not_within_last_days", 180)),
    ("havent ordered in a year", c(LAST, "not_within_last_days", 365)),
    # A customer who never ordered has no last order more than 45 days ago: the last order is set.
    ("last order more than 45 days ago", AND(c(LAST, "not_within_last_days", 45), c(LAST, "is_set"))),
    ("last purchase within 3 days", c(LAST, "within_last_days", 3)),
    ("shopped in the last quarter", c(LAST, "within_last_days", 91)),
    ("haven't shopped for a quarter", c(LAST, "not_within_last_days", 91)),
    ("placed an order in the last fortnight", c(LAST, "within_last_days", 14)),
    ("recent buyers (last 15 days)", c(LAST, "within_last_days", 15)),
    ("no order since 120 days", c(LAST, "not_within_last_days", 120)),
    ("dormant customers - no orders in 2 years", c(LAST, "not_within_last_days", 730)),
    ("placed their first order in the past 30 days", c(FIRST, "within_last_days", 30)),
    # Likewise a first purchase more than a year ago needs a first purchase.
    (
        "made their first purchase more than a year ago",
        AND(c(FIRST, "not_within_last_days", 365), c(FIRST, "is_set")),
    ),
    ("first order in the last 6 weeks", c(FIRST, "within_last_days", 42)),
    ("last ordered in the past 3 months", c(LAST, "within_last_days", 90)),
    ("customers who've gone quiet, no orders in 8 weeks", c(LAST, "not_within_last_days", 56)),
    (
        "ordered in the last 30 days but not in the last 7",
        AND(c(LAST, "within_last_days", 30), c(LAST, "not_within_last_days", 7)),
    ),
    (
        "last order between 30 and 60 days ago",
        AND(c(LAST, "not_within_last_days", 30), c(LAST, "within_last_days", 60)),
    ),
    ("customers who haven't ordered in the last three days", c(LAST, "not_within_last_days", 3)),
    ("bought anything in the last 365 days", c(LAST, "within_last_days", 365)),
    ("hasn't purchased since 180 days", c(LAST, "not_within_last_days", 180)),
    ("who ordered in the last one month", c(LAST, "within_last_days", 30)),
    # --- order counts and AOV (22) ---
    ("more than five orders placed", c(ORDERS, "gt", 5)),
    ("5 or more orders", c(ORDERS, "gte", 5)),
    ("at least three orders", c(ORDERS, "gte", 3)),
    ("fewer than 3 orders", c(ORDERS, "lt", 3)),
    ("exactly 2 orders", c(ORDERS, "eq", 2)),
    ("one time shoppers", c(ORDERS, "eq", 1)),
    ("repeat buyers", c(ORDERS, "gte", 2)),
    ("customers who never placed an order", c(ORDERS, "eq", 0)),
    ("between 2 and 5 orders", c(ORDERS, "between", [2, 5])),
    ("order count >= 10", c(ORDERS, "gte", 10)),
    ("ordered 20+ times", c(ORDERS, "gte", 20)),
    ("no more than 4 orders", c(ORDERS, "lte", 4)),
    ("AOV above 2k", c(AOV, "gt", 2000)),
    ("average order value under ₹1,000", c(AOV, "lt", 1000)),
    ("average order value of at least Rs 2,500", c(AOV, "gte", 2500)),
    ("AOV between 500 and 1200", c(AOV, "between", [500, 1200])),
    ("avg order value more than ten thousand", c(AOV, "gt", 10000)),
    ("aov <= 800", c(AOV, "lte", 800)),
    ("frequent shoppers with 8 orders or more", c(ORDERS, "gte", 8)),
    ("ppl with only 1 order", c(ORDERS, "eq", 1)),
    ("avg order val over 5k and more than 3 orders", AND(c(AOV, "gt", 5000), c(ORDERS, "gt", 3))),
    ("customers with 12 or fewer orders", c(ORDERS, "lte", 12)),
    # --- cities and negation (22) ---
    ("customers in Mumbai", c(CITY, "eq", "Mumbai")),
    ("Bangalore customers", c(CITY, "eq", "Bengaluru")),
    ("from Delhi or Noida", c(CITY, "in", ["Delhi", "Noida"])),
    ("not from Delhi", c(CITY, "ne", "Delhi")),
    ("everyone outside Mumbai", c(CITY, "ne", "Mumbai")),
    ("customers in pune, nagpur and mumbai", c(CITY, "in", ["Pune", "Nagpur", "Mumbai"])),
    ("hyderabad", c(CITY, "eq", "Hyderabad")),
    ("all customers excluding Chennai and Kolkata", c(CITY, "not_in", ["Chennai", "Kolkata"])),
    ("Bombay customers", c(CITY, "eq", "Mumbai")),
    ("customers from Calcutta", c(CITY, "eq", "Kolkata")),
    ("Madras shoppers", c(CITY, "eq", "Chennai")),
    ("people in Cochin", c(CITY, "eq", "Kochi")),
    ("customers whose city is not set", c(CITY, "is_not_set")),
    ("customers with a city on file", c(CITY, "is_set")),
    ("all cities except Bengaluru", c(CITY, "ne", "Bengaluru")),
    ("people in kochi or chennai", c(CITY, "in", ["Kochi", "Chennai"])),
    ("not in mumbai, not in pune", c(CITY, "not_in", ["Mumbai", "Pune"])),
    ("Delhi customers excluding VIPs", AND(c(CITY, "eq", "Delhi"), NOT_VIP)),
    ("customers not in Hyderabad who spent over 5k", AND(c(CITY, "ne", "Hyderabad"), c(SPEND, "gt", 5000))),
    ("Nagpur-based shoppers", c(CITY, "eq", "Nagpur")),
    ("non-Mumbai customers", c(CITY, "ne", "Mumbai")),
    ("city = Pune", c(CITY, "eq", "Pune")),
    # --- combinations: and / or / distribution (28) ---
    (
        "over 10k in Mumbai or over 5k in Pune",
        OR(
            AND(c(CITY, "eq", "Mumbai"), c(SPEND, "gt", 10000)),
            AND(c(CITY, "eq", "Pune"), c(SPEND, "gt", 5000)),
        ),
    ),
    (
        "big spenders in Mumbai who haven't ordered in 60 days",
        AND(BIG, c(CITY, "eq", "Mumbai"), c(LAST, "not_within_last_days", 60)),
    ),
    (
        "repeat customers in Bengaluru or Chennai",
        AND(c(ORDERS, "gte", 2), c(CITY, "in", ["Bengaluru", "Chennai"])),
    ),
    ("spent over 20k or placed more than 10 orders", OR(c(SPEND, "gt", 20000), c(ORDERS, "gt", 10))),
    (
        "gold tier customers who ordered in last 30 days",
        AND(c(TIER, "eq", "gold"), c(LAST, "within_last_days", 30)),
    ),
    (
        "lapsed 90 days but spent at least 50k",
        AND(c(LAST, "not_within_last_days", 90), c(SPEND, "gte", 50000)),
    ),
    (
        "customers from Delhi with AOV above 3000 or from Mumbai with AOV above 5000",
        OR(
            AND(c(CITY, "eq", "Delhi"), c(AOV, "gt", 3000)),
            AND(c(CITY, "eq", "Mumbai"), c(AOV, "gt", 5000)),
        ),
    ),
    (
        "customers with exactly one order who ordered in the last 30 days",
        AND(c(ORDERS, "eq", 1), c(LAST, "within_last_days", 30)),
    ),
    ("whales who are not VIP yet", AND(BIG, NOT_VIP)),
    (
        "Pune or Mumbai, spent 5k+, opted in to marketing",
        AND(c(CITY, "in", ["Pune", "Mumbai"]), c(SPEND, "gte", 5000), OPTED_IN),
    ),
    (
        "spent more than 1 lakh and haven't ordered in 6 months, excluding Delhi",
        AND(c(SPEND, "gt", 100000), c(LAST, "not_within_last_days", 180), c(CITY, "ne", "Delhi")),
    ),
    ("new customers this month who already placed 2 or more orders", AND(THIS_MONTH, c(ORDERS, "gte", 2))),
    ("either VIPs or platinum tier", OR(IS_VIP, c(TIER, "eq", "platinum"))),
    ("low spenders in Kolkata or Kochi", AND(SMALL, c(CITY, "in", ["Kolkata", "Kochi"]))),
    (
        "customers in Hyderabad with more than 3 orders, or anyone with spend over 2L",
        OR(AND(c(CITY, "eq", "Hyderabad"), c(ORDERS, "gt", 3)), c(SPEND, "gt", 200000)),
    ),
    (
        "spent between 5k and 10k and ordered in the last 45 days",
        AND(c(SPEND, "between", [5000, 10000]), c(LAST, "within_last_days", 45)),
    ),
    (
        "not ordered in 30 days and less than 3 orders",
        AND(c(LAST, "not_within_last_days", 30), c(ORDERS, "lt", 3)),
    ),
    (
        "silver or gold tier in Mumbai who haven't bought in 2 months",
        AND(c(TIER, "in", ["silver", "gold"]), c(CITY, "eq", "Mumbai"), c(LAST, "not_within_last_days", 60)),
    ),
    (
        "VIPs in Delhi or big spenders in Noida",
        OR(AND(IS_VIP, c(CITY, "eq", "Delhi")), AND(BIG, c(CITY, "eq", "Noida"))),
    ),
    (
        "customers who spent over 5k but not in Mumbai or Pune",
        AND(c(SPEND, "gt", 5000), c(CITY, "not_in", ["Mumbai", "Pune"])),
    ),
    ("recent buyers (last 7 days) or high-value customers", OR(c(LAST, "within_last_days", 7), BIG)),
    ("at least 5 orders and AOV under 1000", AND(c(ORDERS, "gte", 5), c(AOV, "lt", 1000))),
    (
        "Mumbai customers with spend above 10k who haven't ordered in 90 days, or Bengaluru customers "
        "with spend above 20k who haven't ordered in 60 days",
        OR(
            AND(c(CITY, "eq", "Mumbai"), c(SPEND, "gt", 10000), c(LAST, "not_within_last_days", 90)),
            AND(c(CITY, "eq", "Bengaluru"), c(SPEND, "gt", 20000), c(LAST, "not_within_last_days", 60)),
        ),
    ),
    (
        "top 10% spenders excluding those who ordered in the last 2 weeks",
        AND(BIG, NOT(c(LAST, "within_last_days", 14))),
    ),
    (
        "opted-in customers in Chennai, Kochi or Hyderabad with more than 2 orders",
        AND(OPTED_IN, c(CITY, "in", ["Chennai", "Kochi", "Hyderabad"]), c(ORDERS, "gt", 2)),
    ),
    (
        "first ordered over a year ago and ordered again in the last 30 days",
        AND(c(FIRST, "not_within_last_days", 365), c(LAST, "within_last_days", 30)),
    ),
    (
        "spent over 50k in Delhi or Mumbai, or over 1 lakh anywhere else",
        OR(
            AND(c(SPEND, "gt", 50000), c(CITY, "in", ["Delhi", "Mumbai"])),
            AND(c(SPEND, "gt", 100000), c(CITY, "not_in", ["Delhi", "Mumbai"])),
        ),
    ),
    ("customers who are neither VIP nor platinum", NOT(OR(IS_VIP, c(TIER, "eq", "platinum")))),
    # --- attributes and consent (19) ---
    ("VIP customers", IS_VIP),
    ("non-VIPs", NOT_VIP),
    ("gold tier", c(TIER, "eq", "gold")),
    ("Platinum members", c(TIER, "eq", "platinum")),
    ("gold or platinum tier customers", c(TIER, "in", ["gold", "platinum"])),
    ("customers above silver tier", c(TIER, "in", ["gold", "platinum"])),
    ("everyone except bronze tier", c(TIER, "ne", "bronze")),
    ("customers with no tier assigned", c(TIER, "is_not_set")),
    ("customers opted in to marketing msgs", OPTED_IN),
    ("customers who gave marketing consent", OPTED_IN),
    ("customers who haven't opted in for marketing", c(OPT_IN, "ne", True)),
    ("customers who explicitly opted out of marketing", c(OPT_IN, "eq", False)),
    ("store visits more than 10", c(VISITS, "gt", 10)),
    ("visited 20 times or more", c(VISITS, "gte", 20)),
    ("fewer than 5 visits", c(VISITS, "lt", 5)),
    ("visits between 5 and 15", c(VISITS, "between", [5, 15])),
    ("vip = true and consented", AND(IS_VIP, OPTED_IN)),
    ("customers with a phone number on file", c(PHONE, "is_set")),
    ("customers missing an email address", c(EMAIL, "is_not_set")),
    # --- dates and calendar phrases (17) ---
    ("joined this month", THIS_MONTH),
    ("new customers this month", THIS_MONTH),
    ("signed up this year", THIS_YEAR),
    ("customers who joined since 1 October", c(JOINED, "after", "2026-09-30")),
    ("joined last month", c(JOINED, "between", ["2026-10-01", "2026-10-31"])),
    ("registered before 2025", c(JOINED, "before", "2025-01-01")),
    ("signed up sometime in 2025", c(JOINED, "between", ["2025-01-01", "2025-12-31"])),
    ("last order before 1 Sep 2026", c(LAST, "before", "2026-09-01")),
    ("ordered since Diwali (8 Nov 2026)", c(LAST, "after", "2026-11-07")),
    ("first order after 15 August 2026", c(FIRST, "after", "2026-08-15")),
    ("joined in the last 30 days", c(JOINED, "within_last_days", 30)),
    ("signed up over 2 years ago", c(JOINED, "not_within_last_days", 730)),
    ("last purchased in October", c(LAST, "between", ["2026-10-01", "2026-10-31"])),
    ("first ordered between 1 Jan 2026 and 30 Jun 2026", c(FIRST, "between", ["2026-01-01", "2026-06-30"])),
    ("accounts created on or after 2026-11-01", THIS_MONTH),
    ("joined before 1 April 2024", c(JOINED, "before", "2024-04-01")),
    ("haven't ordered since 1 October", NOT(c(LAST, "after", "2026-09-30"))),
    # --- inexpressible, or partly (18) ---
    ("customers who bought sarees", None),
    ("women in Mumbai who spent over 5k", None),
    ("customers under 30 years old", None),
    ("people who clicked our last email", None),
    ("abandoned cart in the last week", None),
    ("big spenders who shop for electronics", None),
    ("customers whose birthday is this month", None),
    ("everyone who ordered since Diwali", None),
    ("customers who browsed the new collection but didn't buy", None),
    ("paid using cash on delivery", None),
    ("customers who used a coupon code in the last 60 days", None),
    ("repeat customers who returned an order", None),
    ("app users in Pune", None),
    ("customers who bought during our end of season sale", None),
    ("male customers over 40 in Delhi", None),
    ("customers referred by a friend who spent 10k+", None),
    ("opened the WhatsApp message we sent yesterday", None),
    ("customers living within 5 km of our Andheri store", None),
]
