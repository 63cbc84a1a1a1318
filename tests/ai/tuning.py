"""The tuning set: prompts written for issue 14's failure kinds, in varied phrasings.

The engine is tuned on this set and the corpus only; the held-out set that measures it
(tests/ai/heldout.py, scored by bench/ai_heldout.py) is never read while tuning. Each kind the
issue names has its own block: value slang, spending verbs, absence as recency, distribution
over "or", symbolic conditions after a comma, names, "new customers this month", plus mixed
prompts; later batches add the catalog's other fields and phrasings found by probing.

`TOP` and `BOTTOM` stand for the data-driven thresholds (the 90th and 10th percentile of total
spend), filled in by the evaluation from its own data set, exactly as the engine computes them
at question time; `P80` and the like are any other percentile. An expected tree of None is a
prompt the rule language cannot say: right only when the engine refuses it or flags a part.
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

TOP = "P90"  # placeholders for the spend percentiles, resolved by tests/ai/evaluation.py
BOTTOM = "P10"
BIG = c(SPEND, "gte", TOP)
LOW = c(SPEND, "lte", BOTTOM)
MONTH_START = "2026-10-31"  # "this month" at NOW (15 Nov 2026): joined after 31 Oct


def away(days: int) -> Node:
    return c(LAST, "not_within_last_days", days)


TUNING: list[tuple[str, Node | None]] = [
    # value words: a data-driven threshold, not a refusal
    ("big spenders", BIG),
    ("our whales", BIG),
    ("top customers", BIG),
    ("high spenders in Mumbai", AND(BIG, c(CITY, "eq", "Mumbai"))),
    ("big spenders in Mumbai", AND(BIG, c(CITY, "eq", "Mumbai"))),
    ("whales who haven't ordered in 60 days", AND(BIG, away(60))),
    ("top spenders from Pune or Delhi", AND(BIG, c(CITY, "in", ["Pune", "Delhi"]))),
    ("the biggest spenders", BIG),
    ("high-value customers", BIG),
    ("low spenders", LOW),
    ("small spenders in Chennai", AND(LOW, c(CITY, "eq", "Chennai"))),
    ("lowest spenders who joined this year", AND(LOW, c(JOINED, "after", "2025-12-31"))),
    ("top customers who are not VIP", AND(BIG, c(VIP, "ne", True))),
    ("big spenders or gold tier", OR(BIG, c(TIER, "eq", "gold"))),
    ("top 10% of customers by spend", BIG),
    ("top 10% of customers by revenue", BIG),
    ("bottom 10% by spend", LOW),
    ("heavy spenders with more than 5 orders", AND(BIG, c(ORDERS, "gt", 5))),
    ("low-value customers in Kolkata", AND(LOW, c(CITY, "eq", "Kolkata"))),
    # spending verbs other than "spent"
    ("customers who dropped over 5k", c(SPEND, "gt", 5000)),
    ("people who splurged more than ₹10,000", c(SPEND, "gt", 10000)),
    ("customers who has spent over 2000", c(SPEND, "gt", 2000)),
    ("customers who have spent at least 3k", c(SPEND, "gte", 3000)),
    ("shoppers who've dropped more than 20k with us", c(SPEND, "gt", 20000)),
    ("folks who shelled out over ₹50,000", c(SPEND, "gt", 50000)),
    ("anyone who forked out more than 1 lakh", c(SPEND, "gt", 100000)),
    ("customers who paid more than 8000 in total", c(SPEND, "gt", 8000)),
    ("racked up over 25k in purchases", c(SPEND, "gt", 25000)),
    ("users who splashed out 50k+", c(SPEND, "gte", 50000)),
    ("dropped less than 1k", c(SPEND, "lt", 1000)),
    ("customers who splurged between 5k and 10k", c(SPEND, "between", [5000, 10000])),
    ("buyers who have dropped at least 2.5 lakh", c(SPEND, "gte", 250000)),
    ("customers who spend more than 3000", c(SPEND, "gt", 3000)),
    ("customers who've spent over 10k in Pune", AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Pune"))),
    ("people who have spent under ₹500", c(SPEND, "lt", 500)),
    # recency said as absence
    ("customers who haven't been back in 3 months", away(90)),
    ("nothing in the last 30 days", away(30)),
    ("customers with nothing in the last 60 days", away(60)),
    ("haven't come back for 6 weeks", away(42)),
    ("haven't returned in 2 months", away(60)),
    ("no activity for 45 days", away(45)),
    ("no orders in the last 90 days", away(90)),
    ("zero purchases in the past 30 days", away(30)),
    ("haven't placed an order in 120 days", away(120)),
    ("not purchased anything in 2 months", away(60)),
    ("customers we haven't seen in 180 days", away(180)),
    ("haven't been back for a year", away(365)),
    ("haven't visited us in 3 months", away(90)),
    ("no purchases for 15 days", away(15)),
    ("people who haven't bought anything in the last 7 days", away(7)),
    ("nothing bought in the past 14 days", away(14)),
    ("hasn't ordered in the last 45 days", away(45)),
    # distribution over "or"
    (
        "over 5k in Mumbai, or over 10k in Delhi",
        OR(
            AND(c(SPEND, "gt", 5000), c(CITY, "eq", "Mumbai")),
            AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Delhi")),
        ),
    ),
    (
        "spent over 5k in Mumbai or over 10k in Delhi",
        OR(
            AND(c(SPEND, "gt", 5000), c(CITY, "eq", "Mumbai")),
            AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Delhi")),
        ),
    ),
    (
        "customers who spent more than 20k in Delhi, or more than 10k in Pune",
        OR(
            AND(c(SPEND, "gt", 20000), c(CITY, "eq", "Delhi")),
            AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Pune")),
        ),
    ),
    (
        "more than 3 orders in Pune or more than 5 orders in Chennai",
        OR(AND(c(ORDERS, "gt", 3), c(CITY, "eq", "Pune")), AND(c(ORDERS, "gt", 5), c(CITY, "eq", "Chennai"))),
    ),
    (
        "gold tier in Mumbai, or platinum tier in Delhi",
        OR(
            AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Mumbai")),
            AND(c(TIER, "eq", "platinum"), c(CITY, "eq", "Delhi")),
        ),
    ),
    (
        "spent above 2k in Kochi, or above 4k in Hyderabad",
        OR(
            AND(c(SPEND, "gt", 2000), c(CITY, "eq", "Kochi")),
            AND(c(SPEND, "gt", 4000), c(CITY, "eq", "Hyderabad")),
        ),
    ),
    (
        "Mumbai customers who spent over 5k, or Delhi customers who spent over 8k",
        OR(
            AND(c(CITY, "eq", "Mumbai"), c(SPEND, "gt", 5000)),
            AND(c(CITY, "eq", "Delhi"), c(SPEND, "gt", 8000)),
        ),
    ),
    (
        "over 1 lakh in Bangalore or over 50k in Noida",
        OR(
            AND(c(SPEND, "gt", 100000), c(CITY, "eq", "Bengaluru")),
            AND(c(SPEND, "gt", 50000), c(CITY, "eq", "Noida")),
        ),
    ),
    (
        "at least 3 orders in Kolkata, or at least 6 orders in Mumbai",
        OR(
            AND(c(ORDERS, "gte", 3), c(CITY, "eq", "Kolkata")),
            AND(c(ORDERS, "gte", 6), c(CITY, "eq", "Mumbai")),
        ),
    ),
    (
        "spent over 5k and live in Pune, or spent over 15k and live in Delhi",
        OR(
            AND(c(SPEND, "gt", 5000), c(CITY, "eq", "Pune")),
            AND(c(SPEND, "gt", 15000), c(CITY, "eq", "Delhi")),
        ),
    ),
    # symbolic conditions after a comma
    ("Pune customers, with orders > 5", AND(c(CITY, "eq", "Pune"), c(ORDERS, "gt", 5))),
    ("customers in Mumbai, orders >= 3", AND(c(CITY, "eq", "Mumbai"), c(ORDERS, "gte", 3))),
    ("spent over 5k, orders > 2", AND(c(SPEND, "gt", 5000), c(ORDERS, "gt", 2))),
    ("gold tier, visits > 10", AND(c(TIER, "eq", "gold"), c(VISITS, "gt", 10))),
    ("in Delhi, spend > 10000", AND(c(CITY, "eq", "Delhi"), c(SPEND, "gt", 10000))),
    ("orders < 2, city = Chennai", AND(c(ORDERS, "lt", 2), c(CITY, "eq", "Chennai"))),
    ("VIPs, with aov > 2000", AND(c(VIP, "eq", True), c(AOV, "gt", 2000))),
    ("customers with spend >= 5000 and orders <= 3", AND(c(SPEND, "gte", 5000), c(ORDERS, "lte", 3))),
    ("haven't ordered in 60 days, with total spend > 20k", AND(away(60), c(SPEND, "gt", 20000))),
    ("customers in Kochi, order count > 4", AND(c(CITY, "eq", "Kochi"), c(ORDERS, "gt", 4))),
    ("repeat customers, spend < 1000", AND(c(ORDERS, "gte", 2), c(SPEND, "lt", 1000))),
    ("orders>5", c(ORDERS, "gt", 5)),
    ("spend>=10k, city=Pune", AND(c(SPEND, "gte", 10000), c(CITY, "eq", "Pune"))),
    # names
    ("customers named Priya", c("name", "contains", "priya")),
    ("people called Arjun", c("name", "contains", "arjun")),
    ("anyone named Meera in Mumbai", AND(c("name", "contains", "meera"), c(CITY, "eq", "Mumbai"))),
    ("customers with the name Kabir", c("name", "contains", "kabir")),
    ("customers named John who spent over 5k", AND(c("name", "contains", "john"), c(SPEND, "gt", 5000))),
    ("customers named Asha or Ravi", OR(c("name", "contains", "asha"), c("name", "contains", "ravi"))),
    ("everyone whose name is Zara", c("name", "contains", "zara")),
    ("customers by the name of Dev", c("name", "contains", "dev")),
    # new customers in a period
    ("new customers this month", c(JOINED, "after", MONTH_START)),
    ("new customers this week", c(JOINED, "after", "2026-11-08")),
    ("new customers this year", c(JOINED, "after", "2025-12-31")),
    ("new signups this month", c(JOINED, "after", MONTH_START)),
    ("new customers in the last 2 weeks", c(JOINED, "within_last_days", 14)),
    ("customers acquired this month", c(JOINED, "after", MONTH_START)),
    ("new members this month in Pune", AND(c(JOINED, "after", MONTH_START), c(CITY, "eq", "Pune"))),
    ("new customers from the last 30 days", c(JOINED, "within_last_days", 30)),
    (
        "new customers this month who haven't ordered yet",
        AND(c(JOINED, "after", MONTH_START), c(ORDERS, "eq", 0)),
    ),
    ("new users in the past 7 days", c(JOINED, "within_last_days", 7)),
    # mixed, ordinary phrasings
    (
        "customers who bought more than 3 times and dropped over 10k",
        AND(c(ORDERS, "gt", 3), c(SPEND, "gt", 10000)),
    ),
    ("big spenders who haven't been back in 2 months", AND(BIG, away(60))),
    (
        "opted-in customers in Delhi who splurged over 5k",
        AND(c(OPT_IN, "eq", True), c(CITY, "eq", "Delhi"), c(SPEND, "gt", 5000)),
    ),
    ("platinum members with nothing in the last 90 days", AND(c(TIER, "eq", "platinum"), away(90))),
    ("customers whose first purchase was in the last 2 weeks", c(FIRST, "within_last_days", 14)),
    ("people in Noida who have spent more than 15k", AND(c(CITY, "eq", "Noida"), c(SPEND, "gt", 15000))),
    ("top customers not from Mumbai", AND(BIG, c(CITY, "ne", "Mumbai"))),
    ("customers who've placed more than 10 orders", c(ORDERS, "gt", 10)),
    ("buyers who spent more than 2k per order", c(AOV, "gt", 2000)),
    ("low spenders who joined over a year ago", AND(LOW, c(JOINED, "not_within_last_days", 365))),
    (
        "customers who have bought 4 or more times, outside Delhi",
        AND(c(ORDERS, "gte", 4), c(CITY, "ne", "Delhi")),
    ),
    ("whales in Bangalore or Hyderabad", AND(BIG, c(CITY, "in", ["Bengaluru", "Hyderabad"]))),
    ("people who dropped 10k+ but haven't been back in 4 months", AND(c(SPEND, "gte", 10000), away(120))),
    ("customers with visits >= 20 who aren't gold tier", AND(c(VISITS, "gte", 20), c(TIER, "ne", "gold"))),
    ("not VIP, spend > 50k", AND(c(VIP, "ne", True), c(SPEND, "gt", 50000))),
    (
        "new customers this month in Mumbai or Pune",
        AND(c(JOINED, "after", MONTH_START), c(CITY, "in", ["Mumbai", "Pune"])),
    ),
    ("spent over 5k but nothing in the last 30 days", AND(c(SPEND, "gt", 5000), away(30))),
    ("customers who haven't ordered since June", NOT(c(LAST, "after", "2026-05-31"))),
]

# A second batch, written after the first was passing, in phrasings the first did not use.
TUNING += [
    ("our biggest spenders in Pune", AND(BIG, c(CITY, "eq", "Pune"))),
    ("top-spending customers", BIG),
    ("most valuable customers who haven't ordered in 90 days", AND(BIG, away(90))),
    ("customers in the top 10% by spend", BIG),
    ("high value shoppers from Chennai or Kochi", AND(BIG, c(CITY, "in", ["Chennai", "Kochi"]))),
    ("whales that are not VIP", AND(BIG, c(VIP, "ne", True))),
    ("low spenders with at least 2 orders", AND(LOW, c(ORDERS, "gte", 2))),
    ("customers in the bottom 10% of spend", LOW),
    ("customers who have dropped more than ₹15,000 in total", c(SPEND, "gt", 15000)),
    ("people that splurged over 1L", c(SPEND, "gt", 100000)),
    ("who've spent upwards of 30k", c(SPEND, "gt", 30000)),
    ("customers that have spent less than 2k overall", c(SPEND, "lt", 2000)),
    ("shoppers who paid over ₹3,000 so far", c(SPEND, "gt", 3000)),
    ("haven't been back since March", NOT(c(LAST, "after", "2026-02-28"))),
    ("customers who have not come back in the last 60 days", away(60)),
    ("not seen in over 3 months", away(90)),
    ("have not returned for 45 days", away(45)),
    ("no orders for the past 2 months", away(60)),
    ("no purchase in 6 weeks", away(42)),
    ("haven't bought from us in 100 days", away(100)),
    ("haven't shopped with us for the last 30 days", away(30)),
    (
        "people who have not ordered anything in the past 3 months in Delhi",
        AND(away(90), c(CITY, "eq", "Delhi")),
    ),
    (
        "more than 10k in Mumbai or more than 20k in Bangalore",
        OR(
            AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Mumbai")),
            AND(c(SPEND, "gt", 20000), c(CITY, "eq", "Bengaluru")),
        ),
    ),
    (
        "ordered more than 5 times in Pune, or more than 8 times in Delhi",
        OR(AND(c(ORDERS, "gt", 5), c(CITY, "eq", "Pune")), AND(c(ORDERS, "gt", 8), c(CITY, "eq", "Delhi"))),
    ),
    (
        "customers in Pune who spent over 5k or customers in Delhi who spent over 10k",
        OR(
            AND(c(CITY, "eq", "Pune"), c(SPEND, "gt", 5000)),
            AND(c(CITY, "eq", "Delhi"), c(SPEND, "gt", 10000)),
        ),
    ),
    (
        "Mumbai with spend over 5k, or Delhi with spend over 9k",
        OR(
            AND(c(CITY, "eq", "Mumbai"), c(SPEND, "gt", 5000)),
            AND(c(CITY, "eq", "Delhi"), c(SPEND, "gt", 9000)),
        ),
    ),
    (
        "customers from Pune, orders > 3, spend > 5000",
        AND(c(CITY, "eq", "Pune"), c(ORDERS, "gt", 3), c(SPEND, "gt", 5000)),
    ),
    ("vip, orders >= 2", AND(c(VIP, "eq", True), c(ORDERS, "gte", 2))),
    ("city = Mumbai, total_spend > 5000", AND(c(CITY, "eq", "Mumbai"), c(SPEND, "gt", 5000))),
    ("order_count >= 3", c(ORDERS, "gte", 3)),
    ("avg order value >= 1500, in Delhi", AND(c(AOV, "gte", 1500), c(CITY, "eq", "Delhi"))),
    ("customers with orders greater than 4", c(ORDERS, "gt", 4)),
    ("people named Maria", c("name", "contains", "maria")),
    ("customers called Priya or Meera", OR(c("name", "contains", "priya"), c("name", "contains", "meera"))),
    ("anyone named Kabir who lives in Pune", AND(c("name", "contains", "kabir"), c(CITY, "eq", "Pune"))),
    ("customers whose name is Anika", c("name", "contains", "anika")),
    ("new customers joined this month", c(JOINED, "after", MONTH_START)),
    ("new sign-ups this week", c(JOINED, "after", "2026-11-08")),
    ("brand new customers from this month", c(JOINED, "after", MONTH_START)),
    ("new customers this month with no orders", AND(c(JOINED, "after", MONTH_START), c(ORDERS, "eq", 0))),
    (
        "new customers in the past 14 days who spent over 1k",
        AND(c(JOINED, "within_last_days", 14), c(SPEND, "gt", 1000)),
    ),
    ("customers who joined this month", c(JOINED, "after", MONTH_START)),
    ("customers with more than 2 orders who haven't been back in a month", AND(c(ORDERS, "gt", 2), away(30))),
    ("gold or platinum tier whales", AND(c(TIER, "in", ["gold", "platinum"]), BIG)),
    ("marketing opt-in big spenders", AND(c(OPT_IN, "eq", True), BIG)),
    ("low spenders who are opted in to marketing", AND(LOW, c(OPT_IN, "eq", True))),
    (
        "spent more than 5000 rupees and ordered at least twice",
        AND(c(SPEND, "gt", 5000), c(ORDERS, "gte", 2)),
    ),
    ("customers who dropped over 5k but not in Mumbai", AND(c(SPEND, "gt", 5000), c(CITY, "ne", "Mumbai"))),
]

# A third batch (second tuning round), written from the issue's failure kinds and the catalog's
# fields before reading the engine's vocabulary: places by other names, amounts written every
# way, counts, calendar phrases, negations, consent, attributes as the docs name them, basket
# size. `None` means the rule language cannot say it: right only when refused or flagged.
LAST_QUARTER = ["2026-07-01", "2026-09-30"]
LAST_MONTH = ["2026-10-01", "2026-10-31"]
TUNING_2: list[tuple[str, Node | None]] = [
    # value slang
    ("our highest spenders", BIG),
    ("high rollers in Delhi", AND(BIG, c(CITY, "eq", "Delhi"))),
    ("lowest-spending customers", LOW),
    ("top spenders who are opted in", AND(BIG, c(OPT_IN, "eq", True))),
    ("big-spending customers from Hyderabad", AND(BIG, c(CITY, "eq", "Hyderabad"))),
    ("customers in the top 10 percent by spend", BIG),
    ("the least valuable customers", LOW),
    ("whales excluding VIPs", AND(BIG, c(VIP, "ne", True))),
    # amounts and spending verbs
    ("customers who spent 5K or more", c(SPEND, "gte", 5000)),
    ("spent more than 1 lakh", c(SPEND, "gt", 100000)),
    ("spent over ₹2,500", c(SPEND, "gt", 2500)),
    ("people who have purchased over ₹10,000 worth", c(SPEND, "gt", 10000)),
    ("customers who bought more than 20k worth of stuff", c(SPEND, "gt", 20000)),
    ("customers who have spent in excess of 40k", c(SPEND, "gt", 40000)),
    ("lifetime spend above ₹75,000", c(SPEND, "gt", 75000)),
    ("customers worth more than 50k", c(SPEND, "gt", 50000)),
    ("spent a total of at least 3,000", c(SPEND, "gte", 3000)),
    ("customers with a CLV over 1 lakh", c(SPEND, "gt", 100000)),
    ("shoppers who spent Rs 750 or less", c(SPEND, "lte", 750)),
    ("spent INR 5000+", c(SPEND, "gte", 5000)),
    ("customers who spent over 2.5k", c(SPEND, "gt", 2500)),
    ("total purchases above 15k", c(SPEND, "gt", 15000)),
    ("customers who spent under a thousand rupees", c(SPEND, "lt", 1000)),
    # average order value
    ("basket size over 2k", c(AOV, "gt", 2000)),
    ("AOV above ₹1,500", c(AOV, "gt", 1500)),
    ("average ticket under 500", c(AOV, "lt", 500)),
    ("customers whose average order is more than 3000", c(AOV, "gt", 3000)),
    ("avg basket >= 2500", c(AOV, "gte", 2500)),
    ("average spend per order of at least 1k", c(AOV, "gte", 1000)),
    (
        "customers in Pune with an average order value of more than 5k",
        AND(c(AOV, "gt", 5000), c(CITY, "eq", "Pune")),
    ),
    ("average order size below ₹800", c(AOV, "lt", 800)),
    # counts
    ("customers with 3+ orders", c(ORDERS, "gte", 3)),
    ("bought more than twice", c(ORDERS, "gt", 2)),
    ("repeat buyers in Mumbai", AND(c(ORDERS, "gte", 2), c(CITY, "eq", "Mumbai"))),
    ("one-time buyers who spent over 2k", AND(c(ORDERS, "eq", 1), c(SPEND, "gt", 2000))),
    ("customers who ordered more than once", c(ORDERS, "gt", 1)),
    ("customers with a single order", c(ORDERS, "eq", 1)),
    ("customers who have placed 5 or more orders", c(ORDERS, "gte", 5)),
    ("fewer than 2 orders", c(ORDERS, "lt", 2)),
    ("ordered exactly three times", c(ORDERS, "eq", 3)),
    ("shoppers with at least 10 purchases", c(ORDERS, "gte", 10)),
    ("customers who only ordered once", c(ORDERS, "eq", 1)),
    ("returning buyers who haven't ordered in 2 months", AND(c(ORDERS, "gte", 2), away(60))),
    ("people who bought at least thrice", c(ORDERS, "gte", 3)),
    ("customers with zero orders", c(ORDERS, "eq", 0)),
    ("customers who have never bought anything", c(ORDERS, "eq", 0)),
    # recency, absence
    ("customers who haven't ordered for 2 months", away(60)),
    ("gone quiet for 60 days", away(60)),
    ("no order since 90 days", away(90)),
    ("inactive for the past 3 months", away(90)),
    ("didn't buy anything in the last 30 days", away(30)),
    ("last purchase over 6 months ago", AND(away(180), c(LAST, "is_set"))),
    ("recent buyers in Pune", AND(c(LAST, "within_last_days", 30), c(CITY, "eq", "Pune"))),
    ("haven't shopped in the past fortnight", away(14)),
    ("bought in the past fortnight", c(LAST, "within_last_days", 14)),
    ("ordered in the last quarter", c(LAST, "within_last_days", 91)),
    ("no purchases in the last quarter", away(91)),
    ("customers who have ordered since March", c(LAST, "after", "2026-02-28")),
    ("haven't ordered since September", NOT(c(LAST, "after", "2026-08-31"))),
    ("lapsed customers in Kolkata", AND(away(90), c(CITY, "eq", "Kolkata"))),
    ("customers with no orders in the past 2 weeks", away(14)),
    ("people who haven't purchased anything this year", NOT(c(LAST, "after", "2025-12-31"))),
    # sign-up and first order dates
    ("customers who joined since March", c(JOINED, "after", "2026-02-28")),
    ("signed up last quarter", c(JOINED, "between", LAST_QUARTER)),
    ("customers who registered in the past fortnight", c(JOINED, "within_last_days", 14)),
    ("joined last month", c(JOINED, "between", LAST_MONTH)),
    ("customers who signed up before 2024", c(JOINED, "before", "2024-01-01")),
    ("customers who joined in the last 6 months", c(JOINED, "within_last_days", 180)),
    ("customers who joined after June 2025", c(JOINED, "after", "2025-06-30")),
    ("first order in the past fortnight", c(FIRST, "within_last_days", 14)),
    ("first purchase more than a year ago", AND(c(FIRST, "not_within_last_days", 365), c(FIRST, "is_set"))),
    # new customers in a period
    ("new joiners this month", c(JOINED, "after", MONTH_START)),
    ("customers who registered this month", c(JOINED, "after", MONTH_START)),
    ("newly signed up customers this week", c(JOINED, "after", "2026-11-08")),
    ("new customers since October", c(JOINED, "after", "2026-09-30")),
    (
        "new customers this month who spent over 1k",
        AND(c(JOINED, "after", MONTH_START), c(SPEND, "gt", 1000)),
    ),
    ("new customers from Delhi this month", AND(c(JOINED, "after", MONTH_START), c(CITY, "eq", "Delhi"))),
    # places by other names
    ("customers from Calcutta", c(CITY, "eq", "Kolkata")),
    ("shoppers in Madras", c(CITY, "eq", "Chennai")),
    ("Cochin customers", c(CITY, "eq", "Kochi")),
    ("people living in New Delhi", c(CITY, "eq", "Delhi")),
    ("customers based in Poona", c(CITY, "eq", "Pune")),
    ("customers in Bombay or Bangalore", c(CITY, "in", ["Mumbai", "Bengaluru"])),
    ("Mumbai, Delhi and Bengaluru customers", c(CITY, "in", ["Mumbai", "Delhi", "Bengaluru"])),
    ("Hyderabad-based repeat buyers", AND(c(CITY, "eq", "Hyderabad"), c(ORDERS, "gte", 2))),
    # negations
    ("customers not from Delhi", c(CITY, "ne", "Delhi")),
    ("everyone excluding VIPs", c(VIP, "ne", True)),
    ("non-VIP customers in Mumbai", AND(c(VIP, "ne", True), c(CITY, "eq", "Mumbai"))),
    (
        "spent over 5k, excluding Pune and Mumbai",
        AND(c(SPEND, "gt", 5000), c(CITY, "not_in", ["Pune", "Mumbai"])),
    ),
    ("all customers except gold tier", c(TIER, "ne", "gold")),
    ("customers who are not in Chennai or Kochi", c(CITY, "not_in", ["Chennai", "Kochi"])),
    ("repeat customers who don't live in Delhi", AND(c(ORDERS, "gte", 2), c(CITY, "ne", "Delhi"))),
    # consent
    ("customers subscribed to marketing", c(OPT_IN, "eq", True)),
    ("customers who consented to marketing", c(OPT_IN, "eq", True)),
    ("marketing opted-in shoppers in Pune", AND(c(OPT_IN, "eq", True), c(CITY, "eq", "Pune"))),
    ("customers who have not opted in", c(OPT_IN, "ne", True)),
    ("opted out of marketing", c(OPT_IN, "eq", False)),
    ("customers with marketing consent who spent over 3k", AND(c(OPT_IN, "eq", True), c(SPEND, "gt", 3000))),
    # attributes as the docs write them
    ("tier = gold", c(TIER, "eq", "gold")),
    ("customers in the platinum tier", c(TIER, "eq", "platinum")),
    ("silver tier or bronze tier customers", c(TIER, "in", ["silver", "bronze"])),
    ("visits > 15", c(VISITS, "gt", 15)),
    ("customers who visited fewer than 3 times", c(VISITS, "lt", 3)),
    ("vip = true", c(VIP, "eq", True)),
    ("VIP members with 10+ visits", AND(c(VIP, "eq", True), c(VISITS, "gte", 10))),
    # symbols
    ("customers in Delhi, spend >= 20k", AND(c(CITY, "eq", "Delhi"), c(SPEND, "gte", 20000))),
    ("orders >= 5 and city = Pune", AND(c(ORDERS, "gte", 5), c(CITY, "eq", "Pune"))),
    ("spend ≥ 5000", c(SPEND, "gte", 5000)),
    ("orders ≤ 2, in Mumbai", AND(c(ORDERS, "lte", 2), c(CITY, "eq", "Mumbai"))),
    ("orders != 0", c(ORDERS, "ne", 0)),
    ("Bangalore customers, aov > 1000", AND(c(CITY, "eq", "Bengaluru"), c(AOV, "gt", 1000))),
    # distribution over "or"
    (
        "spent over 10k in Pune or over 20k in Mumbai",
        OR(
            AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Pune")),
            AND(c(SPEND, "gt", 20000), c(CITY, "eq", "Mumbai")),
        ),
    ),
    (
        "Pune customers with 3+ orders or Delhi customers with 5+ orders",
        OR(
            AND(c(CITY, "eq", "Pune"), c(ORDERS, "gte", 3)),
            AND(c(CITY, "eq", "Delhi"), c(ORDERS, "gte", 5)),
        ),
    ),
    (
        "gold tier in Pune or platinum in Chennai",
        OR(
            AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Pune")),
            AND(c(TIER, "eq", "platinum"), c(CITY, "eq", "Chennai")),
        ),
    ),
    (
        "more than 2k in Kochi or more than 3k in Nagpur",
        OR(
            AND(c(SPEND, "gt", 2000), c(CITY, "eq", "Kochi")),
            AND(c(SPEND, "gt", 3000), c(CITY, "eq", "Nagpur")),
        ),
    ),
    # names
    ("customers named Ravi Shah", c("name", "contains", "ravi shah")),
    ("people whose name contains Iyer", c("name", "contains", "iyer")),
    ("customers called Priya in Delhi", AND(c("name", "contains", "priya"), c(CITY, "eq", "Delhi"))),
    ("anyone by the name Zara", c("name", "contains", "zara")),
    ("customers with the surname Rao", c("name", "contains", "rao")),
    # what the rule language cannot say: refuse or flag, never guess
    ("customers who bought shoes", None),
    ("female customers in Mumbai", None),
    ("customers aged over 30", None),
    ("spent over 10k last month", None),
    ("customers with a birthday this month", None),
]

# Longer and more conversational requests in the same spirit, written with the batch above.
TUNING_2 += [
    ("Show me customers in Pune who spent more than 5k", AND(c(CITY, "eq", "Pune"), c(SPEND, "gt", 5000))),
    ("I want to target people who haven't ordered in 3 months", away(90)),
    ("Get all users from Mumbai with more than 3 orders", AND(c(CITY, "eq", "Mumbai"), c(ORDERS, "gt", 3))),
    (
        "Can you find shoppers who spent over 10k and live in Delhi?",
        AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Delhi")),
    ),
    ("list of customers who joined this month", c(JOINED, "after", MONTH_START)),
    (
        "target our VIPs in Bangalore who haven't bought in 60 days",
        AND(c(VIP, "eq", True), c(CITY, "eq", "Bengaluru"), away(60)),
    ),
    (
        "customers that have been inactive for over 90 days and spent more than 5,000 in total",
        AND(away(90), c(SPEND, "gt", 5000)),
    ),
    ("everyone in Chennai except those who ordered in the last week", AND(c(CITY, "eq", "Chennai"), away(7))),
    ("customers who last ordered more than 3 months ago", AND(away(90), c(LAST, "is_set"))),
    (
        "customers who haven't ordered in the last 3 months but ordered before",
        AND(away(90), c(ORDERS, "gte", 1)),
    ),
    ("people whose last purchase was within the last week", c(LAST, "within_last_days", 7)),
    ("customers who bought something recently", c(LAST, "within_last_days", 30)),
    ("high spenders who have gone inactive", AND(BIG, away(90))),
    ("customers who haven't ordered in a while", away(90)),
    ("users who spent between ₹1,000 and ₹5,000", c(SPEND, "between", [1000, 5000])),
    ("customers with lifetime value of more than 1 lakh rupees", c(SPEND, "gt", 100000)),
    ("customers with at least one order", c(ORDERS, "gte", 1)),
    ("customers with 2 or 3 orders", c(ORDERS, "between", [2, 3])),
    (
        "ordered 5 times or more in Delhi or Mumbai",
        AND(c(ORDERS, "gte", 5), c(CITY, "in", ["Delhi", "Mumbai"])),
    ),
    ("gold members", c(TIER, "eq", "gold")),
    ("platinum customers", c(TIER, "eq", "platinum")),
    ("customers on the gold tier", c(TIER, "eq", "gold")),
    ("VIP shoppers who spent over 1L", AND(c(VIP, "eq", True), c(SPEND, "gt", 100000))),
    ("customers who are VIPs", c(VIP, "eq", True)),
    ("non-vip shoppers with more than 3 orders", AND(c(VIP, "ne", True), c(ORDERS, "gt", 3))),
    ("customers who haven't opted in to marketing emails", c(OPT_IN, "ne", True)),
    ("customers who opted in for promotions", c(OPT_IN, "eq", True)),
    ("marketing-consented customers", c(OPT_IN, "eq", True)),
    ("customers with more than 10 site visits", c(VISITS, "gt", 10)),
    ("customers who visited 5+ times but haven't bought", AND(c(VISITS, "gte", 5), c(ORDERS, "eq", 0))),
    ("people with gmail addresses", c("email", "contains", "@gmail.")),
    ("customers without a phone", c("phone", "is_not_set")),
    ("customers who have an email address", c("email", "is_set")),
    ("customers whose names start with S", c("name", "starts_with", "s")),
    (
        "customers in Delhi who joined in 2024",
        AND(c(CITY, "eq", "Delhi"), c(JOINED, "between", ["2024-01-01", "2024-12-31"])),
    ),
    (
        "customers who joined between January and March 2026",
        c(JOINED, "between", ["2026-01-01", "2026-03-31"]),
    ),
    ("customers who joined in October", c(JOINED, "between", LAST_MONTH)),
    ("signed up yesterday", c(JOINED, "between", ["2026-11-14", "2026-11-14"])),
    ("customers who joined in the last year", c(JOINED, "within_last_days", 365)),
    ("customers acquired in the past 3 months", c(JOINED, "within_last_days", 90)),
    ("customers who have been with us for over 2 years", c(JOINED, "not_within_last_days", 730)),
    ("customers who purchased within the past month", c(LAST, "within_last_days", 30)),
    ("customers whose last order was before June 2026", c(LAST, "before", "2026-06-01")),
    (
        "last ordered between 30 and 60 days ago",
        AND(c(LAST, "not_within_last_days", 30), c(LAST, "within_last_days", 60)),
    ),
    (
        "customers who spent more than ₹5k in Mumbai, Pune or Nagpur",
        AND(c(SPEND, "gt", 5000), c(CITY, "in", ["Mumbai", "Pune", "Nagpur"])),
    ),
    ("spent over 5k or live in Pune", OR(c(SPEND, "gt", 5000), c(CITY, "eq", "Pune"))),
    ("either VIPs or customers who spent over 20k", OR(c(VIP, "eq", True), c(SPEND, "gt", 20000))),
    ("customers who are gold tier and also VIP", AND(c(TIER, "eq", "gold"), c(VIP, "eq", True))),
    ("Mumbai or Pune customers who are not VIP", AND(c(CITY, "in", ["Mumbai", "Pune"]), c(VIP, "ne", True))),
    (
        "customers who spent more than 10k but have fewer than 3 orders",
        AND(c(SPEND, "gt", 10000), c(ORDERS, "lt", 3)),
    ),
    ("customers with spend over 5k and AOV under 1k", AND(c(SPEND, "gt", 5000), c(AOV, "lt", 1000))),
    ("customers whose spend is greater than or equal to 5000", c(SPEND, "gte", 5000)),
    ("orders less than or equal to 2", c(ORDERS, "lte", 2)),
    ("customers spending more than 3k on average per order", c(AOV, "gt", 3000)),
    ("customers whose orders average below ₹600", c(AOV, "lt", 600)),
    ("customers worth over ₹1 crore", c(SPEND, "gt", 10000000)),
    ("spent ₹10K+", c(SPEND, "gte", 10000)),
    ("spent 10,000 rupees or more", c(SPEND, "gte", 10000)),
    ("spent at least Rs. 2.5 lakh", c(SPEND, "gte", 250000)),
    ("spent over 3 lakhs", c(SPEND, "gt", 300000)),
    ("spent less than 2 thousand", c(SPEND, "lt", 2000)),
    ("spent more than twenty thousand", c(SPEND, "gt", 20000)),
    ("people who spent 500 bucks or more", c(SPEND, "gte", 500)),
    ("shoppers in bengaluru", c(CITY, "eq", "Bengaluru")),
    ("customers living outside of Mumbai", c(CITY, "ne", "Mumbai")),
    ("customers not located in Pune or Nagpur", c(CITY, "not_in", ["Pune", "Nagpur"])),
    ("everyone but Kolkata customers", c(CITY, "ne", "Kolkata")),
    ("customers except those in Noida", c(CITY, "ne", "Noida")),
    (
        "customers who haven't ordered in over a month excluding Delhi",
        AND(away(30), c(CITY, "ne", "Delhi")),
    ),
    (
        "repeat customers from Pune who haven't come back in 45 days",
        AND(c(ORDERS, "gte", 2), c(CITY, "eq", "Pune"), away(45)),
    ),
    (
        "customers with exactly 1 order who joined more than 6 months ago",
        AND(c(ORDERS, "eq", 1), c(JOINED, "not_within_last_days", 180)),
    ),
    ("one-timers in Mumbai", AND(c(ORDERS, "eq", 1), c(CITY, "eq", "Mumbai"))),
    ("customers who've ordered 2x or more", c(ORDERS, "gte", 2)),
    ("more than 5 transactions", c(ORDERS, "gt", 5)),
    ("customers with over 4 purchases in Chennai", AND(c(ORDERS, "gt", 4), c(CITY, "eq", "Chennai"))),
    ("customers who made their first purchase this month", c(FIRST, "after", MONTH_START)),
    ("customers whose first order was last month", c(FIRST, "between", LAST_MONTH)),
    ("customers who made their first order before 2025", c(FIRST, "before", "2025-01-01")),
    ("customers who signed up but never ordered", c(ORDERS, "eq", 0)),
    ("registered users who have not made a purchase yet", c(ORDERS, "eq", 0)),
    (
        "customers who joined in the last 30 days and bought at least once",
        AND(c(JOINED, "within_last_days", 30), c(ORDERS, "gte", 1)),
    ),
    ("Please give me everyone who ordered in the last week", c(LAST, "within_last_days", 7)),
    ("I need a segment of lapsed VIPs", AND(away(90), c(VIP, "eq", True))),
    ("Target: Delhi, spend > 10k", AND(c(CITY, "eq", "Delhi"), c(SPEND, "gt", 10000))),
    ("customers with high AOV", None),
    ("loyal customers in Delhi", None),
    ("customers who clicked our last campaign", None),
    ("customers who bought from the app", None),
    ("customers who spent over 5k this year", None),
]

# A fifth batch, written after the fourth was passing: terse and chatty styles, percentiles other
# than 10%, medians, more calendar words, and the kinds again in new words.
P80, P95, P75, P50, P25, P20 = "P80", "P95", "P75", "P50", "P25", "P20"
TUNING_2 += [
    ("top 20% of customers by spend", c(SPEND, "gte", P80)),
    ("top 5% spenders", c(SPEND, "gte", P95)),
    ("customers in the top quartile by spend", c(SPEND, "gte", P75)),
    ("bottom 25% by spend", c(SPEND, "lte", P25)),
    ("customers who spent more than the median", c(SPEND, "gt", P50)),
    (
        "bottom 20 percent of customers by total spend in Pune",
        AND(c(SPEND, "lte", P20), c(CITY, "eq", "Pune")),
    ),
    ("top 10 percent", BIG),
    ("top 20% by number of orders", None),
    ("mumbai 5k+ spenders", AND(c(CITY, "eq", "Mumbai"), c(SPEND, "gte", 5000))),
    ("delhi, 3+ orders, lapsed", AND(c(CITY, "eq", "Delhi"), c(ORDERS, "gte", 3), away(90))),
    ("pune ppl no order 60d", AND(c(CITY, "eq", "Pune"), away(60))),
    ("spend>5k & orders<3", AND(c(SPEND, "gt", 5000), c(ORDERS, "lt", 3))),
    ("VIP + gold tier", AND(c(VIP, "eq", True), c(TIER, "eq", "gold"))),
    (
        "Hey, can you pull up everyone from Hyderabad who has spent over ₹20k with us?",
        AND(c(CITY, "eq", "Hyderabad"), c(SPEND, "gt", 20000)),
    ),
    (
        "I'd like to reach customers who have not purchased anything since August",
        NOT(c(LAST, "after", "2026-07-31")),
    ),
    ("we want to win back people who used to buy a lot but haven't ordered in 4 months", None),
    ("customers who signed up in 2026", c(JOINED, "between", ["2026-01-01", "2026-12-31"])),
    ("customers who joined between March and June", c(JOINED, "between", ["2026-03-01", "2026-06-30"])),
    ("joined after 1 Jan 2026", c(JOINED, "after", "2026-01-01")),
    ("signed up on or after 1st October 2026", c(JOINED, "after", "2026-09-30")),
    ("customers who joined this quarter", c(JOINED, "after", "2026-09-30")),
    ("orders in the last 3 months", c(LAST, "within_last_days", 90)),
    ("customers who haven't made a purchase in the last 90 days", away(90)),
    ("not ordered for 3 months or more", away(90)),
    ("people who stopped buying 6 months ago", None),
    ("last order over a year ago", AND(away(365), c(LAST, "is_set"))),
    ("last purchase in the last 10 days", c(LAST, "within_last_days", 10)),
    ("customers whose most recent order was more than 45 days ago", AND(away(45), c(LAST, "is_set"))),
    ("haven't ordered in 3 months, in Pune or Nashik", AND(away(90), c(CITY, "in", ["Pune", "Nashik"]))),
    ("customers who spent big", BIG),
    ("customers who've spent a lot", BIG),
    ("people spending less than ₹1000 in total", c(SPEND, "lt", 1000)),
    ("buyers with a total spend of 10k to 20k", c(SPEND, "between", [10000, 20000])),
    ("customers spending ₹5000 or more per order", c(AOV, "gte", 5000)),
    ("aov between 1k and 2k", c(AOV, "between", [1000, 2000])),
    ("customers with 4 orders or more", c(ORDERS, "gte", 4)),
    ("customers who ordered at least 3 times but not more than 6 times", c(ORDERS, "between", [3, 6])),
    ("customers who purchased only once in Delhi", AND(c(ORDERS, "eq", 1), c(CITY, "eq", "Delhi"))),
    ("customers who have bought from us more than three times", c(ORDERS, "gt", 3)),
    ("frequent shoppers with 10+ orders", c(ORDERS, "gte", 10)),
    ("people who have never placed an order", c(ORDERS, "eq", 0)),
    ("customers who haven't bought anything yet", c(ORDERS, "eq", 0)),
    ("customers whose tier is silver", c(TIER, "eq", "silver")),
    ("tier: platinum", c(TIER, "eq", "platinum")),
    ("not in the gold tier", c(TIER, "ne", "gold")),
    ("customers flagged as VIP", c(VIP, "eq", True)),
    ("customers who are not VIPs and live in Kochi", AND(c(VIP, "ne", True), c(CITY, "eq", "Kochi"))),
    ("visited the site more than 20 times", c(VISITS, "gt", 20)),
    ("less than 5 visits", c(VISITS, "lt", 5)),
    ("customers who can receive marketing", c(OPT_IN, "eq", True)),
    ("customers who said no to marketing", c(OPT_IN, "eq", False)),
    ("customers with no email address", c("email", "is_not_set")),
    ("customers with phone numbers", c("phone", "is_set")),
    ("customers using yahoo email", c("email", "contains", "@yahoo.")),
    ("customers whose email ends with shop.in", c("email", "contains", "@shop.in")),
    (
        "customers named Dev or Kabir in Pune",
        AND(OR(c("name", "contains", "dev"), c("name", "contains", "kabir")), c(CITY, "eq", "Pune")),
    ),
    ("customers with Smith in their name", c("name", "contains", "smith")),
    (
        "customers from Bengaluru excluding those who spent under 1k",
        AND(c(CITY, "eq", "Bengaluru"), c(SPEND, "gte", 1000)),
    ),
    ("all customers except repeat buyers", c(ORDERS, "lt", 2)),
    ("non-repeat customers", c(ORDERS, "lt", 2)),
    ("customers not in Mumbai, Delhi or Pune", c(CITY, "not_in", ["Mumbai", "Delhi", "Pune"])),
    ("anyone outside Bangalore and Chennai", c(CITY, "not_in", ["Bengaluru", "Chennai"])),
    (
        "spent more than 10k in Delhi or Noida, or more than 20k in Mumbai",
        OR(
            AND(c(SPEND, "gt", 10000), c(CITY, "in", ["Delhi", "Noida"])),
            AND(c(SPEND, "gt", 20000), c(CITY, "eq", "Mumbai")),
        ),
    ),
    (
        "customers with over 5 orders in Pune or over 10 orders anywhere else",
        None,
    ),
    (
        "gold tier customers who spent above 10k or platinum tier customers who spent above 5k",
        OR(
            AND(c(TIER, "eq", "gold"), c(SPEND, "gt", 10000)),
            AND(c(TIER, "eq", "platinum"), c(SPEND, "gt", 5000)),
        ),
    ),
    (
        "customers who bought in the last 30 days and are VIP",
        AND(c(LAST, "within_last_days", 30), c(VIP, "eq", True)),
    ),
    ("new customers in Pune", AND(c(JOINED, "within_last_days", 30), c(CITY, "eq", "Pune"))),
    ("new customers who haven't ordered", AND(c(JOINED, "within_last_days", 30), c(ORDERS, "eq", 0))),
    ("recently joined customers in Delhi", AND(c(JOINED, "within_last_days", 30), c(CITY, "eq", "Delhi"))),
    ("customers that joined in the past week", c(JOINED, "within_last_days", 7)),
    ("customers who are new this week", c(JOINED, "after", "2026-11-08")),
    ("customers who joined 2 weeks ago or less", c(JOINED, "within_last_days", 14)),
    # (first written as "cannot say", an age; but no customer is a year old: it is tenure)
    ("customers older than 1 year", c(JOINED, "not_within_last_days", 365)),
    ("customers over 40 years old", None),
    ("customers with birthdays in December", None),
]

# A sixth batch, written after the fifth was passing: several conditions at once, field names
# as the API spells them, and more that the rule language cannot say.
TUNING_2 += [
    (
        "customers in Mumbai or Pune who spent over 10k and ordered in the last 60 days",
        AND(c(CITY, "in", ["Mumbai", "Pune"]), c(SPEND, "gt", 10000), c(LAST, "within_last_days", 60)),
    ),
    (
        "customers who spent over 5k and haven't ordered in 60 days, excluding Mumbai",
        AND(c(SPEND, "gt", 5000), away(60), c(CITY, "ne", "Mumbai")),
    ),
    (
        "people in Delhi who are either gold tier or have more than 5 orders",
        AND(c(CITY, "eq", "Delhi"), OR(c(TIER, "eq", "gold"), c(ORDERS, "gt", 5))),
    ),
    (
        "spent between 5k and 10k and live in Pune or Mumbai",
        AND(c(SPEND, "between", [5000, 10000]), c(CITY, "in", ["Pune", "Mumbai"])),
    ),
    ("not VIP and not gold tier", AND(c(VIP, "ne", True), c(TIER, "ne", "gold"))),
    ("customers who are neither VIP nor opted in", AND(c(VIP, "ne", True), c(OPT_IN, "ne", True))),
    (
        "customers who have not ordered in 30 days but have ordered in the last 90 days",
        AND(away(30), c(LAST, "within_last_days", 90)),
    ),
    (
        "customers who ordered in the last 90 days but not in the last 30 days",
        AND(c(LAST, "within_last_days", 90), away(30)),
    ),
    (
        "repeat customers in Chennai with AOV above 1500",
        AND(c(ORDERS, "gte", 2), c(CITY, "eq", "Chennai"), c(AOV, "gt", 1500)),
    ),
    (
        "customers who joined before 2024 and were active in the last 30 days",
        AND(c(JOINED, "before", "2024-01-01"), c(LAST, "within_last_days", 30)),
    ),
    (
        "Delhi or Mumbai customers with no purchases in the past 2 months and more than 3 orders overall",
        AND(c(CITY, "in", ["Delhi", "Mumbai"]), away(60), c(ORDERS, "gt", 3)),
    ),
    (
        "customers with more than 2 orders and an average order value under ₹500",
        AND(c(ORDERS, "gt", 2), c(AOV, "lt", 500)),
    ),
    ("spent over ₹50,000 lifetime", c(SPEND, "gt", 50000)),
    ("whales in Delhi who haven't bought in 2 months", AND(BIG, c(CITY, "eq", "Delhi"), away(60))),
    ("top customers who are not opted in to marketing", AND(BIG, c(OPT_IN, "ne", True))),
    ("low spenders who joined over 6 months ago", AND(LOW, c(JOINED, "not_within_last_days", 180))),
    (
        "Customers in Pune, Mumbai, and Nagpur who spent ₹3,000+",
        AND(c(CITY, "in", ["Pune", "Mumbai", "Nagpur"]), c(SPEND, "gte", 3000)),
    ),
    ("those who purchased 3-5 times", c(ORDERS, "between", [3, 5])),
    (
        "customers with between 1 and 3 orders in Kolkata",
        AND(c(ORDERS, "between", [1, 3]), c(CITY, "eq", "Kolkata")),
    ),
    (
        "customers whose last order was in the last 2 weeks and who live in Noida",
        AND(c(LAST, "within_last_days", 14), c(CITY, "eq", "Noida")),
    ),
    (
        "customers with gmail or yahoo addresses",
        OR(c("email", "contains", "@gmail."), c("email", "contains", "@yahoo.")),
    ),
    ("customers with email but no phone", AND(c("email", "is_set"), c("phone", "is_not_set"))),
    (
        "spent more than 5k, ordered more than 3 times, and live in Delhi",
        AND(c(SPEND, "gt", 5000), c(ORDERS, "gt", 3), c(CITY, "eq", "Delhi")),
    ),
    (
        "platinum or gold members in Bangalore who ordered in the last 30 days",
        AND(c(TIER, "in", ["platinum", "gold"]), c(CITY, "eq", "Bengaluru"), c(LAST, "within_last_days", 30)),
    ),
    ("customers who have spent ₹1,00,000 or more", c(SPEND, "gte", 100000)),
    ("spent over Rs.5000", c(SPEND, "gt", 5000)),
    ("spent > INR 10k", c(SPEND, "gt", 10000)),
    ("ordered < 2 times", c(ORDERS, "lt", 2)),
    ("orders = 1", c(ORDERS, "eq", 1)),
    ("total_spend >= 10000 AND city = 'Mumbai'", AND(c(SPEND, "gte", 10000), c(CITY, "eq", "Mumbai"))),
    ("last_order_at older than 90 days", AND(away(90), c(LAST, "is_set"))),
    ("created_at within last 7 days", c(JOINED, "within_last_days", 7)),
    ("customers who spend on average more than 2k", c(AOV, "gt", 2000)),
    ("customers with an AOV of 1000-3000", c(AOV, "between", [1000, 3000])),
    (
        "Customers who haven't ordered in 3 months and whose total spend exceeds 10,000 rupees",
        AND(away(90), c(SPEND, "gt", 10000)),
    ),
    ("anyone who's spent ₹7.5k or more", c(SPEND, "gte", 7500)),
    (
        "customers with 5 or more visits who have never purchased",
        AND(c(VISITS, "gte", 5), c(ORDERS, "eq", 0)),
    ),
    (
        "customers who signed up more than 30 days ago but haven't ordered",
        AND(c(JOINED, "not_within_last_days", 30), c(ORDERS, "eq", 0)),
    ),
    ("inactive VIPs", AND(away(90), c(VIP, "eq", True))),
    (
        "dormant gold tier customers in Delhi",
        AND(away(90), c(TIER, "eq", "gold"), c(CITY, "eq", "Delhi")),
    ),
    ("customers who bought this month", c(LAST, "after", MONTH_START)),
    ("customers who ordered today", c(LAST, "after", "2026-11-14")),
    (
        "customers who joined yesterday and spent over 1k",
        AND(c(JOINED, "between", ["2026-11-14", "2026-11-14"]), c(SPEND, "gt", 1000)),
    ),
    ("customers who joined on 1 November 2026", c(JOINED, "between", ["2026-11-01", "2026-11-01"])),
    (
        "customers in Bengaluru with a total spend over ₹25,000 and at least 4 orders",
        AND(c(CITY, "eq", "Bengaluru"), c(SPEND, "gt", 25000), c(ORDERS, "gte", 4)),
    ),
    (
        "Pune customers excluding those with fewer than 2 orders",
        AND(c(CITY, "eq", "Pune"), c(ORDERS, "gte", 2)),
    ),
    ("customers who joined via referral", None),
    ("customers who abandoned their cart", None),
    ("customers in Tier 1 cities", None),
    ("Gen Z customers", None),
    ("customers who bought during the Diwali sale", None),
    ("customers with more than 3 orders in the last year", None),
    ("customers whose average order value dropped", None),
    ("customers likely to churn", None),
    ("customers who haven't opened any email in 30 days", None),
    ("customers in Mumbai who spent over 5k last year", None),
    ("people who bought more than ₹5000 worth in one order", None),
    ("highest AOV customers", None),
    ("customers who were active last month but not this month", None),
    ("customers who placed an order yesterday", None),
]

# A seventh batch: the issue's kinds once more, in words none of the batches above used. (The
# first two distributive prompts were tried by hand first, found silently wrong, and fixed
# before this batch was scored.)
TUNING_2 += [
    (
        "VIPs in Delhi or gold tier in Mumbai",
        OR(
            AND(c(VIP, "eq", True), c(CITY, "eq", "Delhi")),
            AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Mumbai")),
        ),
    ),
    (
        "spent over 5k in Mumbai or ordered 3 times in Pune",
        OR(
            AND(c(SPEND, "gt", 5000), c(CITY, "eq", "Mumbai")), AND(c(ORDERS, "eq", 3), c(CITY, "eq", "Pune"))
        ),
    ),
    # value slang
    ("our best customers", BIG),
    ("premium customers in Pune", AND(BIG, c(CITY, "eq", "Pune"))),
    ("high-net-worth customers", BIG),
    ("customers who spend the most", BIG),
    ("customers who barely spend anything", LOW),
    ("customers who spent the least", LOW),
    ("least-spending shoppers in Delhi", AND(LOW, c(CITY, "eq", "Delhi"))),
    ("top-tier spenders", BIG),
    ("heavy spenders who are lapsed", AND(BIG, away(90))),
    # spending verbs
    ("customers who invested over 10k", c(SPEND, "gt", 10000)),
    ("people who purchased goods worth over 5k", c(SPEND, "gt", 5000)),
    ("customers with a lifetime spend of over ₹40,000", c(SPEND, "gt", 40000)),
    ("customers who bought items worth more than 3k", c(SPEND, "gt", 3000)),
    ("customers whose purchases total more than 15k", c(SPEND, "gt", 15000)),
    ("customers with purchases totaling over ₹8,000", c(SPEND, "gt", 8000)),
    ("shoppers who have shopped for over ₹10,000", c(SPEND, "gt", 10000)),
    ("customers who paid us over 5k", c(SPEND, "gt", 5000)),
    ("customers who've blown more than 20k", c(SPEND, "gt", 20000)),
    ("customers who spend north of 1L", c(SPEND, "gt", 100000)),
    # recency as absence
    ("customers who haven't shopped with us in ages", away(90)),
    ("customers who have not been active for 2 months", away(60)),
    ("customers who have been away for 60 days", away(60)),
    ("it's been 90 days since their last order", AND(away(90), c(LAST, "is_set"))),
    ("no orders since July", NOT(c(LAST, "after", "2026-06-30"))),
    ("haven't bought anything since the start of the year", NOT(c(LAST, "after", "2025-12-31"))),
    ("inactive since August", NOT(c(LAST, "after", "2026-07-31"))),
    ("customers with no purchase in over 4 months", away(120)),
    ("haven't placed a single order in the last 6 weeks", away(42)),
    ("customers who went 3 months without ordering", None),
    # distribution over "or"
    (
        "5k+ in Mumbai or 10k+ in Delhi",
        OR(
            AND(c(SPEND, "gte", 5000), c(CITY, "eq", "Mumbai")),
            AND(c(SPEND, "gte", 10000), c(CITY, "eq", "Delhi")),
        ),
    ),
    (
        "Mumbai customers over 5k or Delhi customers over 10k",
        OR(
            AND(c(CITY, "eq", "Mumbai"), c(SPEND, "gt", 5000)),
            AND(c(CITY, "eq", "Delhi"), c(SPEND, "gt", 10000)),
        ),
    ),
    ("spent more than 5k in Pune, or more than 8k elsewhere", None),
    (
        "VIPs in Pune who spent over 5k or gold tier in Nagpur",
        OR(
            AND(c(VIP, "eq", True), c(CITY, "eq", "Pune"), c(SPEND, "gt", 5000)),
            AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Nagpur")),
        ),
    ),
    (
        "customers in Kochi with 3+ orders or in Chennai with 5+ orders",
        OR(
            AND(c(CITY, "eq", "Kochi"), c(ORDERS, "gte", 3)),
            AND(c(CITY, "eq", "Chennai"), c(ORDERS, "gte", 5)),
        ),
    ),
    (
        "spent over 5k or ordered more than 3 times, in Pune",
        AND(OR(c(SPEND, "gt", 5000), c(ORDERS, "gt", 3)), c(CITY, "eq", "Pune")),
    ),
    # symbols after a comma
    ("Pune, spend>5000, orders>=2", AND(c(CITY, "eq", "Pune"), c(SPEND, "gt", 5000), c(ORDERS, "gte", 2))),
    ("customers from Mumbai; orders > 3", AND(c(CITY, "eq", "Mumbai"), c(ORDERS, "gt", 3))),
    ("customers (orders > 5)", c(ORDERS, "gt", 5)),
    ("gold tier & visits>10", AND(c(TIER, "eq", "gold"), c(VISITS, "gt", 10))),
    ("aov>=1500 in Hyderabad", AND(c(AOV, "gte", 1500), c(CITY, "eq", "Hyderabad"))),
    ("spend 5000+", c(SPEND, "gte", 5000)),
    (
        "total spend ≥ ₹20,000, last order ≤ 30 days ago",
        AND(c(SPEND, "gte", 20000), c(LAST, "within_last_days", 30)),
    ),
    ("days since last order > 60", AND(away(60), c(LAST, "is_set"))),
    (
        "Kolkata customers, spend < 2k, no orders in 90 days",
        AND(c(CITY, "eq", "Kolkata"), c(SPEND, "lt", 2000), away(90)),
    ),
    # names
    ("customers whose name includes Ravi", c("name", "contains", "ravi")),
    ("customers with first name Asha", c("name", "contains", "asha")),
    ("people named 'Meera'", c("name", "contains", "meera")),
    ("users called John Smith", c("name", "contains", "john smith")),
    ("customers named priya in pune", AND(c("name", "contains", "priya"), c(CITY, "eq", "Pune"))),
    ("names containing Rao", c("name", "contains", "rao")),
    # new customers in a period
    ("customers who are new in November", c(JOINED, "after", MONTH_START)),
    ("November signups", c(JOINED, "after", MONTH_START)),
    ("this month's new customers", c(JOINED, "after", MONTH_START)),
    ("new sign-ups in the current month", c(JOINED, "after", MONTH_START)),
    ("customers onboarded this month", c(JOINED, "after", MONTH_START)),
    ("new customers in October", c(JOINED, "between", LAST_MONTH)),
    (
        "new customers this month who are opted in",
        AND(c(JOINED, "after", MONTH_START), c(OPT_IN, "eq", True)),
    ),
]

# An eighth batch: prompts tried by hand while looking for silent wrong answers. The first five
# were silently wrong (a union read as an intersection, a list of exclusions read as one group,
# a state read as a city) and were fixed before being added here; the rest were right already.
TUNING_2 += [
    (
        "customers in Pune with more than 3 orders and customers in Mumbai with more than 5 orders",
        OR(AND(c(CITY, "eq", "Pune"), c(ORDERS, "gt", 3)), AND(c(CITY, "eq", "Mumbai"), c(ORDERS, "gt", 5))),
    ),
    (
        "gold tier in Mumbai and platinum tier in Delhi",
        OR(
            AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Mumbai")),
            AND(c(TIER, "eq", "platinum"), c(CITY, "eq", "Delhi")),
        ),
    ),
    (
        "customers in Mumbai except VIPs, gold tier and platinum tier",
        AND(c(CITY, "eq", "Mumbai"), c(VIP, "ne", True), c(TIER, "not_in", ["gold", "platinum"])),
    ),
    (
        "customers in Mumbai except VIPs and gold tier",
        AND(c(CITY, "eq", "Mumbai"), c(VIP, "ne", True), c(TIER, "ne", "gold")),
    ),
    ("customers in Maharashtra", None),
    ("customers in India", None),
    ("men in Mumbai", None),
    (
        "everyone except those who spent over 10k and live in Delhi",
        NOT(AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Delhi"))),
    ),
    ("customers who didn't spend over 5k", c(SPEND, "lte", 5000)),
    ("customers who have not spent more than 1000", c(SPEND, "lte", 1000)),
    (
        "customers who spent over 5k in total and at least 2k per order",
        AND(c(SPEND, "gt", 5000), c(AOV, "gte", 2000)),
    ),
    ("spent over 5k on average", c(AOV, "gt", 5000)),
    ("customers who spent less than 5k or more than 50k", OR(c(SPEND, "lt", 5000), c(SPEND, "gt", 50000))),
    (
        "customers from Mumbai who haven't ordered in 30 days or have never ordered",
        AND(c(CITY, "eq", "Mumbai"), OR(away(30), c(ORDERS, "eq", 0))),
    ),
    ("customers who haven't ordered this month", NOT(c(LAST, "after", MONTH_START))),
    ("customers who spent over 5k on shoes", None),
    ("customers who ordered more than 5 times this year", None),
    ("customers who spent more than 10k this month", None),
    ("customers who ordered twice in October", None),
    ("customers whose first order was over 2k", None),
    ("customers who opened our emails", None),
    ("customers with more than 3 visits this month", None),
]

# A ninth batch: more probes by hand, in field labels as the builder shows them and in more
# words for the issue's kinds. Tried before being added: the ones the engine got wrong were
# "customer id starts with C001" (an id split in two), "first order between January and March",
# "customers without a tier", "city in Pune, Delhi", "spent in the range 2k to 8k", "gone 60
# days without an order", "came on board / added / registered during this month", "signups from
# this month", and "new customers in the last month" (read as October, unlike "joined in the
# last month"); all were fixed before being added.
TUNING_2 += [
    ("customer id starts with C001", c("external_id", "starts_with", "c001")),
    ("first order between January and March 2026", c(FIRST, "between", ["2026-01-01", "2026-03-31"])),
    ("customers without a tier", c(TIER, "is_not_set")),
    ("customers who have a tier", c(TIER, "is_set")),
    ("city in Pune, Delhi", c(CITY, "in", ["Pune", "Delhi"])),
    ("spent in the range 2k to 8k", c(SPEND, "between", [2000, 8000])),
    ("spent anywhere between 1k and 3k", c(SPEND, "between", [1000, 3000])),
    ("customers that have gone 60 days without an order", away(60)),
    ("customers who came on board this month", c(JOINED, "after", MONTH_START)),
    ("customers added this month", c(JOINED, "after", MONTH_START)),
    ("customers that registered during this month", c(JOINED, "after", MONTH_START)),
    ("signups from this month in Delhi", AND(c(JOINED, "after", MONTH_START), c(CITY, "eq", "Delhi"))),
    ("new customers in the last month", c(JOINED, "within_last_days", 30)),
    ("new accounts created this month", c(JOINED, "after", MONTH_START)),
    ("number of orders at least 3", c(ORDERS, "gte", 3)),
    ("signed up after March 2026", c(JOINED, "after", "2026-03-31")),
    ("last order before 1 Jan 2026", c(LAST, "before", "2026-01-01")),
    ("marketing_opt_in is true", c(OPT_IN, "eq", True)),
    ("vip is false", c(VIP, "eq", False)),
    ("visits between 5 and 10", c(VISITS, "between", [5, 10])),
    ("tier in gold, platinum", c(TIER, "in", ["gold", "platinum"])),
    ("Average order value between 500 and 1500", c(AOV, "between", [500, 1500])),
    ("city is not Mumbai", c(CITY, "ne", "Mumbai")),
    ("phone is empty", c("phone", "is_not_set")),
    ("non-opted-in customers", c(OPT_IN, "ne", True)),
    ("customers who've dropped 10k or more", c(SPEND, "gte", 10000)),
    ("spent around 5k", None),
    ("no purchases since 3 months", away(90)),
    ("zero orders in the last quarter", away(91)),
    ("who haven't made any purchase since Diwali", None),
    ("last bought more than 2 months ago", AND(away(60), c(LAST, "is_set"))),
    ("customers whose last name is Iyer", c("name", "contains", "iyer")),
    (
        "customers named Zara Smith or John Rao",
        OR(c("name", "contains", "zara smith"), c("name", "contains", "john rao")),
    ),
    ("customers new this month", c(JOINED, "after", MONTH_START)),
    ("orders >= 2 && spend >= 2000", AND(c(ORDERS, "gte", 2), c(SPEND, "gte", 2000))),
    ("orders 2-4", c(ORDERS, "between", [2, 4])),
]

# A tenth batch of probes by hand. Wrong at first, fixed before being added: "highest-value
# customers", "with the highest / lowest spend", "lowest spending 10%" (read as spend >= 10, a
# flagged wrong answer), "Pune (spent > 5k) or Delhi (spent > 10k)" and "spent over 5k (Mumbai)
# or over 8k (Delhi)" (silent wrong answers: brackets after a condition split the runs), "spend:
# >5000", "haven't bought in a year or more", "the last 12 months" (360 days, now a year).
TUNING_2 += [
    ("highest-value customers in Chennai", AND(BIG, c(CITY, "eq", "Chennai"))),
    ("customers with the highest spend", BIG),
    ("customers with the lowest total spend", LOW),
    ("lowest spending 10%", LOW),
    (
        "Pune (spent > 5k) or Delhi (spent > 10k)",
        OR(
            AND(c(CITY, "eq", "Pune"), c(SPEND, "gt", 5000)),
            AND(c(CITY, "eq", "Delhi"), c(SPEND, "gt", 10000)),
        ),
    ),
    (
        "spent over 5k (Mumbai) or over 8k (Delhi)",
        OR(
            AND(c(SPEND, "gt", 5000), c(CITY, "eq", "Mumbai")),
            AND(c(SPEND, "gt", 8000), c(CITY, "eq", "Delhi")),
        ),
    ),
    ("spend: >5000", c(SPEND, "gt", 5000)),
    ("Number of orders: 0", c(ORDERS, "eq", 0)),
    ("haven't bought in a year or more", away(365)),
    ("customers who haven't bought in the last 12 months", away(365)),
    ("customers who spend big", BIG),
    ("whale customers who are dormant", AND(BIG, away(90))),
    ("customers that put in more than 10k", c(SPEND, "gt", 10000)),
    ("customers spending >₹3k", c(SPEND, "gt", 3000)),
    (
        "over 5k in Pune or Mumbai, or over 20k in Delhi",
        OR(
            AND(c(SPEND, "gt", 5000), c(CITY, "in", ["Pune", "Mumbai"])),
            AND(c(SPEND, "gt", 20000), c(CITY, "eq", "Delhi")),
        ),
    ),
    (
        "customers who spent over 10k in Pune and over 20k in Mumbai",
        OR(
            AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Pune")),
            AND(c(SPEND, "gt", 20000), c(CITY, "eq", "Mumbai")),
        ),
    ),
    ("customers who haven't been around for 2 months", away(60)),
    ("customers missing for 45 days", away(45)),
    ("shoppers who haven't returned since May", NOT(c(LAST, "after", "2026-04-30"))),
    ("customers who didn't order in October", None),
    ("customers whose last purchase was in September", c(LAST, "between", ["2026-09-01", "2026-09-30"])),
    ("orders >3 but <10", AND(c(ORDERS, "gt", 3), c(ORDERS, "lt", 10))),
    ("3\u20135 orders", c(ORDERS, "between", [3, 5])),  # an en dash
    ("customers named Anika, Dev or Zara", OR(*(c("name", "contains", n) for n in ("anika", "dev", "zara")))),
    ("customers whose name starts with Pr", c("name", "starts_with", "pr")),
    ("spent 10% more", None),
    ("customers who splurge", None),
    # "new" alone before a place was reported at first; fixed before being added
    (
        "lapsed in Pune or new in Mumbai",
        OR(
            AND(away(90), c(CITY, "eq", "Pune")),
            AND(c(JOINED, "within_last_days", 30), c(CITY, "eq", "Mumbai")),
        ),
    ),
    ("spent 5k+ in Mumbai or 10k+ elsewhere", None),
    ("engaged customers", None),
    ("frequent buyers", None),
]

# An eleventh batch: typing as people type. Wrong at first, fixed before being added: "more
# then" for "more than".
TUNING_2 += [
    ("CUSTOMERS IN MUMBAI WHO SPENT OVER 5K", AND(c(CITY, "eq", "Mumbai"), c(SPEND, "gt", 5000))),
    ("custmers who spnt more then 5k", c(SPEND, "gt", 5000)),
    ("customers with more then 3 orders", c(ORDERS, "gt", 3)),
    ("repeat custmers in Dehli", AND(c(ORDERS, "gte", 2), c(CITY, "eq", "Delhi"))),
    ("big spendrs in Pune", AND(BIG, c(CITY, "eq", "Pune"))),
    ("costumers who joined this month", c(JOINED, "after", MONTH_START)),
    ("Customers from mumbai!!", c(CITY, "eq", "Mumbai")),
    ("customers who spent > 5k \U0001f642", c(SPEND, "gt", 5000)),
    ("spend>5k,orders<3,city=pune", AND(c(SPEND, "gt", 5000), c(ORDERS, "lt", 3), c(CITY, "eq", "Pune"))),
    ("whales,lapsed", AND(BIG, away(90))),
    ("customers who haven\u2019t ordered in 60 days", away(60)),
    ("customers who haven't ordered in sixty days", away(60)),
    ("spent more than ten k", c(SPEND, "gt", 10000)),
    ("spent over Rs 5000/-", c(SPEND, "gt", 5000)),
    # first orders and tenure; "ordered for the first time" was refused at first, then fixed
    ("customers who ordered for the first time this month", c(FIRST, "after", MONTH_START)),
    ("bought for the first time in the last 2 weeks", c(FIRST, "within_last_days", 14)),
    ("customers who have purchased since October", c(LAST, "after", "2026-09-30")),
    ("customers who last ordered less than 2 weeks ago", c(LAST, "within_last_days", 14)),
    ("members for less than 6 months", c(JOINED, "within_last_days", 180)),
    ("customers who joined less than a month ago", c(JOINED, "within_last_days", 30)),
    ("long-time customers", None),
    # average order value and attributes. Wrong at first, fixed before being added: "visited us
    # over 20 times" (a silent wrong answer: read as orders), "more than 1000 per purchase",
    # "gold or platinum tiers" (the plural corrected to "timers")
    ("customers who have visited us over 20 times", c(VISITS, "gt", 20)),
    ("customers spending more than 1000 per purchase", c(AOV, "gt", 1000)),
    ("customers in gold or platinum tiers", c(TIER, "in", ["gold", "platinum"])),
    ("customers with an average order of over 2k", c(AOV, "gt", 2000)),
    ("average cart value above ₹1,200", c(AOV, "gt", 1200)),
    ("mean order value below 700", c(AOV, "lt", 700)),
    ("customers whose typical order is above 1500", c(AOV, "gt", 1500)),
    ("customers with at least 15 store visits", c(VISITS, "gte", 15)),
    ("customers marked VIP", c(VIP, "eq", True)),
    ("non VIPs in Pune", AND(c(VIP, "ne", True), c(CITY, "eq", "Pune"))),
    ("customers whose tier isn't bronze", c(TIER, "ne", "bronze")),
    ("high AOV customers", None),
    ("frequent visitors", None),
    # negations and places by other names ("who are not new" was refused at first)
    ("customers who are not new", c(JOINED, "not_within_last_days", 30)),
    ("customers who don't live in Delhi or Noida", c(CITY, "not_in", ["Delhi", "Noida"])),
    ("all users apart from those in Chennai", c(CITY, "ne", "Chennai")),
    ("customers excluding the ones who spent less than 1k", c(SPEND, "gte", 1000)),
    ("everyone but VIPs and whales", AND(c(VIP, "ne", True), c(SPEND, "lt", TOP))),
    ("neither gold nor platinum tier", c(TIER, "not_in", ["gold", "platinum"])),
    ("customers in Gurgaon", c(CITY, "eq", "Gurugram")),
    (
        "Bangalore or Chennai customers who are VIP",
        AND(c(CITY, "in", ["Bengaluru", "Chennai"]), c(VIP, "eq", True)),
    ),
    # unions said with "as well as", "plus", "along with". Wrong at first (silently: two
    # cities at once, an empty audience), fixed before being added; the last is ambiguous and
    # must be flagged
    ("customers in Pune as well as Mumbai", c(CITY, "in", ["Pune", "Mumbai"])),
    ("VIPs in Pune as well as Mumbai", AND(c(VIP, "eq", True), c(CITY, "in", ["Pune", "Mumbai"]))),
    ("customers in Pune plus those in Mumbai", c(CITY, "in", ["Pune", "Mumbai"])),
    ("Pune customers along with Delhi customers", c(CITY, "in", ["Pune", "Delhi"])),
    ("gold tier customers as well as platinum tier customers", c(TIER, "in", ["gold", "platinum"])),
    ("both Pune and Mumbai customers", c(CITY, "in", ["Pune", "Mumbai"])),
    ("customers in Pune who spent over 5k as well as Mumbai", None),
    # ordinary words one edit from a keyword are not typos ("good" was read as "gold": a
    # silent wrong answer, a tier nobody named)
    ("good customers in Pune", None),
    ("send to customers in Pune", c(CITY, "eq", "Pune")),
]

TUNING += TUNING_2

# A fourth batch (third tuning round), written before any change it prompted: longer sentences
# with filler, typos and capitals, numbers in words, ranges, relative dates said several ways,
# average order value, negations inside an "or", attributes and consent, and prompts the engine
# must refuse or flag. Cities one letter off are typos; a real place a little further off
# ("Puri", "Goa") is not one of the catalog's cities and must not be read as one.
TUNING_3: list[tuple[str, Node | None]] = [
    # filler around ordinary requests
    ("can you pull up customers in Pune who spent over 5k", AND(c(CITY, "eq", "Pune"), c(SPEND, "gt", 5000))),
    ("I want to target everyone who hasn't ordered in 2 months", away(60)),
    ("show me everyone who has placed more than 4 orders", c(ORDERS, "gt", 4)),
    ("could you find me all the VIPs in Delhi please", AND(c(VIP, "eq", True), c(CITY, "eq", "Delhi"))),
    (
        "I'd like a list of customers from Chennai with at least 3 orders",
        AND(c(CITY, "eq", "Chennai"), c(ORDERS, "gte", 3)),
    ),
    (
        "pls get me people in Kolkata who spent less than 2k",
        AND(c(CITY, "eq", "Kolkata"), c(SPEND, "lt", 2000)),
    ),
    ("hey, can you show all customers who joined in the last 10 days", c(JOINED, "within_last_days", 10)),
    (
        "give me a segment of customers who spent more than 10k and live in Mumbai",
        AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Mumbai")),
    ),
    ("I need everyone who ordered in the last 2 weeks", c(LAST, "within_last_days", 14)),
    ("find all shoppers whose average order value is above 2000", c(AOV, "gt", 2000)),
    (
        "can we target people who have opted in to marketing in Pune",
        AND(c(OPT_IN, "eq", True), c(CITY, "eq", "Pune")),
    ),
    ("show me all the customers that haven't purchased in the past 90 days", away(90)),
    (
        "pull a list of gold tier customers in Hyderabad",
        AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Hyderabad")),
    ),
    ("I want to reach out to one-time buyers in Noida", AND(c(ORDERS, "eq", 1), c(CITY, "eq", "Noida"))),
    (
        "let's target customers who spent over ₹20,000 but haven't ordered in 3 months",
        AND(c(SPEND, "gt", 20000), away(90)),
    ),
    ("who are the customers in Nagpur with no orders?", AND(c(CITY, "eq", "Nagpur"), c(ORDERS, "eq", 0))),
    # typos and capitals
    ("customers in mumbia", c(CITY, "eq", "Mumbai")),
    ("DELHI customers who spent over 5K", AND(c(CITY, "eq", "Delhi"), c(SPEND, "gt", 5000))),
    ("custmers from Hydrabad", c(CITY, "eq", "Hyderabad")),
    ("people in chenai with more than 2 orders", AND(c(CITY, "eq", "Chennai"), c(ORDERS, "gt", 2))),
    ("KOLKATA VIPS", AND(c(CITY, "eq", "Kolkata"), c(VIP, "eq", True))),
    ("customers in Bengaluru who spnt over 10k", AND(c(CITY, "eq", "Bengaluru"), c(SPEND, "gt", 10000))),
    ("shopers in Nagpur", c(CITY, "eq", "Nagpur")),
    ("custmers who havent ordered in 60 days", away(60)),
    ("customers in Kochii", c(CITY, "eq", "Kochi")),
    ("customers from Pnue", c(CITY, "eq", "Pune")),
    ("customers in Noidaa", c(CITY, "eq", "Noida")),
    ("custoemrs with over 5 ordres", c(ORDERS, "gt", 5)),
    (
        "Customers In Mumbai Who Joined This Month",
        AND(c(CITY, "eq", "Mumbai"), c(JOINED, "after", MONTH_START)),
    ),
    ("spent more then 5k in delhi", AND(c(SPEND, "gt", 5000), c(CITY, "eq", "Delhi"))),
    ("SPEND OVER 10K, ORDERS > 2", AND(c(SPEND, "gt", 10000), c(ORDERS, "gt", 2))),
    ("customers in kolkatta", c(CITY, "eq", "Kolkata")),
    ("customers in Dehradun", c(CITY, "eq", "Dehradun")),
    ("customers in Puri", c(CITY, "eq", "Puri")),
    ("customers from Goa", c(CITY, "eq", "Goa")),
    # numbers in words
    ("customers with five orders", c(ORDERS, "eq", 5)),
    ("customers who placed more than five orders", c(ORDERS, "gt", 5)),
    ("spent over two thousand rupees", c(SPEND, "gt", 2000)),
    # "a couple" was 3 at first (the "a" counted as one); "between two and five thousand" was 2 to
    # 5,000; "at least 1500 and more than 3 orders" was refused (a second bound the same way)
    ("customers with a couple of orders", c(ORDERS, "eq", 2)),
    ("more than a couple of orders", c(ORDERS, "gt", 2)),
    ("at least a dozen orders", c(ORDERS, "gte", 12)),
    ("spent over fifty thousand", c(SPEND, "gt", 50000)),
    ("customers who ordered four times", c(ORDERS, "eq", 4)),
    ("haven't ordered in ninety days", away(90)),
    ("haven't ordered in three weeks", away(21)),
    ("spent over one lakh", c(SPEND, "gt", 100000)),
    ("joined in the last two weeks", c(JOINED, "within_last_days", 14)),
    ("customers with fewer than three orders in Pune", AND(c(ORDERS, "lt", 3), c(CITY, "eq", "Pune"))),
    ("customers with a few orders", None),
    ("spent between 500 and 5k", c(SPEND, "between", [500, 5000])),  # 500 is not scaled to 500k
    ("spent from 1 to 5 lakh", c(SPEND, "between", [100000, 500000])),
    ("spent more than 2k and at most 5k", AND(c(SPEND, "gt", 2000), c(SPEND, "lte", 5000))),
    ("at least 3 orders and at least 2k spent", AND(c(ORDERS, "gte", 3), c(SPEND, "gte", 2000))),
    ("customers around Pune", None),
    ("spent a few thousand", None),
    # ranges
    ("spend between 3k and 6k in Pune", AND(c(SPEND, "between", [3000, 6000]), c(CITY, "eq", "Pune"))),
    ("from 3 to 6 orders", c(ORDERS, "between", [3, 6])),
    ("customers with 2 to 4 orders", c(ORDERS, "between", [2, 4])),
    ("spent anywhere from 1000 to 5000 rupees", c(SPEND, "between", [1000, 5000])),
    ("average order value from 1k to 2k", c(AOV, "between", [1000, 2000])),
    ("between 5 and 10 visits", c(VISITS, "between", [5, 10])),
    (
        "spent between ₹2,000 and ₹8,000 and live in Delhi",
        AND(c(SPEND, "between", [2000, 8000]), c(CITY, "eq", "Delhi")),
    ),
    ("ordered between three and six times", c(ORDERS, "between", [3, 6])),
    ("spent 2k\u20135k", c(SPEND, "between", [2000, 5000])),
    ("customers who spent between two and five thousand", c(SPEND, "between", [2000, 5000])),
    # relative dates
    ("ordered in the past 3 weeks", c(LAST, "within_last_days", 21)),
    ("customers who bought something during the last 2 months", c(LAST, "within_last_days", 60)),
    # "the last quarter" is the last 91 days, as the docs have it ("signed up last quarter",
    # without "the", is the calendar quarter); first written as the calendar quarter
    ("joined during the last quarter", c(JOINED, "within_last_days", 91)),
    ("joined within the past 6 months", c(JOINED, "within_last_days", 180)),
    ("no orders over the last 4 weeks", away(28)),
    ("purchased within the last 10 days", c(LAST, "within_last_days", 10)),
    ("signed up more than 2 years ago", c(JOINED, "not_within_last_days", 730)),
    ("ordered in the past year", c(LAST, "within_last_days", 365)),
    ("customers whose last order was over 2 months back", AND(away(60), c(LAST, "is_set"))),
    ("joined since the beginning of the year", c(JOINED, "after", "2025-12-31")),
    (
        "customers who joined in the last 90 days in Mumbai",
        AND(c(JOINED, "within_last_days", 90), c(CITY, "eq", "Mumbai")),
    ),
    ("ordered over the last couple of weeks", c(LAST, "within_last_days", 14)),
    ("customers who have ordered since last Diwali", None),
    ("customers who haven't ordered since Holi", None),
    ("customers who joined since last Christmas", None),
    ("customers who ordered after the sale", None),
    ("haven't bought anything for a few weeks", None),
    # average order value
    ("customers whose average order value is more than 2.5k", c(AOV, "gt", 2500)),
    ("avg order value under ₹1,000 in Pune", AND(c(AOV, "lt", 1000), c(CITY, "eq", "Pune"))),
    ("customers spending over 3k per order on average", c(AOV, "gt", 3000)),
    (
        "average order value of at least 1500 and more than 3 orders",
        AND(c(AOV, "gte", 1500), c(ORDERS, "gt", 3)),
    ),
    ("customers whose average basket is below 600", c(AOV, "lt", 600)),
    ("AOV > 2k or spend > 20k", OR(c(AOV, "gt", 2000), c(SPEND, "gt", 20000))),
    ("average purchase value above 1200", c(AOV, "gt", 1200)),
    ("customers with an average order of less than ₹500", c(AOV, "lt", 500)),
    # negations inside an "or"
    (
        "customers who are either not VIP or have spent over 10k",
        OR(c(VIP, "ne", True), c(SPEND, "gt", 10000)),
    ),
    ("either non-VIPs or gold tier", OR(c(VIP, "ne", True), c(TIER, "eq", "gold"))),
    (
        "customers who haven't ordered in 90 days or have fewer than 2 orders",
        OR(away(90), c(ORDERS, "lt", 2)),
    ),
    ("VIPs or customers who are not opted in", OR(c(VIP, "eq", True), c(OPT_IN, "ne", True))),
    ("customers outside Delhi or who spent over 5k", OR(c(CITY, "ne", "Delhi"), c(SPEND, "gt", 5000))),
    (
        "customers who are not gold tier, or who spent under 1k",
        OR(c(TIER, "ne", "gold"), c(SPEND, "lt", 1000)),
    ),
    ("either lapsed for 60 days or never ordered", OR(away(60), c(ORDERS, "eq", 0))),
    (
        "people who don't live in Pune or who have opted out of marketing",
        OR(c(CITY, "ne", "Pune"), c(OPT_IN, "eq", False)),
    ),
    # attributes and consent
    ("VIP customers who haven't ordered in 30 days", AND(c(VIP, "eq", True), away(30))),
    ("all the vips", c(VIP, "eq", True)),
    ("customers in Chennai who aren't VIPs", AND(c(CITY, "eq", "Chennai"), c(VIP, "ne", True))),
    ("platinum-tier shoppers with more than 10 visits", AND(c(TIER, "eq", "platinum"), c(VISITS, "gt", 10))),
    ("silver members in Nagpur", AND(c(TIER, "eq", "silver"), c(CITY, "eq", "Nagpur"))),
    ("customers with fewer than 5 visits who are VIP", AND(c(VISITS, "lt", 5), c(VIP, "eq", True))),
    ("customers who opted in to marketing messages", c(OPT_IN, "eq", True)),
    (
        "customers who have given marketing consent in Delhi",
        AND(c(OPT_IN, "eq", True), c(CITY, "eq", "Delhi")),
    ),
    ("opted-in VIPs", AND(c(OPT_IN, "eq", True), c(VIP, "eq", True))),
    (
        "customers who agreed to receive offers and spent over 5k",
        AND(c(OPT_IN, "eq", True), c(SPEND, "gt", 5000)),
    ),
    ("customers who have not consented to marketing", c(OPT_IN, "ne", True)),
    ("customers who opted in to WhatsApp", None),
    # the catalog does not list a text attribute's values, so a tier nobody has is still a tier
    # value (first written as a refusal)
    ("diamond tier customers", c(TIER, "eq", "diamond")),
    # what the rule language cannot say: refused or flagged
    ("customers with age over 30", None),
    ("people who bought sneakers in Mumbai", None),
    ("customers who live near Mumbai", None),  # read as Mumbai at first; "near" is now reported
    ("customers with a high churn risk", None),
    ("customers who bought last Diwali", None),
    ("customers who spent over 5k in the last month", None),
    ("women who spent over 5k", None),
    ("customers who use iPhones", None),
    ("customers who referred a friend", None),
    ("customers who left a review", None),
    ("customers in the north", None),
    ("customers with more than 5 orders this month", None),
    ("customers who ordered on weekends", None),
    ("customers who use coupons", None),
    ("customers with a good credit score", None),
]

TUNING += TUNING_3

# A second round-3 batch, written after the first passed and scored before the changes it
# prompted: harder forms of the same kinds.
TUNING_3B: list[tuple[str, Node | None]] = [
    # filler
    (
        "Can you please pull up a list of all customers based out of Bangalore who have spent"
        " more than 15,000 rupees in total?",
        AND(c(CITY, "eq", "Bengaluru"), c(SPEND, "gt", 15000)),
    ),
    (
        "show me every customer in hyderabad or chennai that has ordered at least twice",
        AND(c(CITY, "in", ["Hyderabad", "Chennai"]), c(ORDERS, "gte", 2)),
    ),
    (
        "i want all the people who signed up in the past month but never bought anything",
        AND(c(JOINED, "within_last_days", 30), c(ORDERS, "eq", 0)),
    ),
    ("Who are my VIP customers in Mumbai?", AND(c(VIP, "eq", True), c(CITY, "eq", "Mumbai"))),
    (
        "find me customers who haven't shopped in over 2 months and live in Delhi",
        AND(away(60), c(CITY, "eq", "Delhi")),
    ),
    ("get everyone with an AOV north of 2k", c(AOV, "gt", 2000)),
    (
        "can you make a segment for repeat buyers who spent under 3k",
        AND(c(ORDERS, "gte", 2), c(SPEND, "lt", 3000)),
    ),
    (
        "target all customers from Mumbai, Pune and Nagpur who are opted in",
        AND(c(CITY, "in", ["Mumbai", "Pune", "Nagpur"]), c(OPT_IN, "eq", True)),
    ),
    ("I'd like to see the customers who have made 3 or more purchases in total", c(ORDERS, "gte", 3)),
    ("list all non-vip customers who've spent over 1 lakh", AND(c(VIP, "ne", True), c(SPEND, "gt", 100000))),
    # typos and capitals
    ("custmers in Banglore with more than 3 ordrs", AND(c(CITY, "eq", "Bengaluru"), c(ORDERS, "gt", 3))),
    ("peple who spent ovr 5k", c(SPEND, "gt", 5000)),
    ("customers in Hyderbad", c(CITY, "eq", "Hyderabad")),
    ("customers in Chenai or Kolkatta", c(CITY, "in", ["Chennai", "Kolkata"])),
    ("customers in Mumbay", c(CITY, "eq", "Mumbai")),
    ("customers in Delhii and Nodia", c(CITY, "in", ["Delhi", "Noida"])),
    ("VIP CUSTOMERS WITH 10+ VISITS", AND(c(VIP, "eq", True), c(VISITS, "gte", 10))),
    ("customers who joined this mnth", c(JOINED, "after", MONTH_START)),
    ("spent morethan 5k", c(SPEND, "gt", 5000)),
    ("customers with 5+ oders", c(ORDERS, "gte", 5)),
    # numbers in words
    ("customers with more than twenty orders", c(ORDERS, "gt", 20)),
    ("spent over twenty five thousand", c(SPEND, "gt", 25000)),
    ("haven't ordered in forty five days", away(45)),
    ("spent less than five hundred rupees", c(SPEND, "lt", 500)),
    ("ordered half a dozen times or more", c(ORDERS, "gte", 6)),
    ("spent over one and a half lakh", c(SPEND, "gt", 150000)),
    ("customers who ordered a dozen times", c(ORDERS, "eq", 12)),
    ("joined in the last thirty days", c(JOINED, "within_last_days", 30)),
    ("customers with at least one purchase in the last six months", c(LAST, "within_last_days", 180)),
    # ranges
    ("spend between 10,000 and 20,000 rupees", c(SPEND, "between", [10000, 20000])),
    ("customers who have spent 5 to 10k", c(SPEND, "between", [5000, 10000])),
    ("AOV in the 1k-2k range", c(AOV, "between", [1000, 2000])),
    ("orders between 2 and 5, in Pune", AND(c(ORDERS, "between", [2, 5]), c(CITY, "eq", "Pune"))),
    ("from 10 to 20 visits", c(VISITS, "between", [10, 20])),
    ("spent more than 5k but less than 10k", AND(c(SPEND, "gt", 5000), c(SPEND, "lt", 10000))),
    (
        "between 3 and 5 orders and spent over 2k",
        AND(c(ORDERS, "between", [3, 5]), c(SPEND, "gt", 2000)),
    ),
    # relative dates
    ("ordered within the last 45 days", c(LAST, "within_last_days", 45)),
    ("no purchases in the previous 2 months", away(60)),
    ("signed up in the past 12 months", c(JOINED, "within_last_days", 365)),
    ("customers who joined over the past week", c(JOINED, "within_last_days", 7)),
    ("bought something in the last 3 days", c(LAST, "within_last_days", 3)),
    ("lapsed for more than 6 months", away(180)),
    ("customers who joined last year", c(JOINED, "between", ["2025-01-01", "2025-12-31"])),
    ("customers who haven't purchased since Independence Day", None),
    ("customers who ordered before Diwali", None),
    ("signed up during the festive season", None),
    # average order value
    ("customers whose avg order is over ₹1,500", c(AOV, "gt", 1500)),
    ("average order value greater than 3k and in Mumbai", AND(c(AOV, "gt", 3000), c(CITY, "eq", "Mumbai"))),
    ("AOV less than 800 or more than 5000", OR(c(AOV, "lt", 800), c(AOV, "gt", 5000))),
    ("customers whose average order value is between 1000 and 2500", c(AOV, "between", [1000, 2500])),
    # negations inside an "or"
    ("VIPs, or anyone who hasn't ordered in 60 days", OR(c(VIP, "eq", True), away(60))),
    ("either haven't opted in or have fewer than 2 orders", OR(c(OPT_IN, "ne", True), c(ORDERS, "lt", 2))),
    ("customers who are not gold tier or not VIP", OR(c(TIER, "ne", "gold"), c(VIP, "ne", True))),
    ("customers without any orders or who spent under 500", OR(c(ORDERS, "eq", 0), c(SPEND, "lt", 500))),
    # attributes and consent
    ("vip shoppers in pune", AND(c(VIP, "eq", True), c(CITY, "eq", "Pune"))),
    ("gold and platinum members", c(TIER, "in", ["gold", "platinum"])),
    ("customers who visited more than ten times", c(VISITS, "gt", 10)),
    ("bronze tier customers who haven't ordered in 30 days", AND(c(TIER, "eq", "bronze"), away(30))),
    ("customers who are subscribed to our newsletter", c(OPT_IN, "eq", True)),
    ("people who unsubscribed", c(OPT_IN, "eq", False)),
    ("customers we can send promotions to", c(OPT_IN, "eq", True)),
    ("opted in customers who spent over 10k in the last year", None),
    # refused or flagged
    ("customers over 30 years of age", None),
    ("customers who bought shoes last month", None),
    ("male customers", None),
    ("customers who bought the iPhone 15", None),
    ("customers who spent the most in October", None),
    ("customers who returned an item", None),
    ("students in Pune", None),
    ("customers who have a birthday next week", None),
    ("customers with pending orders", None),
    ("customers who ordered more than 3 times last month", None),
    ("customers who are likely to buy again", None),
    ("customers in Tier 2 cities", None),
    ("customers from South Mumbai", None),
    # guards for the changes this batch prompted: the half only after a whole number, "in the"
    # before an amount only when a range follows, sending only as consent to receive marketing
    ("spent over two and a half thousand", c(SPEND, "gt", 2500)),
    ("customers with one and a half orders", None),
    ("spent in the 3 months", None),
    ("spend in the 5 to 10 lakh range", c(SPEND, "between", [500000, 1000000])),
    ("customers we can email", None),
    ("aov ovr 2k and orders undr 3", AND(c(AOV, "gt", 2000), c(ORDERS, "lt", 3))),
]

TUNING += TUNING_3B

# Round-3 probes by hand, each wrong or refused at first and fixed before being added, with the
# cases that show the fix does not fire where it should not.
TUNING_3C: list[tuple[str, Node | None]] = [
    # a "+" after a period's number: "90+ days" is 90 days; a period straight after "lapsed"
    ("customers who have been inactive for 90+ days", away(90)),
    ("lapsed 90 days", away(90)),
    ("inactive 60 days", away(60)),
    ("lapsed 90+ days, spend 5k+", AND(away(90), c(SPEND, "gte", 5000))),
    ("lapsed customers in Pune", AND(away(90), c(CITY, "eq", "Pune"))),
    # city abbreviations: only as names ("in Hyd", "BLR"), never a bare lowercase word
    ("customers in Hyd", c(CITY, "eq", "Hyderabad")),
    ("customers in BLR", c(CITY, "eq", "Bengaluru")),
    ("Dilli customers", c(CITY, "eq", "Delhi")),
    # "opt in" said as a verb, and negated inside an "or"
    ("customers who did not opt in or are not VIP", OR(c(OPT_IN, "ne", True), c(VIP, "ne", True))),
    ("customers who didn't opt in", c(OPT_IN, "ne", True)),
    # real words one edit from a keyword are words, not typos: "loads" was read as "leads" (no
    # orders, flagged), "shipped" as "shopped", "zone" as "zero", "match" as "march"
    ("folks who spent loads", BIG),
    ("customers whose order shipped in the last week", None),
    ("customers in the west zone", None),
    ("customers who clicked in the last 30 days", None),
    ("customers who love discounts", None),
    ("customers who match our ideal profile", None),
    ("male customers in Delhi", None),
    # value slang, more of it
    ("customers who spend a fortune", BIG),
    ("customers who spent a ton", BIG),
    ("customers who dropped big", BIG),
    ("big ticket customers", BIG),
    ("heavy hitters in Pune", AND(BIG, c(CITY, "eq", "Pune"))),
    ("customers who spent next to nothing", LOW),
    ("customers who spent a lot on shoes", None),
    ("spent a lot last month", None),
    # requests said as a verb: filler, not a condition
    ("build an audience of VIPs", c(VIP, "eq", True)),
    ("I'm looking for customers in Pune", c(CITY, "eq", "Pune")),
    ("help me find customers in Pune who spent up to 5k", AND(c(CITY, "eq", "Pune"), c(SPEND, "lte", 5000))),
    # "total order value" is the total: it was read as the average order value, silently
    ("customers with a total order value above 10k", c(SPEND, "gt", 10000)),
    ("customers with an order value over 5k", c(AOV, "gt", 5000)),
    # crossing a figure is going over it
    ("customers whose total spend crossed 1 lakh", c(SPEND, "gt", 100000)),
    ("customers who crossed the road", None),
    # "no purchase activity in 3 months" was never ordered AND ordered in 90 days (nobody,
    # silently); "no" beside a condition that needs an order is now reported
    ("no purchase activity in 3 months", away(90)),
    ("no order activity in the last 60 days", away(60)),
    ("customers missing since 60 days", away(60)),
    ("customers with no orders who bought in the last week", None),
    ("customers with no orders and AOV over 1k", None),
    ("new customers who haven't ordered yet", AND(c(JOINED, "within_last_days", 30), c(ORDERS, "eq", 0))),
    # a negated condition stays in its run, so the "or" is between the runs (it was VIP AND
    # (Mumbai OR non-VIP) AND Delhi: nobody, silently)
    (
        "VIPs in Mumbai or non-VIPs in Delhi who spent over 20k",
        OR(
            AND(c(VIP, "eq", True), c(CITY, "eq", "Mumbai")),
            AND(c(VIP, "ne", True), c(CITY, "eq", "Delhi"), c(SPEND, "gt", 20000)),
        ),
    ),
    (
        "gold tier in Pune or not gold tier in Delhi",
        OR(
            AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Pune")),
            AND(c(TIER, "ne", "gold"), c(CITY, "eq", "Delhi")),
        ),
    ),
    # an amount after "or" with no comparator takes the one before, only before a place
    (
        "customers spending more than 5k in Pune or 10k in Mumbai",
        OR(
            AND(c(SPEND, "gt", 5000), c(CITY, "eq", "Pune")),
            AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Mumbai")),
        ),
    ),
    (
        "spent under 2k in Delhi or 5k in Pune",
        OR(
            AND(c(SPEND, "lt", 2000), c(CITY, "eq", "Delhi")),
            AND(c(SPEND, "lt", 5000), c(CITY, "eq", "Pune")),
        ),
    ),
    ("spent more than 5k or 10k", None),
    ("VIPs or 10k in Mumbai", None),
    # "with name Arjun" names someone (it was "has a name", Arjun reported)
    ("customers with name Arjun", c("name", "contains", "arjun")),
    ("customers with a name", c("name", "is_set")),
    ("first-time customers this month", None),
    # consent said more ways; its negation stays exact
    ("customers who have opted into promotional emails", c(OPT_IN, "eq", True)),
    ("people who allow marketing messages", c(OPT_IN, "eq", True)),
    ("customers who are ok with marketing", c(OPT_IN, "eq", True)),
    ("customers on our mailing list in Pune", AND(c(OPT_IN, "eq", True), c(CITY, "eq", "Pune"))),
    ("customers who don't allow marketing messages", c(OPT_IN, "ne", True)),
    ("customers who agreed to hear from us", None),
    # "high lifetime value" / "low total spend" as value words (were the place alone, flagged)
    ("customers with high lifetime value in Pune", AND(BIG, c(CITY, "eq", "Pune"))),
    ("customers with a low total spend", LOW),
    ("customers with high order value", None),
    # a negated auxiliary one letter off is still negated ("havn't" was read as "have", the
    # absence turned into presence, flagged)
    ("custmers that havn't purchased in 90 days", away(90)),
    ("customers who hasent ordered in 60 days", away(60)),
    ("parent customers", None),
    # "a lakh", "a grand": one of a word multiplier (were refused); never "a k"
    ("spent more than a lakh", c(SPEND, "gt", 100000)),
    ("customers who spent under a grand", c(SPEND, "lt", 1000)),
    ("spent over a k", None),
    # New Year is 1 January (a fixed date); festivals that move are still reported
    ("haven't bought since New Year", NOT(c(LAST, "after", "2025-12-31"))),
    ("customers who joined since new year", c(JOINED, "after", "2025-12-31")),
    ("customers who joined after Holi", None),
    ("customers who ordered since the Diwali sale", None),
    # counts and amounts of things the catalog does not hold: refused or flagged, never read as
    # orders or spend
    ("customers who returned more than 2 orders", None),
    ("customers with income above 10 lakh", None),
    ("customers with more than 100 loyalty points", None),
    ("customers who opened more than 3 emails", None),
    ("customers who bought 3 shirts", None),
    ("customers who spent more than 2k online", None),
    ("customers aged 25-35", None),
]

TUNING += TUNING_3C

# Round 4: variants of the kinds tests/ai/tuning_round4.py found wrong (each fix read on two or
# three phrasings of its own), and guards that the change does not fire elsewhere.
TUNING_4: list[tuple[str, Node | None]] = [
    # a stated period replaces a vague word's default when both point the same way ("gone
    # quiet" was lapsed-90 AND no orders in 56 days: silently wrong)
    ("dormant customers: no purchases in the last 4 months", away(120)),
    ("inactive shoppers who haven't bought in 45 days", away(45)),
    ("lapsed buyers, last order more than 60 days ago", AND(away(60), c(LAST, "is_set"))),
    ("churned users (4 months)", away(120)),
    # … but not when they point opposite ways (a window), nor across an "or"
    ("lapsed customers who ordered in the last year", AND(away(90), c(LAST, "within_last_days", 365))),
    ("recent buyers who haven't ordered in 7 days", AND(c(LAST, "within_last_days", 30), away(7))),
    ("lapsed customers or anyone who ordered in the last week", OR(away(90), c(LAST, "within_last_days", 7))),
    (
        "new customers or those who joined in the last 7 days",
        OR(c(JOINED, "within_last_days", 30), c(JOINED, "within_last_days", 7)),
    ),
    # a period in brackets or after a dash, with no preposition, is the vague word's period
    ("recent customers (past 2 weeks) in Pune", AND(c(LAST, "within_last_days", 14), c(CITY, "eq", "Pune"))),
    ("new customers (last 10 days)", c(JOINED, "within_last_days", 10)),
    ("recent purchasers - last 45 days", c(LAST, "within_last_days", 45)),
    ("recent buyers (past week) or VIPs", OR(c(LAST, "within_last_days", 7), c(VIP, "eq", True))),
    # … and nothing else's: "last week" without a count is the calendar week
    ("customers in Pune (last 15 days)", None),
    ("recent buyers, last week", None),
    ("new customers last week", c(JOINED, "between", ["2026-11-02", "2026-11-08"])),
    # a window whose second bound is a bare count takes the unit said before it
    ("bought in the past 3 months but not in the past 1", AND(c(LAST, "within_last_days", 90), away(30))),
    (
        "purchased within the last 60 days but not within the last 14",
        AND(c(LAST, "within_last_days", 60), away(14)),
    ),
    ("ordered in the last 8 weeks but not in the last 2", AND(c(LAST, "within_last_days", 56), away(14))),
    (
        "joined in the last 90 days but not in the last 30",
        AND(c(JOINED, "within_last_days", 90), c(JOINED, "not_within_last_days", 30)),
    ),
    ("spent over 5k in the last 30 days but not in the last 7", None),
    # absence still includes customers who never ordered; a last or first order "more than N
    # days ago" needs one
    ("customers who haven't placed an order in the last 45 days", away(45)),
    ("last purchase over 45 days ago", AND(away(45), c(LAST, "is_set"))),
    ("first order more than 2 years ago", AND(c(FIRST, "not_within_last_days", 730), c(FIRST, "is_set"))),
    # nothing spent is total spend 0, and a bare 0 is exactly 0 ("spent 0" was >= 0: everyone)
    ("people who haven't spent a rupee", c(SPEND, "eq", 0)),
    ("customers with zero spend in Pune", AND(c(SPEND, "eq", 0), c(CITY, "eq", "Pune"))),
    ("customers who have spent nothing yet", c(SPEND, "eq", 0)),
    ("spent ₹0", c(SPEND, "eq", 0)),
    ("spent 0 or more", c(SPEND, "gte", 0)),
    ("spent nothing in the last 30 days", None),
    ("zero spend in the last month", None),
    # short forms: "val", "amt", "ord", "txns", and a dot after "avg." or "no." ends no sentence
    ("avg. basket val over 1500", c(AOV, "gt", 1500)),
    ("average order amt under 800 in Pune", AND(c(AOV, "lt", 800), c(CITY, "eq", "Pune"))),
    ("avg ord value above 3k and more than 3 txns", AND(c(AOV, "gt", 3000), c(ORDERS, "gt", 3))),
    ("no. of orders > 5", c(ORDERS, "gt", 5)),
    ("customers named Val", c("name", "contains", "val")),
    (
        "spent over 5k. ordered in the last 30 days",
        AND(c(SPEND, "gt", 5000), c(LAST, "within_last_days", 30)),
    ),
    # "N times or more" on a counted attribute, as on orders
    ("visited the store 15 times or less", c(VISITS, "lte", 15)),
    ("visited 10 times and above in Pune", AND(c(VISITS, "gte", 10), c(CITY, "eq", "Pune"))),
    ("visited 20 times or more or spent over 5k", OR(c(VISITS, "gte", 20), c(SPEND, "gt", 5000))),
    ("visits 20 times", c(VISITS, "eq", 20)),
    # consent with no topic is the store's marketing consent; consent to something named is not
    ("customers who have given explicit consent", c(OPT_IN, "eq", True)),
    ("customers with no consent in Pune", AND(c(OPT_IN, "ne", True), c(CITY, "eq", "Pune"))),
    ("VIPs who haven't consented", AND(c(VIP, "eq", True), c(OPT_IN, "ne", True))),
    ("customers who consented to cookies", None),
    ("customers who consented for data sharing", None),
    # a hedge before a date or period ("sometime", "at some point", "back") changes nothing
    ("joined sometime last year", c(JOINED, "between", ["2025-01-01", "2025-12-31"])),
    ("registered at some point in 2024", c(JOINED, "between", ["2024-01-01", "2024-12-31"])),
    ("first ordered sometime before 2025", c(FIRST, "before", "2025-01-01")),
    ("ordered sometime in the last 30 days", c(LAST, "within_last_days", 30)),
    ("haven't ordered anytime in the last 30 days", away(30)),
    ("ordered at some point", c(ORDERS, "gte", 1)),
    ("ordered sometime in March", None),
    # a named day with its date in brackets is that date; without one it is still reported
    ("haven't ordered since Holi (14 March 2026)", NOT(c(LAST, "after", "2026-03-13"))),
    ("joined after Independence Day (15 Aug 2026)", c(JOINED, "after", "2026-08-15")),
    ("customers who bought after the Diwali sale (1 Nov 2026)", c(LAST, "after", "2026-11-01")),
    ("first order before Christmas (25 Dec 2025)", c(FIRST, "before", "2025-12-25")),
    ("customers who shopped since Onam", None),
    ("joined in Pune (1 Jan 2025)", None),
    ("joined in March (2025)", None),
    # a bare tier word after a status cue ("are", "not", "neither … nor") or listed with a yes/no
    # attribute ("VIPs or gold") is a tier; after a purchase verb, or before a product, it is not
    ("customers who are neither VIP nor gold", NOT(OR(c(VIP, "eq", True), c(TIER, "eq", "gold")))),
    ("customers who are neither opted in nor VIP", NOT(OR(c(OPT_IN, "eq", True), c(VIP, "eq", True)))),
    ("customers who are platinum in Pune", AND(c(TIER, "eq", "platinum"), c(CITY, "eq", "Pune"))),
    ("VIPs or gold", OR(c(VIP, "eq", True), c(TIER, "eq", "gold"))),
    ("customers who bought gold", None),
    ("customers who are gold buyers", None),
    ("gold or silver", None),
    # tiers compared by their usual order (bronze, silver, gold, platinum, diamond)
    ("gold and above", c(TIER, "in", ["gold", "platinum", "diamond"])),
    ("members below gold tier", c(TIER, "in", ["bronze", "silver"])),
    (
        "silver tier or higher in Mumbai",
        AND(c(TIER, "in", ["silver", "gold", "platinum", "diamond"]), c(CITY, "eq", "Mumbai")),
    ),
    (
        "tier at least gold and spent over 10k",
        AND(c(TIER, "in", ["gold", "platinum", "diamond"]), c(SPEND, "gt", 10000)),
    ),
    ("not above silver tier", c(TIER, "not_in", ["gold", "platinum", "diamond"])),
    ("above diamond tier", None),
    # "nor" without a "neither" is "and not" ("not VIP nor platinum" was not-VIP OR platinum:
    # silently wrong once "platinum" read as a tier); "neither" covers only what "nor" joins
    (
        "customers who are not VIP nor platinum",
        AND(c(VIP, "ne", True), c(TIER, "ne", "platinum")),
    ),
    ("customers who haven't ordered in 90 days nor opted in", AND(away(90), c(OPT_IN, "ne", True))),
    (
        "neither VIP nor platinum and spent over 5k",
        AND(NOT(OR(c(VIP, "eq", True), c(TIER, "eq", "platinum"))), c(SPEND, "gt", 5000)),
    ),
    ("neither in Mumbai nor Pune", c(CITY, "not_in", ["Mumbai", "Pune"])),
    ("members above the silver tier", c(TIER, "in", ["gold", "platinum", "diamond"])),
    ("customers in tiers above silver", c(TIER, "in", ["gold", "platinum", "diamond"])),
    ("spent nil", c(SPEND, "eq", 0)),
    ("haven't spent any money", c(SPEND, "eq", 0)),
    # consent as a yes/no field; "the year 2025" is that calendar year
    ("vip = true and consent = yes", AND(c(VIP, "eq", True), c(OPT_IN, "eq", True))),
    ("consent: no", c(OPT_IN, "eq", False)),
    ("joined in the year 2025", c(JOINED, "between", ["2025-01-01", "2025-12-31"])),
    ("signed up in calendar year 2024", c(JOINED, "between", ["2024-01-01", "2024-12-31"])),
    ("joined in the last year", c(JOINED, "within_last_days", 365)),
    # consent withdrawn with no topic is a "no" (it was read as consent given, the verb reported)
    ("customers who withdrew consent", c(OPT_IN, "eq", False)),
    (
        "customers who have withdrawn their consent in Pune",
        AND(c(OPT_IN, "eq", False), c(CITY, "eq", "Pune")),
    ),
    ("consent revoked", c(OPT_IN, "eq", False)),
    ("withdrew consent for cookies", None),
    # a bracketed period with a comparison goes to a vague word pointing the same way only;
    # "i.e." ends no clause
    ("recent buyers (<15 days)", c(LAST, "within_last_days", 15)),
    ("lapsed customers (>60 days)", away(60)),
    ("dormant customers (60 days+)", away(60)),
    ("recent buyers (i.e. last 15 days)", c(LAST, "within_last_days", 15)),
    ("recent buyers (> 15 days)", None),
    ("lapsed customers (< 60 days)", None),
    ("customers in Pune (>60 days)", None),
    ("ordered within 30 days but not within 7", AND(c(LAST, "within_last_days", 30), away(7))),
    ("active in the last 60 days excluding the last 10", AND(c(LAST, "within_last_days", 60), away(10))),
    # the average said other ways: "spend/order", a bracketed restatement, an amount under 1,000
    # per order (was read as a count of orders under 500, the rest reported)
    ("avg spend/order over 1k", c(AOV, "gt", 1000)),
    ("average order value (AOV) over 3k", c(AOV, "gt", 3000)),
    ("lifetime value (LTV) over 50k", c(SPEND, "gt", 50000)),
    ("spend per order under 500", c(AOV, "lt", 500)),
    ("revenue per order above 2k", c(AOV, "gt", 2000)),
    ("orders under 5", c(ORDERS, "lt", 5)),
    ("gold/platinum members", c(TIER, "in", ["gold", "platinum"])),
    # … or said after it with "on", a comma or a dash when it names a day, after since / after /
    # before only ("first order in app on 3 March" names a place to buy, reported)
    ("ordered after Diwali on 8 Nov 2026", c(LAST, "after", "2026-11-08")),
    ("ordered since Diwali - 8 Nov 2026", c(LAST, "after", "2026-11-07")),
    ("haven't bought since Holi on March 14", NOT(c(LAST, "after", "2026-03-13"))),
    ("first order in app on 3 March", None),
    ("first order before Diwali 2025", None),
    # … "a higher tier than silver"; a comparison word is never a tier's value ("tier above or
    # equal to gold" was tier "above" or "equal" or gold, silently)
    ("customers in a higher tier than silver", c(TIER, "in", ["gold", "platinum", "diamond"])),
    ("tier above or equal to gold", c(TIER, "in", ["gold", "platinum", "diamond"])),
    ("customers at or below silver tier", c(TIER, "in", ["bronze", "silver"])),
    ("spend above or equal to 5k", c(SPEND, "gte", 5000)),
    ("tier is elite", c(TIER, "eq", "elite")),
    ("20 visits or more", c(VISITS, "gte", 20)),
    ("5 visits or fewer in Pune", AND(c(VISITS, "lte", 5), c(CITY, "eq", "Pune"))),
    ("customers with 20 visits or more than 3 orders", OR(c(VISITS, "eq", 20), c(ORDERS, "gt", 3))),
    ("recent buyers (last fortnight)", c(LAST, "within_last_days", 14)),
    ("new customers last fortnight", c(JOINED, "within_last_days", 14)),
]

TUNING += TUNING_4


# Round 5: variants of the kinds tests/ai/tuning_round5.py found wrong (each fix read on two or
# three phrasings of its own), and guards that the change does not fire elsewhere.
IS_VIP = c(VIP, "eq", True)
TUNING_5: list[tuple[str, Node | None]] = [
    # "or over" / "and above" before another number starts the next comparison; it is not the
    # count's "or more" ("over 3 orders and over 3k spend" was orders > 3 AND spend >= 3k)
    ("more than 2 orders and over 4k spend", AND(c(ORDERS, "gt", 2), c(SPEND, "gt", 4000))),
    ("with 6 orders or over 12 visits", OR(c(ORDERS, "eq", 6), c(VISITS, "gt", 12))),
    (
        "Pune shoppers with under 4 orders or above 10k spend",
        AND(c(CITY, "eq", "Pune"), OR(c(ORDERS, "lt", 4), c(SPEND, "gt", 10000))),
    ),
    ("3 orders or more", c(ORDERS, "gte", 3)),
    ("4 orders and above in Delhi", AND(c(ORDERS, "gte", 4), c(CITY, "eq", "Delhi"))),
    # "except" leaves out a group said as conditions side by side, and a list of such groups
    ("all customers except gold tier in Mumbai", NOT(AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Mumbai")))),
    ("everyone except opted-in VIPs", NOT(AND(c(OPT_IN, "eq", True), IS_VIP))),
    (
        "excluding Mumbai VIPs and Kochi gold tier",
        NOT(OR(AND(c(CITY, "eq", "Mumbai"), IS_VIP), AND(c(CITY, "eq", "Kochi"), c(TIER, "eq", "gold")))),
    ),
    ("Delhi customers except the VIPs", AND(c(CITY, "eq", "Delhi"), c(VIP, "ne", True))),
    ("everyone except VIPs who spent over 5k", AND(c(VIP, "ne", True), c(SPEND, "gt", 5000))),
    # "not both": who is not all of it; "but not both" after an "or": one of the two only
    (
        "customers who are not both gold tier and opted in",
        NOT(AND(c(TIER, "eq", "gold"), c(OPT_IN, "eq", True))),
    ),
    ("not both VIP and in Pune", NOT(AND(IS_VIP, c(CITY, "eq", "Pune")))),
    (
        "gold tier or VIP, not both",
        OR(AND(c(TIER, "eq", "gold"), c(VIP, "ne", True)), AND(c(TIER, "ne", "gold"), IS_VIP)),
    ),
    ("VIPs and opted in but not both", None),  # "not both" of an "and" says nothing
    # one "not" before two statuses joined by a bare "or" denies both, as "neither … nor" does
    ("customers who aren't VIP or platinum", AND(c(VIP, "ne", True), c(TIER, "ne", "platinum"))),
    ("not opted in or VIP", AND(c(OPT_IN, "ne", True), c(VIP, "ne", True))),
    # … but not with a verb or a "not" of its own on the right, nor after "either"
    ("customers who are not VIP or spent over 5k", OR(c(VIP, "ne", True), c(SPEND, "gt", 5000))),
    ("either not VIP or gold tier", OR(c(VIP, "ne", True), c(TIER, "eq", "gold"))),
    ("not VIP or not opted in", OR(c(VIP, "ne", True), c(OPT_IN, "ne", True))),
    # a joiner and a word that opens a new group ("or anyone in …", "plus all VIPs", "and those
    # who …") is a union between whole groups; a list that ends in one is a list of groups
    (
        "gold tier customers in Pune, or anyone in Kochi",
        OR(AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Pune")), c(CITY, "eq", "Kochi")),
    ),
    ("opted-in customers plus everyone who spent over 20k", OR(c(OPT_IN, "eq", True), c(SPEND, "gt", 20000))),
    (
        "Delhi VIPs along with all platinum tier customers",
        OR(AND(c(CITY, "eq", "Delhi"), IS_VIP), c(TIER, "eq", "platinum")),
    ),
    (
        "VIPs, opted-in customers, or anyone in Noida",
        OR(IS_VIP, c(OPT_IN, "eq", True), c(CITY, "eq", "Noida")),
    ),
    ("whales and anybody in Chennai", OR(BIG, c(CITY, "eq", "Chennai"))),
    # "plus" / "as well as" between two noun groups is a union; between what one group does
    # ("who are … as well as …") it stays an "and"
    ("platinum tier customers as well as VIPs", OR(c(TIER, "eq", "platinum"), IS_VIP)),
    ("VIPs plus opted-in customers", OR(IS_VIP, c(OPT_IN, "eq", True))),
    ("customers who are gold tier as well as opted in", AND(c(TIER, "eq", "gold"), c(OPT_IN, "eq", True))),
    ("shoppers who are VIP plus opted in", AND(IS_VIP, c(OPT_IN, "eq", True))),
    ("everyone but Kochi", c(CITY, "ne", "Kochi")),
    # "and" and "or" in one clause with no comma, bracket or "either": which binds first is a
    # guess, so it is flagged
    ("opted in and ordered in the last 60 days or gold tier", None),
    ("VIP or spent over 10k and lives in Pune", None),
    # … not when brackets, a comma or "either" group them, nor when the "or" is between places
    ("(VIP and opted in) or gold tier", OR(AND(IS_VIP, c(OPT_IN, "eq", True)), c(TIER, "eq", "gold"))),
    ("VIP and opted in, or gold tier", OR(AND(IS_VIP, c(OPT_IN, "eq", True)), c(TIER, "eq", "gold"))),
    (
        "spent over 5k and lives in Pune or Nagpur",
        AND(c(SPEND, "gt", 5000), c(CITY, "in", ["Pune", "Nagpur"])),
    ),
    # a condition right after "A or B" may qualify B alone or both: flagged
    ("gold tier or whales in Chennai", None),
    ("VIPs or low spenders in Noida", None),
    # … not when a noun closes the pair first, nor when both sides are one field
    (
        "vip or platinum tier customers in Kochi",
        AND(OR(IS_VIP, c(TIER, "eq", "platinum")), c(CITY, "eq", "Kochi")),
    ),
    (
        "customers named Asha or Meera in Delhi",
        AND(OR(c("name", "contains", "asha"), c("name", "contains", "meera")), c(CITY, "eq", "Delhi")),
    ),
    ("Chennai customers who are VIPs or whales", AND(c(CITY, "eq", "Chennai"), OR(IS_VIP, BIG))),
    # dates written with slashes or dashes are day/month/year; "b/w" is between
    ("signed up before 10/03/2026", c(JOINED, "before", "2026-03-10")),
    ("first order after 5/9/2026", c(FIRST, "after", "2026-09-05")),
    ("joined after 31/02/2026", None),  # no such day
    ("orders b/w 2 and 5", c(ORDERS, "between", [2, 5])),
    ("gold/silver customers", c(TIER, "in", ["gold", "silver"])),
    # "through" / "thru" close a range as "to" does
    ("spend 2k through 8k", c(SPEND, "between", [2000, 8000])),
    ("visits 5 thru 15", c(VISITS, "between", [5, 15])),
    # "at risk" is a vague lapse word (no order in 90 days)
    ("at risk customers in Pune", AND(away(90), c(CITY, "eq", "Pune"))),
    ("opted-in customers at risk of churn", AND(c(OPT_IN, "eq", True), away(90))),
    # a tier word right before a yes/no status word is a tier ("gold VIPs")
    ("platinum VIPs", AND(c(TIER, "eq", "platinum"), IS_VIP)),
    (
        "bronze or silver VIPs in Delhi",
        AND(c(TIER, "in", ["bronze", "silver"]), IS_VIP, c(CITY, "eq", "Delhi")),
    ),
    ("gold coins VIPs", None),  # a product, not a tier
    # the last order's own calendar date ("last order was yesterday") is exact
    ("last purchase was yesterday", c(LAST, "between", ["2026-11-14", "2026-11-14"])),
    ("last ordered last month", c(LAST, "between", ["2026-10-01", "2026-10-31"])),
    ("ordered last month", None),  # some order in October: the last order can't tell
    # "custs" is a people word for "new …"
    ("new custs last week", c(JOINED, "between", ["2026-11-02", "2026-11-08"])),
    # a missing contact said with "lack" or "we don't know/have"; "don't lack" is having one
    ("customers whose phone we don't have", c("phone", "is_not_set")),
    ("customers who lack a phone number", c("phone", "is_not_set")),
    ("customers who don't lack a phone", c("phone", "is_set")),
    ("customers whose email is not known", c("email", "is_not_set")),
    # "the last month" is the month just gone by, as "in the last month" is
    ("ordered in the last 6 months but not the last month", AND(c(LAST, "within_last_days", 180), away(30))),
    (
        "joined in the last year but not the last quarter",
        AND(c(JOINED, "within_last_days", 365), c(JOINED, "not_within_last_days", 91)),
    ),
    ("new customers last month", c(JOINED, "between", ["2026-10-01", "2026-10-31"])),  # calendar
    # "spent N times" counts orders; a count of times is never an amount
    ("spent at least 4 times", c(ORDERS, "gte", 4)),
    ("paid more than 2 times in Pune", AND(c(ORDERS, "gt", 2), c(CITY, "eq", "Pune"))),
    ("spent over 5k 3 times", None),  # three orders over 5k each, or 3 orders and over 5k?
    ("spent over 5k", c(SPEND, "gt", 5000)),
    # "ordered before X" is some order before X: the first order is before X
    ("bought something before March 2026", c(FIRST, "before", "2026-03-01")),
    ("shoppers who purchased prior to 1 Jan 2026", c(FIRST, "before", "2026-01-01")),
    ("haven't ordered before 2026", NOT(c(FIRST, "before", "2026-01-01"))),
    ("last ordered before 2026", c(LAST, "before", "2026-01-01")),
    ("ordered in March 2026", None),  # some order in March: the last order can't tell
]

TUNING += TUNING_5

# Round 6: what the engine learned from tests/ai/tuning_round6.py, in other words, with guards
# that each change does not fire elsewhere.
TUNING_6: list[tuple[str, Node | None]] = [
    # "except the people in Kochi who …": a head noun and "who" tie the clause to the group left out
    ("everyone except the people in Pune who never ordered", NOT(c(CITY, "eq", "Pune"), c(ORDERS, "eq", 0))),
    (
        "all customers except those in Delhi who spent over 5k",
        NOT(c(CITY, "eq", "Delhi"), c(SPEND, "gt", 5000)),
    ),
    (
        "customers except the ones in Mumbai who are gold or VIP",
        NOT(c(CITY, "eq", "Mumbai"), OR(c(TIER, "eq", "gold"), IS_VIP)),
    ),
    ("Delhi customers except the people who never ordered", AND(c(CITY, "eq", "Delhi"), c(ORDERS, "gte", 1))),
    ("everyone except VIPs who spent over 5k", AND(c(VIP, "ne", True), c(SPEND, "gt", 5000))),  # as before
    # a bare number in the thousands is no count: not the field of "one-time buyers" before it
    ("one-time buyers whose only order was above 8,000", None),
    ("3+ orders, over 5000", None),
    ("one-time buyers, over 5k", AND(c(ORDERS, "eq", 1), c(SPEND, "gt", 5000))),
    ("3+ orders or over 5", OR(c(ORDERS, "gte", 3), c(ORDERS, "gt", 5))),
    # short forms of periods ("dys", "yr", "wks", "mths"), "w/in" and "w/o"; a swapped pair of
    # letters is the likelier typo ("teir" is tier, not their)
    ("no orders in 45 dys", away(45)),
    ("joined this yr in pune", AND(c(JOINED, "after", "2025-12-31"), c(CITY, "eq", "Pune"))),
    ("ordered in the last 2 wks", c(LAST, "within_last_days", 14)),
    ("ordered w/in 30 days", c(LAST, "within_last_days", 30)),
    ("customers w/o a phone", c("phone", "is_not_set")),
    ("platinum teir in mumbai", AND(c(TIER, "eq", "platinum"), c(CITY, "eq", "Mumbai"))),
    ("customers in their first year", None),  # "their" stays their
]

TUNING += TUNING_6
