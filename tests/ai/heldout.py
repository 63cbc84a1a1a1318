"""Held-out prompts for words → rules, written without reading the engine (issue 14).

Conventions used throughout (the public format of docs/segments.md):
- Every tree's root is a group; a single condition is wrapped in {"op": "and", "rules": [...]}.
- "over / more than / above / >" → gt; "at least / or more / + / >=" → gte; "under / less than
  / below / <" → lt; "up to / at most / or less / no more than" → lte; "between a and b" →
  between [a, b] (inclusive).
- Money words: 5k = 5000, 1 lakh = 100000, "2.5 lakh" = 250000; amounts are INR.
- Relative windows: N days as is; a week = 7, a fortnight = 14, a month = 30, N months = 30*N,
  a year = 365 (day-count reading, not calendar months).
- Calendar phrases relative to NOW (Sun 15 Nov 2026): "this month" = on/after 2026-11-01,
  written {"cmp": "after", "value": "2026-10-31"} (a plain date after `after` means the end of
  that day); "last month" = October 2026 = between ["2026-10-01", "2026-10-31"]; "this year"
  = after "2025-12-31"; "before 2025" = before "2025-01-01" (a plain date after `before` means
  the start of that day).
- NULL semantics: `not_within_last_days` also matches customers who never ordered. For neutral
  phrasing ("haven't ordered in 90 days", "no orders in the last 60 days") I keep the documented
  reading (never-ordered included). For phrasing that presupposes a past purchase ("lapsed",
  "dormant", "churned", "haven't been back", "used to buy", "last order was more than N days
  ago", "win back") I add {"field": "last_order_at", "cmp": "is_set"} so only past buyers match.
- Customers without orders have total_spend 0 and order_count 0 (catalog: only
  avg_order_value is empty for them), so "never ordered" = order_count eq 0.
- Names: "named Priya" → name starts_with "Priya" (first name); "surname Sharma" → contains.
- VIP words mean attributes.vip; "not VIP" → attributes.vip ne true (includes unknown).
- Percentile markers {"percentile": p} are used only for vague value words (see each case).
"""

from datetime import UTC, datetime

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)  # the evaluation's "now": Sunday 15 Nov 2026


def _c(field, cmp, value=None):
    """One condition; is_set / is_not_set take no value."""
    node = {"field": field, "cmp": cmp}
    if cmp not in ("is_set", "is_not_set"):
        node["value"] = value
    return node


def _and(*rules):
    return {"op": "and", "rules": list(rules)}


def _or(*rules):
    return {"op": "or", "rules": list(rules)}


def _not(*rules):
    """Everyone except those matching all of `rules`."""
    return {"op": "and", "not": True, "rules": list(rules)}


def _p(n):
    """Percentile marker: the n-th percentile of the field over all customers at evaluation."""
    return {"percentile": n}


SPEND, OC, AOV = "total_spend", "order_count", "avg_order_value"
FIRST, LAST, SIGNUP = "first_order_at", "last_order_at", "created_at"
TIER, VISITS = "attributes.tier", "attributes.visits"
VIP, OPTIN = "attributes.vip", "attributes.marketing_opt_in"
THIS_MONTH = "2026-10-31"  # used with "after": on/after 2026-11-01
OCTOBER = ["2026-10-01", "2026-10-31"]
PAST_BUYER = _c(LAST, "is_set")  # added where the phrasing presupposes an earlier purchase

