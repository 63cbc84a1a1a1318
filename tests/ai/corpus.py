"""Prompts a marketer types, each with the rule tree it must give (compared by audience, not text).

`NOW` is fixed so calendar phrases ("this month") have one right answer: Sunday 15 Nov 2026.
`FLAGGED` are prompts the offline engine cannot express exactly; it must say which part it did
not understand (or refuse), never answer something else quietly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)

Node = dict[str, Any]


def c(field: str, cmp: str, value: Any = None) -> Node:
    return {"field": field, "cmp": cmp, **({} if cmp in ("is_set", "is_not_set") else {"value": value})}


def AND(*rules: Node) -> Node:
    return {"op": "and", "rules": list(rules)}


def OR(*rules: Node) -> Node:
    return {"op": "or", "rules": list(rules)}


def NOT(*rules: Node) -> Node:
    return {"op": "and", "not": True, "rules": list(rules)}


SPEND, AOV, ORDERS = "total_spend", "avg_order_value", "order_count"
LAST, FIRST, JOINED, CITY = "last_order_at", "first_order_at", "created_at", "city"
TIER, VISITS, VIP, OPT_IN = (
    "attributes.tier",
    "attributes.visits",
    "attributes.vip",
    "attributes.marketing_opt_in",
)
LAPSED_90 = c(LAST, "not_within_last_days", 90)

CORPUS: list[tuple[str, Node]] = [
    # amounts, in Indian and Western formats
    ("customers who spent more than 5k", c(SPEND, "gt", 5000)),
    ("spent over ₹5,000", c(SPEND, "gt", 5000)),
    ("total spend above $1,200", c(SPEND, "gt", 1200)),
    ("people who have spent at least 1.5 lakh", c(SPEND, "gte", 150000)),
    ("lifetime value over 2 million", c(SPEND, "gt", 2000000)),
    ("spent less than 500 rupees", c(SPEND, "lt", 500)),
    ("customers spending under Rs. 2,000", c(SPEND, "lt", 2000)),
    ("spent between 2k and 5k", c(SPEND, "between", [2000, 5000])),
    ("spend from ₹10,000 to ₹20,000", c(SPEND, "between", [10000, 20000])),
    ("spent 5k-10k", c(SPEND, "between", [5000, 10000])),
    ("spent no more than 3000", c(SPEND, "lte", 3000)),
    ("customers with ₹50k+ spend", c(SPEND, "gte", 50000)),
    ("spent 1,50,000 or more", c(SPEND, "gte", 150000)),
    ("average order value above 2k", c(AOV, "gt", 2000)),
    ("AOV under ₹800", c(AOV, "lt", 800)),
    ("spent over five thousand rupees", c(SPEND, "gt", 5000)),
    ("customers who spent exactly 1000", c(SPEND, "eq", 1000)),
    ("spent at least 2.5L", c(SPEND, "gte", 250000)),
    ("spent upwards of $2,500 with us", c(SPEND, "gt", 2500)),
    ("customers whose total spend is 10k or above", c(SPEND, "gte", 10000)),
    ("spent over 1.2 million dollars", c(SPEND, "gt", 1200000)),
    ("spent less than 1 crore", c(SPEND, "lt", 10000000)),
    # counts
    ("ordered 3+ times", c(ORDERS, "gte", 3)),
    ("one-time buyers", c(ORDERS, "eq", 1)),
    ("repeat customers", c(ORDERS, "gte", 2)),
    ("customers with more than 5 orders", c(ORDERS, "gt", 5)),
    ("placed at least two orders", c(ORDERS, "gte", 2)),
    ("ordered fewer than 3 times", c(ORDERS, "lt", 3)),
    ("never ordered", c(ORDERS, "eq", 0)),
    ("customers with no orders", c(ORDERS, "eq", 0)),
    ("bought exactly once", c(ORDERS, "eq", 1)),
    ("ordered twice", c(ORDERS, "eq", 2)),
    ("between 2 and 4 orders", c(ORDERS, "between", [2, 4])),
    ("10 or more purchases", c(ORDERS, "gte", 10)),
    ("order count at least 4", c(ORDERS, "gte", 4)),
    ("visited more than five times", c(VISITS, "gt", 5)),
    ("customers with over 20 visits", c(VISITS, "gt", 20)),
    ("bought 3 or more times in Pune", AND(c(ORDERS, "gte", 3), c(CITY, "eq", "Pune"))),
    # recency
    ("haven't ordered in 90 days", LAPSED_90),
    ("inactive for 3 months", LAPSED_90),
    ("bought in the last 2 weeks", c(LAST, "within_last_days", 14)),
    ("no purchase in the past 6 months", c(LAST, "not_within_last_days", 180)),
    ("ordered within the last 30 days", c(LAST, "within_last_days", 30)),
    ("customers who have not bought anything for a year", c(LAST, "not_within_last_days", 365)),
    ("last order more than 60 days ago", AND(c(LAST, "not_within_last_days", 60), c(LAST, "is_set"))),
    ("new customers who joined this month", c(JOINED, "after", "2026-10-31")),
    ("signed up in the last 7 days", c(JOINED, "within_last_days", 7)),
    ("joined before 2025", c(JOINED, "before", "2025-01-01")),
    ("customers who joined in 2025", c(JOINED, "between", ["2025-01-01", "2025-12-31"])),
    ("ordered this year", c(LAST, "after", "2025-12-31")),
    ("first order in the last 30 days", c(FIRST, "within_last_days", 30)),
    ("been customers for more than a year", c(JOINED, "not_within_last_days", 365)),
    ("dormant for six months", c(LAST, "not_within_last_days", 180)),
    ("haven't shopped since March", NOT(c(LAST, "after", "2026-02-28"))),
    ("lapsed customers", LAPSED_90),
    ("bought something in the last 3 days", c(LAST, "within_last_days", 3)),
    ("haven't purchased in over 120 days", c(LAST, "not_within_last_days", 120)),
    ("active in the last 60 days", c(LAST, "within_last_days", 60)),
    ("customers who joined more than 2 years ago", c(JOINED, "not_within_last_days", 730)),
    ("last purchase within the last 45 days", c(LAST, "within_last_days", 45)),
    # places
    ("customers in Mumbai or Pune", c(CITY, "in", ["Mumbai", "Pune"])),
    ("outside Delhi", c(CITY, "ne", "Delhi")),
    ("from Bangalore", c(CITY, "eq", "Bengaluru")),
    ("living in Hyderabad, Chennai or Kochi", c(CITY, "in", ["Hyderabad", "Chennai", "Kochi"])),
    ("not in Mumbai", c(CITY, "ne", "Mumbai")),
    ("Mumbai-based customers", c(CITY, "eq", "Mumbai")),
    ("in mumbai and pune", c(CITY, "in", ["Mumbai", "Pune"])),
    ("customers from Bombay", c(CITY, "eq", "Mumbai")),
    ("everyone except Delhi and Kolkata", c(CITY, "not_in", ["Delhi", "Kolkata"])),
    ("customers in Nagpur", c(CITY, "eq", "Nagpur")),
    # values from the catalog
    ("gold tier customers", c(TIER, "eq", "gold")),
    ("tier is platinum or gold", c(TIER, "in", ["platinum", "gold"])),
    ("VIP customers in Pune", AND(c(VIP, "eq", True), c(CITY, "eq", "Pune"))),
    ("customers without an email", c("email", "is_not_set")),
    ("gmail users", c("email", "contains", "@gmail.")),
    ("opted in to marketing", c(OPT_IN, "eq", True)),
    ("name starts with A", c("name", "starts_with", "a")),
    ("customers with a phone number", c("phone", "is_set")),
    ("not gold tier", c(TIER, "ne", "gold")),
    # compound and nested logic, negation
    (
        "people who spent more than ₹5k but haven't ordered in 3 months, in Mumbai or Pune",
        AND(c(SPEND, "gt", 5000), LAPSED_90, c(CITY, "in", ["Mumbai", "Pune"])),
    ),
    (
        "either spent over 10k or ordered 5+ times, in Bangalore",
        AND(OR(c(SPEND, "gt", 10000), c(ORDERS, "gte", 5)), c(CITY, "eq", "Bengaluru")),
    ),
    (
        "customers in Mumbai who either spent over 5k or ordered more than 3 times",
        AND(c(CITY, "eq", "Mumbai"), OR(c(SPEND, "gt", 5000), c(ORDERS, "gt", 3))),
    ),
    (
        "(spent over 5k and in Mumbai) or (ordered 3+ times and in Pune)",
        OR(
            AND(c(SPEND, "gt", 5000), c(CITY, "eq", "Mumbai")),
            AND(c(ORDERS, "gte", 3), c(CITY, "eq", "Pune")),
        ),
    ),
    (
        "in Delhi and spent over 20k, or in Pune and spent over 10k",
        OR(
            AND(c(CITY, "eq", "Delhi"), c(SPEND, "gt", 20000)),
            AND(c(CITY, "eq", "Pune"), c(SPEND, "gt", 10000)),
        ),
    ),
    (
        "repeat customers who haven't ordered in 60 days and also live in Chennai",
        AND(c(ORDERS, "gte", 2), c(LAST, "not_within_last_days", 60), c(CITY, "eq", "Chennai")),
    ),
    ("spent over 5k and not from Mumbai", AND(c(SPEND, "gt", 5000), c(CITY, "ne", "Mumbai"))),
    (
        "gold or platinum tier customers who spent over 20k but haven't bought anything in 2 months",
        AND(c(TIER, "in", ["gold", "platinum"]), c(SPEND, "gt", 20000), c(LAST, "not_within_last_days", 60)),
    ),
    ("neither in Mumbai nor in Delhi", c(CITY, "not_in", ["Mumbai", "Delhi"])),
    (
        "one-time buyers outside Delhi with an average order value above 3k",
        AND(c(ORDERS, "eq", 1), c(CITY, "ne", "Delhi"), c(AOV, "gt", 3000)),
    ),
    (
        "new signups in the last 30 days who haven't ordered yet",
        AND(c(JOINED, "within_last_days", 30), c(ORDERS, "eq", 0)),
    ),
    ("customers who spent over 10k, excluding VIPs", AND(c(SPEND, "gt", 10000), c(VIP, "ne", True))),
    (
        "vip or gold tier customers in Mumbai",
        AND(OR(c(VIP, "eq", True), c(TIER, "eq", "gold")), c(CITY, "eq", "Mumbai")),
    ),
    (
        "customers who are not VIP and have spent less than 1000",
        AND(c(VIP, "ne", True), c(SPEND, "lt", 1000)),
    ),
    ("either gold tier or spent over 50k", OR(c(TIER, "eq", "gold"), c(SPEND, "gt", 50000))),
    (
        "in Pune or Mumbai, and ordered in the last 30 days",
        AND(c(CITY, "in", ["Pune", "Mumbai"]), c(LAST, "within_last_days", 30)),
    ),
    (
        "customers in Mumbai with more than 3 orders but no order in the last 90 days",
        AND(c(CITY, "eq", "Mumbai"), c(ORDERS, "gt", 3), LAPSED_90),
    ),
    ("not (gold tier or vip)", AND(c(TIER, "ne", "gold"), c(VIP, "ne", True))),
    (
        "customers who spent more than $1,000 and ordered at least 3 times",
        AND(c(SPEND, "gt", 1000), c(ORDERS, "gte", 3)),
    ),
    (
        "one time buyers who joined in the last 90 days and live in Delhi or Noida",
        AND(c(ORDERS, "eq", 1), c(JOINED, "within_last_days", 90), c(CITY, "in", ["Delhi", "Noida"])),
    ),
    (
        "spent over 5k or ordered more than 3 times, but not in Mumbai",
        AND(OR(c(SPEND, "gt", 5000), c(ORDERS, "gt", 3)), c(CITY, "ne", "Mumbai")),
    ),
    # typos a marketer makes
    ("custmers who spent moer than 5k", c(SPEND, "gt", 5000)),
    ("havent orderd in 3 monhts", LAPSED_90),
    ("customers in Mumbia", c(CITY, "eq", "Mumbai")),
    ("spent over 10k in Banglore", AND(c(SPEND, "gt", 10000), c(CITY, "eq", "Bengaluru"))),
    ("repaet customers", c(ORDERS, "gte", 2)),
    ("inactve for 2 months", c(LAST, "not_within_last_days", 60)),
    ("one time buyers", c(ORDERS, "eq", 1)),
    ("spnt atleast 2k in Puen", AND(c(SPEND, "gte", 2000), c(CITY, "eq", "Pune"))),
    # written after the engine, without tuning it to them
    (
        "Show me all customers from Pune who have spent more than Rs 10,000",
        AND(c(CITY, "eq", "Pune"), c(SPEND, "gt", 10000)),
    ),
    ("users with order count > 5 and city = Mumbai", AND(c(ORDERS, "gt", 5), c(CITY, "eq", "Mumbai"))),
    (
        "clients that signed up over a year ago and never purchased",
        AND(c(JOINED, "not_within_last_days", 365), c(ORDERS, "eq", 0)),
    ),
    (
        "customers who spent more than 5000 but less than 10000",
        AND(c(SPEND, "gt", 5000), c(SPEND, "lt", 10000)),
    ),
    (
        "Spent > $500 AND (city = Pune OR city = Mumbai)",
        AND(c(SPEND, "gt", 500), c(CITY, "in", ["Pune", "Mumbai"])),
    ),
    (
        "customers whose last order was over 6 months ago",
        AND(c(LAST, "not_within_last_days", 180), c(LAST, "is_set")),
    ),
    (
        "all Chennai and Hyderabad customers except VIPs",
        AND(c(CITY, "in", ["Chennai", "Hyderabad"]), c(VIP, "ne", True)),
    ),
    (
        "customers with 0 orders who joined in the last 14 days",
        AND(c(ORDERS, "eq", 0), c(JOINED, "within_last_days", 14)),
    ),
    ("shoppers whose average basket is over ₹1,500", c(AOV, "gt", 1500)),
    ("people who visited at least 10 times but never ordered", AND(c(VISITS, "gte", 10), c(ORDERS, "eq", 0))),
    ("customers who ordered 2-5 times", c(ORDERS, "between", [2, 5])),
    ("customers that dont have a phone number", c("phone", "is_not_set")),
    ("Customers with email at yahoo.com", c("email", "contains", "@yahoo.com")),
    (
        "members who joined before Jan 2024 and ordered more than 10 times",
        AND(c(JOINED, "before", "2024-01-01"), c(ORDERS, "gt", 10)),
    ),
    ("customers with no email or no phone", OR(c("email", "is_not_set"), c("phone", "is_not_set"))),
    (
        "Gold-tier shoppers in Hyderabad who bought twice or more",
        AND(c(TIER, "eq", "gold"), c(CITY, "eq", "Hyderabad"), c(ORDERS, "gte", 2)),
    ),
    (
        "customers who have spent less than ₹1k and haven't bought in 4 months",
        AND(c(SPEND, "lt", 1000), c(LAST, "not_within_last_days", 120)),
    ),
    (
        "Customers from Delhi NCR who purchased in the last week",
        AND(c(CITY, "eq", "Delhi"), c(LAST, "within_last_days", 7)),
    ),
    (
        "people who spent over 1L, or who ordered more than 8 times",
        OR(c(SPEND, "gt", 100000), c(ORDERS, "gt", 8)),
    ),
    (
        "users not active in the past 30 days with over 3 orders",
        AND(c(LAST, "not_within_last_days", 30), c(ORDERS, "gt", 3)),
    ),
    (
        "buyers with an AOV of at least 2,500 who live outside Mumbai and Pune",
        AND(c(AOV, "gte", 2500), c(CITY, "not_in", ["Mumbai", "Pune"])),
    ),
    (
        "customers who signed up this year but have not ordered yet",
        AND(c(JOINED, "after", "2025-12-31"), c(ORDERS, "eq", 0)),
    ),
    ("silver or bronze tier, spent under 3k", AND(c(TIER, "in", ["silver", "bronze"]), c(SPEND, "lt", 3000))),
    ("vip customers who have not opted in to marketing", AND(c(VIP, "eq", True), c(OPT_IN, "ne", True))),
]

# A second batch written blind, after the engine: 14 of 15 right at first; the last one was a
# silent wrong answer ("not in Mumbai"), fixed by no longer treating "orders" as filler.
CORPUS += [
    (
        "customers who shopped with us more than 4 times and live in Kolkata",
        AND(c(ORDERS, "gt", 4), c(CITY, "eq", "Kolkata")),
    ),
    ("anyone with a lifetime spend north of 75k", c(SPEND, "gt", 75000)),
    (
        "haven't made a purchase in the last 100 days, excluding Delhi",
        AND(c(LAST, "not_within_last_days", 100), c(CITY, "ne", "Delhi")),
    ),
    ("ppl who ordered in the past fortnight", c(LAST, "within_last_days", 14)),
    ("customers who signed up last year", c(JOINED, "between", ["2025-01-01", "2025-12-31"])),
    ("first-time buyers from Chennai", AND(c(ORDERS, "eq", 1), c(CITY, "eq", "Chennai"))),
    (
        "customers whose total spend is below 1,000 or who never ordered",
        OR(c(SPEND, "lt", 1000), c(ORDERS, "eq", 0)),
    ),
    (
        "Customers in Jaipur or Kochi who spent at least ₹2,000 but no more than ₹8,000",
        AND(c(CITY, "in", ["Jaipur", "Kochi"]), c(SPEND, "between", [2000, 8000])),
    ),
    ("platinum tier OR spent over 1 lakh", OR(c(TIER, "eq", "platinum"), c(SPEND, "gt", 100000))),
    ("customers that registered before 15 Aug 2025", c(JOINED, "before", "2025-08-15")),
    (
        "people who have ordered at least 5 times and are not gold tier",
        AND(c(ORDERS, "gte", 5), c(TIER, "ne", "gold")),
    ),
    (
        "inactive for more than 120 days and spent over 3000",
        AND(c(LAST, "not_within_last_days", 120), c(SPEND, "gt", 3000)),
    ),
    (
        "customers who joined within the past 2 months from Hyderabad",
        AND(c(JOINED, "within_last_days", 60), c(CITY, "eq", "Hyderabad")),
    ),
    ("buyers who spent > 10000 and < 50000", AND(c(SPEND, "gt", 10000), c(SPEND, "lt", 50000))),
    ("customers without orders in Mumbai", AND(c(ORDERS, "eq", 0), c(CITY, "eq", "Mumbai"))),
]

# Prompts the rule language cannot say exactly: the engine must flag a part or refuse.
FLAGGED: list[str] = [
    "spent over 5k in the last 3 months",  # spend in a period: total spend is lifetime
    "ordered 3+ times in the last 6 months",
    "customers who ordered in March",  # some order in March: the last order alone can't tell
    "ordered last month",
    "loyal customers",
    "hello world",
    "customers who like sneakers",
    "name ends with Kumar",
]