# Each case: (id, prompt, intended rule tree in the public format, or None if the prompt is
# something a careful assistant must refuse or flag as not expressible with the fields).
CASES: list[tuple[str, str, dict | None]] = [
    # ---------------------------------------------------------------- spend thresholds / verbs
    (
        "h001",
        "customers from Pune who spent more than 5000 rupees",
        _and(_c("city", "eq", "Pune"), _c(SPEND, "gt", 5000)),
    ),
    ("h002", "anyone who's spent over 5k", _and(_c(SPEND, "gt", 5000))),
    ("h003", "people who have spent at least ₹10,000 with us", _and(_c(SPEND, "gte", 10000))),
    ("h004", "shoppers who dropped more than 20 thousand", _and(_c(SPEND, "gt", 20000))),
    ("h005", "customers that splurged over Rs. 50,000 in total", _and(_c(SPEND, "gt", 50000))),
    ("h006", "total spend between 2000 and 8000", _and(_c(SPEND, "between", [2000, 8000]))),
    ("h007", "customers who spent less than 500 rupees", _and(_c(SPEND, "lt", 500))),
    ("h008", "Customers whose lifetime spend is under ₹1,500", _and(_c(SPEND, "lt", 1500))),
    ("h009", "total_spend >= 25000", _and(_c(SPEND, "gte", 25000))),
    ("h010", "people who paid us more than one lakh overall", _and(_c(SPEND, "gt", 100000))),
    ("h011", "customers who bought for more than 3k", _and(_c(SPEND, "gt", 3000))),
    ("h012", "spent between ₹1k and ₹5k", _and(_c(SPEND, "between", [1000, 5000]))),
    ("h013", "customers with total spend no more than 2500", _and(_c(SPEND, "lte", 2500))),
    ("h014", "who has spent 7,500 or more", _and(_c(SPEND, "gte", 7500))),
    ("h015", "customers who spent above ten thousand rupees", _and(_c(SPEND, "gt", 10000))),
    ("h016", "folks who've spent 2.5 lakh+", _and(_c(SPEND, "gte", 250000))),
    ("h017", "spend > 15000", _and(_c(SPEND, "gt", 15000))),
    ("h018", "custmers who spent over 5000", _and(_c(SPEND, "gt", 5000))),
    ("h019", "anyone spending between 10k and 50k overall", _and(_c(SPEND, "between", [10000, 50000]))),
    ("h020", "customers who've spent exactly 999", _and(_c(SPEND, "eq", 999))),
    ("h021", "everyone who has spent anything at all", _and(_c(SPEND, "gt", 0))),
    ("h022", "spent upto 3000 rs", _and(_c(SPEND, "lte", 3000))),
    ("h023", "users who spent 1.2k or less", _and(_c(SPEND, "lte", 1200))),
    ("h024", "Customers who paid more than five thousand", _and(_c(SPEND, "gt", 5000))),
    ("h025", "people with total purchases worth over INR 75000", _and(_c(SPEND, "gt", 75000))),
    # ---------------------------------------------------------------- value-tier slang
    # big spenders / whales / top / best customers: >= 90th percentile of total_spend.
    ("h026", "our big spenders", _and(_c(SPEND, "gte", _p(90)))),
    ("h027", "whales", _and(_c(SPEND, "gte", _p(90)))),
    ("h028", "top customers in Mumbai", _and(_c(SPEND, "gte", _p(90)), _c("city", "eq", "Mumbai"))),
    ("h029", "top 10% of customers by spend", _and(_c(SPEND, "gte", _p(90)))),
    (
        "h030",
        "top 20 percent spenders",  # top 20% → 80th percentile
        _and(_c(SPEND, "gte", _p(80))),
    ),
    (
        "h031",
        "low spenders",  # <= 10th percentile
        _and(_c(SPEND, "lte", _p(10))),
    ),
    ("h032", "bottom 25% by total spend", _and(_c(SPEND, "lte", _p(25)))),
    ("h033", "VIPs", _and(_c(VIP, "eq", True))),
    ("h034", "all VIP customers in Delhi", _and(_c(VIP, "eq", True), _c("city", "eq", "Delhi"))),
    ("h035", "non-VIP customers who spent over 20k", _and(_c(VIP, "ne", True), _c(SPEND, "gt", 20000))),
    (
        "h036",
        "high rollers who haven't ordered in 2 months",  # high rollers: 90th percentile
        _and(_c(SPEND, "gte", _p(90)), _c(LAST, "not_within_last_days", 60)),
    ),
    (
        "h037",
        "customers with the highest average order value",  # 90th percentile of AOV
        _and(_c(AOV, "gte", _p(90))),
    ),
    (
        "h038",
        "our best customers",  # best = top spend, 90th pct
        _and(_c(SPEND, "gte", _p(90))),
    ),
    ("h039", "customers flagged as vip", _and(_c(VIP, "eq", True))),
    (
        "h040",
        "people who barely spend anything with us",  # low spenders: <= 10th pct
        _and(_c(SPEND, "lte", _p(10))),
    ),
    (
        "h041",
        "whales in bangalore who are not VIP yet",
        _and(_c(SPEND, "gte", _p(90)), _c("city", "eq", "Bengaluru"), _c(VIP, "ne", True)),
    ),
    # ---------------------------------------------------------------- order counts
    ("h042", "one-time buyers", _and(_c(OC, "eq", 1))),
    ("h043", "customers who only ordered once", _and(_c(OC, "eq", 1))),
    ("h044", "repeat customers", _and(_c(OC, "gte", 2))),
    ("h045", "repeat buyers in Chennai", _and(_c(OC, "gte", 2), _c("city", "eq", "Chennai"))),
    ("h046", "customers with more than 5 orders", _and(_c(OC, "gt", 5))),
    ("h047", "customers with 10+ orders", _and(_c(OC, "gte", 10))),
    ("h048", "people who've never ordered", _and(_c(OC, "eq", 0))),
    ("h049", "signed up but never bought anything", _and(_c(OC, "eq", 0))),
    ("h050", "customers with at least three orders", _and(_c(OC, "gte", 3))),
    (
        "h051",
        "customers with fewer than 3 orders",  # literal: includes 0 orders
        _and(_c(OC, "lt", 3)),
    ),
    ("h052", "exactly two orders", _and(_c(OC, "eq", 2))),
    ("h053", "placed between 2 and 5 orders", _and(_c(OC, "between", [2, 5]))),
    ("h054", "orders > 20", _and(_c(OC, "gt", 20))),
    ("h055", "customers who ordered twice or more", _and(_c(OC, "gte", 2))),
    ("h056", "who have placed no orders yet", _and(_c(OC, "eq", 0))),
    (
        "h057",
        "our most frequent buyers",  # 90th percentile of order_count
        _and(_c(OC, "gte", _p(90))),
    ),
    ("h058", "ordered more than once but less than 5 times", _and(_c(OC, "gt", 1), _c(OC, "lt", 5))),
    ("h059", "customers with 1 or 2 orders", _and(_c(OC, "between", [1, 2]))),
    ("h060", "people who have bought from us at least once", _and(_c(OC, "gte", 1))),
    ("h061", "shoppers with a single purchase in Kochi", _and(_c(OC, "eq", 1), _c("city", "eq", "Kochi"))),
    # ---------------------------------------------------------------- average order value
    ("h062", "average order value above 2000", _and(_c(AOV, "gt", 2000))),
    ("h063", "AOV under 500", _and(_c(AOV, "lt", 500))),
    ("h064", "customers whose average basket is more than ₹3k", _and(_c(AOV, "gt", 3000))),
    ("h065", "avg order between 1000 and 2000", _and(_c(AOV, "between", [1000, 2000]))),
    ("h066", "people who typically spend over 4000 per order", _and(_c(AOV, "gt", 4000))),
    ("h067", "average ticket size of at least 1500", _and(_c(AOV, "gte", 1500))),
    (
        "h068",
        "customers with avg order value < 800 and more than 3 orders",
        _and(_c(AOV, "lt", 800), _c(OC, "gt", 3)),
    ),
    ("h069", "aov>=5k", _and(_c(AOV, "gte", 5000))),
    ("h070", "customers who spend on average less than 1000 rupees an order", _and(_c(AOV, "lt", 1000))),
    (
        "h071",
        "high AOV shoppers in Hyderabad",  # 90th percentile of AOV
        _and(_c(AOV, "gte", _p(90)), _c("city", "eq", "Hyderabad")),
    ),
    ("h072", "average order value of 2500 or less", _and(_c(AOV, "lte", 2500))),
    # ---------------------------------------------------------------- recency (last order)
    ("h073", "ordered in the last 30 days", _and(_c(LAST, "within_last_days", 30))),
    ("h074", "bought something in the past week", _and(_c(LAST, "within_last_days", 7))),
    ("h075", "customers who purchased within the last 2 weeks", _and(_c(LAST, "within_last_days", 14))),
    (
        "h076",
        "customers who ordered in the last 3 months",  # day-count: 90
        _and(_c(LAST, "within_last_days", 90)),
    ),
    (
        "h077",
        "people who haven't ordered in 90 days",  # documented: never-ordered too
        _and(_c(LAST, "not_within_last_days", 90)),
    ),
    (
        "h078",
        "customers who haven't been back in 6 months",  # presupposes a past purchase
        _and(_c(LAST, "not_within_last_days", 180), PAST_BUYER),
    ),
    ("h079", "customers with no orders in the last 60 days", _and(_c(LAST, "not_within_last_days", 60))),
    (
        "h080",
        "lapsed customers - no purchase for 4 months",
        _and(_c(LAST, "not_within_last_days", 120), PAST_BUYER),
    ),
    ("h081", "customers dormant for over a year", _and(_c(LAST, "not_within_last_days", 365), PAST_BUYER)),
    (
        "h082",
        "customers inactive since 1 August",  # last order before Aug 1 2026
        _and(_c(LAST, "before", "2026-08-01")),
    ),
    ("h083", "last order more than 45 days ago", _and(_c(LAST, "not_within_last_days", 45), PAST_BUYER)),
    ("h084", "recent buyers (ordered in the last 10 days)", _and(_c(LAST, "within_last_days", 10))),
    (
        "h085",
        "customers who ordered within the past month",  # "past month" = 30 days
        _and(_c(LAST, "within_last_days", 30)),
    ),
    ("h086", "customers whose last order was in October", _and(_c(LAST, "between", OCTOBER))),
    ("h087", "last purchase before 1 Jan 2026", _and(_c(LAST, "before", "2026-01-01"))),
    ("h088", "people who have ordered since 1 September", _and(_c(LAST, "after", "2026-08-31"))),
    ("h089", "people who ordered this month", _and(_c(LAST, "after", THIS_MONTH))),
    (
        "h090",
        "customers who haven't ordered this month",  # complement: never-ordered too
        _not(_c(LAST, "after", THIS_MONTH)),
    ),
    ("h091", "no purchase in the last 3 weeks", _and(_c(LAST, "not_within_last_days", 21))),
    (
        "h092",
        "customers who last ordered between 30 and 90 days ago",
        _and(_c(LAST, "not_within_last_days", 30), _c(LAST, "within_last_days", 90)),
    ),
    (
        "h093",
        "win-back list: used to buy but nothing in 120 days",
        _and(_c(LAST, "not_within_last_days", 120), PAST_BUYER),
    ),
    (
        "h094",
        "churned customers (no order in 180+ days)",
        _and(_c(LAST, "not_within_last_days", 180), PAST_BUYER),
    ),
    ("h095", "ordered in the last 24 hours", _and(_c(LAST, "within_last_days", 1))),
    ("h096", "bought in the last six months", _and(_c(LAST, "within_last_days", 180))),
    (
        "h097",
        "customers who have not purchased anything in the past year",
        _and(_c(LAST, "not_within_last_days", 365)),
    ),
    (
        "h098",
        "customers whose most recent order was in 2025",
        _and(_c(LAST, "between", ["2025-01-01", "2025-12-31"])),
    ),
    (
        "h099",
        "anyone active in the last fortnight",  # active = ordered
        _and(_c(LAST, "within_last_days", 14)),
    ),
    ("h100", "havent ordered in 3 months", _and(_c(LAST, "not_within_last_days", 90))),
    # ---------------------------------------------------------------- first order
    ("h101", "first order in the last 30 days", _and(_c(FIRST, "within_last_days", 30))),
    ("h102", "customers who made their first purchase this month", _and(_c(FIRST, "after", THIS_MONTH))),
    ("h103", "people who first bought from us in October", _and(_c(FIRST, "between", OCTOBER))),
    (
        "h104",
        "customers whose first order was over a year ago",
        _and(_c(FIRST, "not_within_last_days", 365), _c(FIRST, "is_set")),
    ),
    ("h105", "first purchase before 2024", _and(_c(FIRST, "before", "2024-01-01"))),
    ("h106", "brand new buyers - first order in the past 2 weeks", _and(_c(FIRST, "within_last_days", 14))),
    (
        "h107",
        "customers who've been buying since before 2025 and still ordered in the last 30 days",
        _and(_c(FIRST, "before", "2025-01-01"), _c(LAST, "within_last_days", 30)),
    ),
    ("h108", "first order after March 2026", _and(_c(FIRST, "after", "2026-03-31"))),
    # ---------------------------------------------------------------- signups
    ("h109", "joined this month", _and(_c(SIGNUP, "after", THIS_MONTH))),
    (
        "h110",
        "new customers this month",  # new = signed up this month
        _and(_c(SIGNUP, "after", THIS_MONTH)),
    ),
    ("h111", "signed up in the last 7 days", _and(_c(SIGNUP, "within_last_days", 7))),
    (
        "h112",
        "signups from the last 30 days who haven't ordered yet",
        _and(_c(SIGNUP, "within_last_days", 30), _c(OC, "eq", 0)),
    ),
    (
        "h113",
        "customers older than a year",  # account age > 365 days
        _and(_c(SIGNUP, "not_within_last_days", 365)),
    ),
    ("h114", "accounts created before 2025", _and(_c(SIGNUP, "before", "2025-01-01"))),
    ("h115", "people who registered last month", _and(_c(SIGNUP, "between", OCTOBER))),
    ("h116", "members for more than 2 years", _and(_c(SIGNUP, "not_within_last_days", 730))),
    ("h117", "joined in 2025", _and(_c(SIGNUP, "between", ["2025-01-01", "2025-12-31"]))),
    ("h118", "customers who signed up this year", _and(_c(SIGNUP, "after", "2025-12-31"))),
    ("h119", "new sign-ups in the past fortnight", _and(_c(SIGNUP, "within_last_days", 14))),
    (
        "h120",
        "customers who joined between June and August 2026",
        _and(_c(SIGNUP, "between", ["2026-06-01", "2026-08-31"])),
    ),
    (
        "h121",
        "registered in the last 90 days in Kolkata",
        _and(_c(SIGNUP, "within_last_days", 90), _c("city", "eq", "Kolkata")),
    ),
    (
        "h122",
        "joined more than 6 months ago but never ordered",
        _and(_c(SIGNUP, "not_within_last_days", 180), _c(OC, "eq", 0)),
    ),
    ("h123", "customers who signed up after 15 March 2026", _and(_c(SIGNUP, "after", "2026-03-15"))),
    # ---------------------------------------------------------------- cities
    ("h124", "customers in Mumbai", _and(_c("city", "eq", "Mumbai"))),
    ("h125", "people from bangalore", _and(_c("city", "eq", "Bengaluru"))),
    ("h126", "everyone in Delhi, Noida or Pune", _and(_c("city", "in", ["Delhi", "Noida", "Pune"]))),
    ("h127", "customers outside Mumbai", _and(_c("city", "ne", "Mumbai"))),
    ("h128", "customers not in Delhi or Pune", _and(_c("city", "not_in", ["Delhi", "Pune"]))),
    ("h129", "Hyderbad customers", _and(_c("city", "eq", "Hyderabad"))),
    ("h130", "shoppers based in chennai or kochi", _and(_c("city", "in", ["Chennai", "Kochi"]))),
    ("h131", "Bombay customers", _and(_c("city", "eq", "Mumbai"))),
    ("h132", "everyone from Calcutta", _and(_c("city", "eq", "Kolkata"))),
    ("h133", "Nagpur folks", _and(_c("city", "eq", "Nagpur"))),
    ("h134", "everyone except people in Kolkata", _and(_c("city", "ne", "Kolkata"))),
    (
        "h135",
        "customers from Banglore, Hyderabad and Chennai",  # "and" = any of the three
        _and(_c("city", "in", ["Bengaluru", "Hyderabad", "Chennai"])),
    ),
    ("h136", "customers with no city on file", _and(_c("city", "is_not_set"))),
    (
        "h137",
        "customers from any city other than Mumbai, Delhi and Bengaluru",
        _and(_c("city", "not_in", ["Mumbai", "Delhi", "Bengaluru"])),
    ),
    ("h138", "customers in Cochin", _and(_c("city", "eq", "Kochi"))),
    ("h139", "noida", _and(_c("city", "eq", "Noida"))),
    (
        "h140",
        "people living in Pune or Mumbai who spent over 3k",
        _and(_c("city", "in", ["Pune", "Mumbai"]), _c(SPEND, "gt", 3000)),
    ),
    # ---------------------------------------------------------------- names / e-mails / phone
    ("h141", "customers named Priya", _and(_c("name", "starts_with", "Priya"))),
    ("h142", "anyone called Rahul", _and(_c("name", "starts_with", "Rahul"))),
    ("h143", "gmail users", _and(_c("email", "contains", "@gmail.com"))),
    ("h144", "customers with a yahoo email address", _and(_c("email", "contains", "@yahoo."))),
    ("h145", "customers whose surname is Sharma", _and(_c("name", "contains", "Sharma"))),
    ("h146", "people with no email on file", _and(_c("email", "is_not_set"))),
    ("h147", "customers without a phone number", _and(_c("phone", "is_not_set"))),
    (
        "h148",
        "customers who have both an email and a phone number",
        _and(_c("email", "is_set"), _c("phone", "is_set")),
    ),
    ("h149", "customers with an email at acme.com", _and(_c("email", "contains", "@acme.com"))),
    ("h150", "names starting with A", _and(_c("name", "starts_with", "A"))),
    ("h151", "customers whose name contains kumar", _and(_c("name", "contains", "kumar"))),
    (
        "h152",
        "hotmail or outlook users",
        _or(_c("email", "contains", "@hotmail."), _c("email", "contains", "@outlook.")),
    ),
    # ---------------------------------------------------------------- custom attributes
    ("h153", "gold tier customers", _and(_c(TIER, "eq", "gold"))),
    (
        "h154",
        "customers who aren't platinum",  # includes no tier at all
        _and(_c(TIER, "ne", "platinum")),
    ),
    ("h155", "gold or platinum members", _and(_c(TIER, "in", ["gold", "platinum"]))),
    ("h156", "silver tier and above", _and(_c(TIER, "in", ["silver", "gold", "platinum"]))),
    ("h157", "bronze tier in Nagpur", _and(_c(TIER, "eq", "bronze"), _c("city", "eq", "Nagpur"))),
    ("h158", "customers with visits over 10", _and(_c(VISITS, "gt", 10))),
    ("h159", "people who visited fewer than 3 times", _and(_c(VISITS, "lt", 3))),
    ("h160", "at least 5 visits", _and(_c(VISITS, "gte", 5))),
    ("h161", "customers who opted in to marketing", _and(_c(OPTIN, "eq", True))),
    (
        "h162",
        "customers who haven't opted into marketing",  # not opted in: false or unknown
        _and(_c(OPTIN, "ne", True)),
    ),
    (
        "h163",
        "customers who opted out of marketing",  # explicitly false
        _and(_c(OPTIN, "eq", False)),
    ),
    ("h164", "customers with no tier assigned", _and(_c(TIER, "is_not_set"))),
    ("h165", "platinum customers who are not VIP", _and(_c(TIER, "eq", "platinum"), _c(VIP, "ne", True))),
    ("h166", "VIPs who said yes to marketing messages", _and(_c(VIP, "eq", True), _c(OPTIN, "eq", True))),
    ("h167", "customers with between 5 and 15 visits", _and(_c(VISITS, "between", [5, 15]))),
    (
        "h168",
        "customers below gold tier",  # tiers bronze, silver only
        _and(_c(TIER, "in", ["bronze", "silver"])),
    ),
    ("h169", "Gold-tier shoppers with 20 plus visits", _and(_c(TIER, "eq", "gold"), _c(VISITS, "gte", 20))),
    # ---------------------------------------------------------------- combinations
    (
        "h170",
        "customers in Pune who spent over ₹5,000 but haven't ordered in 3 months",
        _and(_c("city", "eq", "Pune"), _c(SPEND, "gt", 5000), _c(LAST, "not_within_last_days", 90)),
    ),
    (
        "h171",
        "over 5000 in Mumbai, or over 2000 in Pune",
        _or(
            _and(_c("city", "eq", "Mumbai"), _c(SPEND, "gt", 5000)),
            _and(_c("city", "eq", "Pune"), _c(SPEND, "gt", 2000)),
        ),
    ),
    (
        "h172",
        "Mumbai customers spending 10k+ or Delhi customers with 5+ orders",
        _or(
            _and(_c("city", "eq", "Mumbai"), _c(SPEND, "gte", 10000)),
            _and(_c("city", "eq", "Delhi"), _c(OC, "gte", 5)),
        ),
    ),
    ("h173", "customers in Chennai, with orders > 5", _and(_c("city", "eq", "Chennai"), _c(OC, "gt", 5))),
    ("h174", "gold tier or spent over 50k", _or(_c(TIER, "eq", "gold"), _c(SPEND, "gt", 50000))),
    ("h175", "everyone except VIPs", _and(_c(VIP, "ne", True))),
    (
        "h176",
        "everyone except gold tier customers in Mumbai",
        _not(_c(TIER, "eq", "gold"), _c("city", "eq", "Mumbai")),
    ),
    (
        "h177",
        "repeat customers who haven't ordered in 60 days, in Delhi or Noida",
        _and(_c(OC, "gte", 2), _c(LAST, "not_within_last_days", 60), _c("city", "in", ["Delhi", "Noida"])),
    ),
    ("h178", "spent over 10k OR ordered more than 10 times", _or(_c(SPEND, "gt", 10000), _c(OC, "gt", 10))),
    (
        "h179",
        "customers in Bengaluru who joined this month and opted in to marketing",
        _and(_c("city", "eq", "Bengaluru"), _c(SIGNUP, "after", THIS_MONTH), _c(OPTIN, "eq", True)),
    ),
    (
        "h180",
        "high spenders (over 20k) who are not gold or platinum",
        _and(_c(SPEND, "gt", 20000), _c(TIER, "not_in", ["gold", "platinum"])),
    ),
    ("h181", "VIP or platinum", _or(_c(VIP, "eq", True), _c(TIER, "eq", "platinum"))),
    (
        "h182",
        "Customers from Kochi or Kolkata who've spent 2k-10k",
        _and(_c("city", "in", ["Kochi", "Kolkata"]), _c(SPEND, "between", [2000, 10000])),
    ),
    (
        "h183",
        "people who spent more than 5k, ordered at least 3 times and last ordered in the past 30 days",
        _and(_c(SPEND, "gt", 5000), _c(OC, "gte", 3), _c(LAST, "within_last_days", 30)),
    ),
    (
        "h184",
        "new customers this month in Mumbai or Pune with at least one order",
        _and(_c(SIGNUP, "after", THIS_MONTH), _c("city", "in", ["Mumbai", "Pune"]), _c(OC, "gte", 1)),
    ),
    (
        "h185",
        "customers not in Mumbai who visited more than 5 times and opted in",
        _and(_c("city", "ne", "Mumbai"), _c(VISITS, "gt", 5), _c(OPTIN, "eq", True)),
    ),
    (
        "h186",
        "Gmail users in Delhi who spent under 1000",
        _and(_c("email", "contains", "@gmail.com"), _c("city", "eq", "Delhi"), _c(SPEND, "lt", 1000)),
    ),
    (
        "h187",
        "either lapsed VIPs (no order in 90 days) or gold members who never ordered",
        _or(
            _and(_c(VIP, "eq", True), _c(LAST, "not_within_last_days", 90), PAST_BUYER),
            _and(_c(TIER, "eq", "gold"), _c(OC, "eq", 0)),
        ),
    ),
    (
        "h188",
        "customers who signed up over a year ago but ordered in the last 30 days",
        _and(_c(SIGNUP, "not_within_last_days", 365), _c(LAST, "within_last_days", 30)),
    ),
    (
        "h189",
        "spent over 5k in Mumbai or Pune, or over 10k anywhere else",
        _or(
            _and(_c("city", "in", ["Mumbai", "Pune"]), _c(SPEND, "gt", 5000)),
            _and(_c("city", "not_in", ["Mumbai", "Pune"]), _c(SPEND, "gt", 10000)),
        ),
    ),
    (
        "h190",
        "AOV above 2000 and fewer than 3 orders, excluding Delhi",
        _and(_c(AOV, "gt", 2000), _c(OC, "lt", 3), _c("city", "ne", "Delhi")),
    ),
    (
        "h191",
        "everyone except customers who ordered in the last 7 days",
        _and(_c(LAST, "not_within_last_days", 7)),
    ),
    (
        "h192",
        "big spenders outside Mumbai and Delhi",  # big spenders: 90th percentile
        _and(_c(SPEND, "gte", _p(90)), _c("city", "not_in", ["Mumbai", "Delhi"])),
    ),
    ("h193", "customers with > 3 orders & spend < 5000", _and(_c(OC, "gt", 3), _c(SPEND, "lt", 5000))),
    (
        "h194",
        "customers who are in Pune and either gold tier or VIP",
        _and(_c("city", "eq", "Pune"), _or(_c(TIER, "eq", "gold"), _c(VIP, "eq", True))),
    ),
    (
        "h195",
        "silver tier customers with 2 orders or fewer, or bronze ones with no orders",
        _or(
            _and(_c(TIER, "eq", "silver"), _c(OC, "lte", 2)), _and(_c(TIER, "eq", "bronze"), _c(OC, "eq", 0))
        ),
    ),
    (
        "h196",
        "Hyderabad or Chennai, joined in the last 60 days, not opted out of marketing",
        _and(
            _c("city", "in", ["Hyderabad", "Chennai"]),
            _c(SIGNUP, "within_last_days", 60),
            _c(OPTIN, "ne", False),
        ),
    ),
    (
        "h197",
        "spent >= 1000 and <= 5000, city not Kolkata",
        _and(_c(SPEND, "between", [1000, 5000]), _c("city", "ne", "Kolkata")),
    ),
    (
        "h198",
        "customers who haven't ordered in 30 days except those in Nagpur",
        _and(_c(LAST, "not_within_last_days", 30), _c("city", "ne", "Nagpur")),
    ),
    (
        "h199",
        "repeat buyers with avg order over 1500 who joined before 2026",
        _and(_c(OC, "gte", 2), _c(AOV, "gt", 1500), _c(SIGNUP, "before", "2026-01-01")),
    ),
    (
        "h200",
        "customers who spent over 5k and haven't ordered in 3 months",
        _and(_c(SPEND, "gt", 5000), _c(LAST, "not_within_last_days", 90)),
    ),
    (
        "h201",
        "show me people in Mumbai with more than 2 orders, or anyone in Delhi",
        _or(_and(_c("city", "eq", "Mumbai"), _c(OC, "gt", 2)), _c("city", "eq", "Delhi")),
    ),
    (
        "h202",
        "one-time buyers who spent more than 3000 and ordered in the last 90 days",
        _and(_c(OC, "eq", 1), _c(SPEND, "gt", 3000), _c(LAST, "within_last_days", 90)),
    ),
    (
        "h203",
        "all customers except those who are opted out or have no email",
        _not(_or(_c(OPTIN, "eq", False), _c("email", "is_not_set"))),
    ),
    (
        "h204",
        "platinum + gold customers in delhi/ncr (Delhi, Noida) who havent bought in 45 days",
        _and(
            _c(TIER, "in", ["platinum", "gold"]),
            _c("city", "in", ["Delhi", "Noida"]),
            _c(LAST, "not_within_last_days", 45),
        ),
    ),
    (
        "h205",
        "customers who spent under 2k or have fewer than 2 orders, in Kolkata",
        _and(_c("city", "eq", "Kolkata"), _or(_c(SPEND, "lt", 2000), _c(OC, "lt", 2))),
    ),
    # ---------------------------------------------------------------- not expressible / ambiguous
    ("h206", "customers who like red shoes", None),  # no preference data
    ("h207", "customers who opened our last email", None),  # no engagement fields
    ("h208", "people whose birthday is this month", None),  # no birthday field
    ("h209", "women aged 25 to 35", None),  # no gender / age
    ("h210", "customers who bought an iPhone", None),  # order items not a field
    ("h211", "customers who spent more than 5000 in the last 3 months", None),  # windowed spend
    ("h212", "customers who clicked the Diwali campaign link", None),  # no click data in segments
    ("h213", "customers likely to churn next month", None),  # prediction, no field
    ("h214", "customers who used coupon code WELCOME10", None),  # no coupon field
    ("h215", "people who returned an order", None),  # no returns
    ("h216", "customers within 5 km of our Andheri store", None),  # no geolocation
    ("h217", "people who ordered 3 times this month", None),  # windowed order count
    ("h218", "customers who unsubscribed from SMS", None),  # consent not a segment field
    ("h219", "delete all customers in Pune", None),  # an action, not an audience
    ("h220", "customers who spent more than", None),  # incomplete: no amount
    ("h221", "customers with more than 5000", None),  # spend? visits? orders?
    ("h222", "customers who left a 5-star review", None),  # no review data
]

# Category of each case, by id range (for per-category scores).
CATEGORIES: dict[str, tuple[int, int]] = {
    "spend thresholds / verbs": (1, 25),
    "value-tier slang (percentiles, VIP)": (26, 41),
    "order counts": (42, 61),
    "average order value": (62, 72),
    "recency (last order)": (73, 100),
    "first order": (101, 108),
    "signups": (109, 123),
    "cities": (124, 140),
    "names / e-mails / phone": (141, 152),
    "custom attributes": (153, 169),
    "combinations (and/or/not, distributive)": (170, 205),
    "not expressible / ambiguous (None)": (206, 222),
}


def category(case_id: str) -> str:
    n = int(case_id[1:])
    return next(name for name, (lo, hi) in CATEGORIES.items() if lo <= n <= hi)


if __name__ == "__main__":
    from collections import Counter

    print(len(CASES), "cases")
    for name, n in Counter(category(c[0]) for c in CASES).items():
        print(f"{n:4d}  {name}")
