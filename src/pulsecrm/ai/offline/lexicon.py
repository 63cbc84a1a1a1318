"""The offline engine's lexicon: the words for comparisons, places, connectives and verbs.

Patterns in `grammar` are written from these, so a synonym or a verb form is added here once
and every pattern that reads that concept understands it.
"""

# ruff: noqa: E501 - word lists and verb alternations read best one per line

from __future__ import annotations

import re
from typing import Any

# --- comparators ------------------------------------------------------------------------------

CMP_WORDS: dict[str, tuple[str, ...]] = {
    "gte": (
        "at least", "atleast", "a minimum of", "minimum of", "min of", "minimum", "min",
        "no less than", "not less than", "no fewer than", "not fewer than", "not under",
        "not below", ">=", "=>", "greater than or equal to", "more than or equal to",
        "greater than or equal", "higher than or equal to", "bigger than or equal to",
        "equal to or more than", "equal to or greater than", "equal or more than",
        "above or equal to", "at or above", "equal to or above", "equal or above",
    ),
    "lte": (
        "at most", "atmost", "no more than", "not more than", "no greater than",
        "not greater than", "not over", "not above", "not exceeding", "up to", "upto",
        "a maximum of", "maximum of", "max of", "maximum", "max", "<=", "=<",
        "less than or equal to", "fewer than or equal to", "lower than or equal to",
        "smaller than or equal to", "less than or equal", "equal to or less than",
        "equal to or fewer than", "equal or less than", "below or equal to", "at or below",
        "equal to or below", "equal or below",
    ),
    "gt": (
        "more than", "greater than", "over", "above", "exceeding", "exceeds", "exceed",
        "in excess of", "upwards of", "upward of", "beyond", "higher than", "bigger than",
        "larger than", "north of", "mor than", ">", "more then", "greater then", "higher then",
        "bigger then", "over then", "morethan", "greaterthan", "ovr", "abv", "crossed", "crosses",
        "exceeded", "surpassed", "topped",
    ),
    "lt": (
        "less than", "fewer than", "under", "below", "lower than", "smaller than", "beneath",
        "south of", "<", "less then", "fewer then", "lower then", "smaller then", "lessthan",
        "fewerthan", "undr",
    ),
    "eq": ("exactly", "of exactly", "precisely", "equal to", "equals", "=", "only", "just", "is"),
    "ne": ("!=", "<>", "not equal to", "not equals", "does not equal", "is not equal to"),
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

# --- places -----------------------------------------------------------------------------------

# Well-known spellings, so "Bombay" finds the "Mumbai" customers. The first name of a group is
# used when the catalog has none of them.
CITY_GROUPS: tuple[tuple[str, ...], ...] = (
    ("Mumbai", "Bombay"), ("Delhi", "New Delhi", "Dilli"), ("Bengaluru", "Bangalore", "Blr", "Blore"),
    ("Pune", "Poona"), ("Hyderabad", "Hyd"), ("Chennai", "Madras"), ("Kolkata", "Calcutta"), ("Ahmedabad",), ("Jaipur",),
    ("Kochi", "Cochin"), ("Gurugram", "Gurgaon"), ("Noida",), ("Lucknow",), ("Surat",),
    ("Chandigarh",), ("Indore",), ("Nagpur",), ("Bhopal",), ("Goa",), ("Coimbatore",),
    ("Mysuru", "Mysore"), ("Thiruvananthapuram", "Trivandrum"), ("Visakhapatnam", "Vizag"),
    ("Vadodara", "Baroda"), ("Patna",), ("Navi Mumbai",), ("Thane",), ("Nashik",),
    ("London",), ("New York", "NYC"), ("San Francisco", "SF"), ("Los Angeles", "LA"),
    ("Chicago",), ("Boston",), ("Seattle",), ("Toronto",), ("Sydney",), ("Melbourne",),
    ("Singapore",), ("Dubai",), ("Paris",), ("Berlin",), ("Manchester",), ("Zürich", "Zurich"),
)  # fmt: skip


# Places that are not cities: a customer's `city` never says them, so they are reported rather
# than read as a city nobody lives in ("customers in Maharashtra").
REGIONS = frozenset(
    """
    india bharat maharashtra karnataka kerala gujarat rajasthan punjab haryana bihar odisha orissa
    assam telangana uttarakhand jharkhand chhattisgarh himachal sikkim manipur meghalaya mizoram
    nagaland tripura arunachal ladakh kashmir tamil nadu uttar pradesh west bengal andhra
    madhya usa us america uk britain england europe asia africa australia canada uae gulf
    north south east west northeast central
    """.split()  # noqa: SIM905 - a word list is easier to extend as text
) | frozenset({"tamil nadu", "uttar pradesh", "west bengal", "andhra pradesh", "madhya pradesh",
               "himachal pradesh", "arunachal pradesh", "jammu and kashmir", "united states",
               "united kingdom", "north india", "south india", "east india", "west india"})  # fmt: skip


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
    marked flagged tagged labelled labeled status both ie eg viz namely
    create build generate prepare fetch grab export identify help looking look am see view
    display pull up
    """.split()  # noqa: SIM905 - a word list is easier to extend as text
)
FILLER_PHRASES = ("from us", "with us", "so far", "to date", "in total", "at all")

CONNECTIVES: dict[str, str] = {
    "and": "AND", "or": "OR", "nor": "NOR", ",": "COMMA", "but": "BREAK", "who": "BREAK",
    "whom": "BREAK", "that": "BREAK", "which": "BREAK", "whose": "BREAK", "where": "BREAK",
    "with": "BREAK", "having": "BREAK", "plus": "BREAK", "while": "BREAK", "whereas": "BREAK",
    "although": "BREAK", "though": "BREAK", "however": "BREAK", "also": "BREAK",
    "additionally": "BREAK", "either": "EITHER", "neither": "NEITHER", "not": "NOT", "no": "NOT",
    "non": "NOT", "never": "NOT", "without": "NOT", "except": "WIDE_NOT", "excluding": "WIDE_NOT",
    "exclude": "WIDE_NOT", "excl": "WIDE_NOT", "minus": "WIDE_NOT", "besides": "WIDE_NOT",
    "(": "LP", ")": "RP", "[": "LP", "]": "RP",
}  # fmt: skip
# Words that add a second group to the first ("VIPs plus gold tier customers", "… as well as
# …"): a union between noun groups, an "and" between what one group does ("who are VIP as well
# as opted in"); and the words that open a new group after any joiner ("… or anyone in Delhi",
# "plus all VIPs", "and those who …"), which always make the join a union.
UNION_JOINERS: tuple[tuple[str, ...], ...] = (
    ("as", "well", "as"), ("along", "with"), ("together", "with"), ("in", "addition", "to"), ("plus",),
)  # fmt: skip
GROUP_JOINERS: tuple[tuple[str, ...], ...] = (
    *UNION_JOINERS,
    (",", "and"),
    (",", "or"),
    ("and",),
    ("or",),
    (",",),
)
GROUP_OPENERS = frozenset(("anyone", "anybody", "everyone", "everybody", "those", "all"))
RELATIVE_WORDS = frozenset(("who", "whom", "that", "which", "whose", "where", "with", "having"))
CONNECTIVE_PHRASES = {
    # "not both VIP and from Delhi" leaves out who is both; "VIP or opted in but not both" is
    # one of the two only (the parser reads "not both" with nothing after it that way)
    ("but", "not", "both"): "BREAK NOTBOTH", ("not", "both"): "NOTBOTH",
    ("other", "than"): "WIDE_NOT", ("apart", "from"): "WIDE_NOT", ("but", "not"): "BREAK NOT",
    ("as", "well", "as"): "BREAK", ("along", "with"): "BREAK", ("together", "with"): "BREAK", ("and", "also"): "BREAK", ("in", "addition", "to"): "BREAK",
    ("and", "or"): "OR", ("leaving", "out"): "WIDE_NOT", ("leave", "out"): "WIDE_NOT",
    # "everyone but Kolkata": "but" after an everyone-word is "except", not a new clause.
    ("everyone", "but"): "WIDE_NOT", ("everybody", "but"): "WIDE_NOT", ("anyone", "but"): "WIDE_NOT",
    ("anybody", "but"): "WIDE_NOT", ("all", "but"): "WIDE_NOT", ("all", "customers", "but"): "WIDE_NOT",
    ("all", "users", "but"): "WIDE_NOT", ("everyone", "else", "but"): "WIDE_NOT",
}  # fmt: skip


ORDER_VERB = (
    r"(?:ordered|ordering|order|orders|bought|buy|buying|purchased|purchase|purchases|purchasing"
    r"|shopped|shop|shopping|transacted|transacting|transaction|transactions|checked out|placed (?:an |any |a )?orders?"
    r"|made (?:a |any |an )?(?:purchases?|orders?)|spent anything|spent money|bought anything|been active|activity)"
)
ORDER_TAIL = r"(?: (?:anything|something|from us|with us|again|at all|online|here|stuff|items|products|at least once|even once|once|sometime|some time|anytime|any time))*"
WINDOW = (
    r"(?:in|within|during|for|over|since|inside)(?: the)?(?: (?:last|past|previous|recent|prior|preceding))?"
)
AGO_MORE = r"(?:more than|over|at least|longer than|older than|>=|=>|>|beyond|earlier than|no less than|not less than)"
AGO_LESS = r"(?:less than|under|within|fewer than|inside|<=|=<|<|at most|no more than|not more than|up to|in the last|in the past|within the last|within the past)"
CAL = r"(?:this|current|last|previous) (?:week|month|quarter|year)|today|yesterday"
JOIN_VERB = (
    r"(?:joined|join|signed up|sign up|signup|registered|register|subscribed|created (?:an |their )?accounts?"
    r"|became (?:a )?customers?|onboarded|acquired|enrolled|signed on|sign ups|signups|sign up date"
    r"|signup date|joining date|registration date|account created|created|came on ?board|come on ?board|got onboarded"
    r"|(?:was|were|got) added|added)"
)
FIRST_VERB = r"(?:(?:(?:placed|made|did) (?:their |a |an |the )?)?first (?:order|purchase|bought|ordered|purchased|transaction|buy|shopped)(?: date)?|(?:ordered|bought|purchased|shopped|placed an order|made a purchase) for the first time)"
LAST_ORDER = r"(?:(?:last|latest|most recent|previous|recent) (?:order|purchase|transaction|buy)(?: date)?|last ordered|last purchased|last bought|last shopped)"
# … and hedges before a date ("signed up sometime in 2025", "last ordered back in March").
IS = r"(?: (?:was|is|were|are|placed|made|date|on|at|happened|sometime|some time|anytime|any time|at some point|at any point|at any time|back|way back))*"
# What makes "no orders …" about a period rather than ever: "in the last", "for 3", "since", "this".
_PERIOD_AHEAD = (
    r"(?:(?:in|within|for|during|over)(?: the)? (?:last|past|previous|recent|prior|this|\d|an?|one|two|three"
    r"|four|five|six|seven|eight|nine|ten|twelve|few|couple)|since|this|after|before|recently)"
)

# Coming back, said as its absence: "haven't been back in 3 months", "we haven't seen in 90 days".
RETURN_VERB = (
    r"(?:been back|come back|came back|coming back|returned|return|come in|came in|been in|visited(?: us)?"
    r"|visit(?: us)?|seen|been seen|shown up|showed up|been around|engaged|interacted|been active)"
)
# Verbs and phrases of spending money, beyond "spent": "dropped 5k", "splurged ₹10,000".
SPEND_VERB = (
    r"(?:dropped|drop|splurged|splurge|splashed out|splashed|shelled out|forked out|forked over|paid"
    r"|racked up|rung up|invested|put in|laid out|blown|blew|dished out|coughed up|generated|brought in"
    r"|contributed)"
)
# A value tier said with a vague word: resolved to a percentile of total spend, computed now.
TIER_NOUN = (
    r"(?:spenders?|customers?|buyers?|clients?|shoppers?|users?|purchasers?|accounts?|people|members?|ones)"
)
HIGH_VALUE = (
    rf"(?:(?:big|biggest|bigger|top|high|highest|heavy|heaviest|large|largest|major|premium|best|most valuable"
    rf"|high ?value|(?:high|top|big|heavy|biggest|highest) ?spending|high ?ltv|high ?worth|high ?net ?worth|hnw|hni|valuable|(?:higher|highest|top|best|most) ?value|(?:top|high|premium) ?(?:tier|end|bracket|segment)) {TIER_NOUN}|whales?|big fish|high ?rollers?|(?:with )?(?:the )?(?:highest|biggest|largest|most|top|greatest) (?:total |lifetime )?(?:spend|spending|ltv|lifetime value|revenue|clv)|(?:who )?(?:spent|spend|spends|spending) the most|(?:who )?(?:spent|spend|spends|spending|dropped|splurged|splurge|splurges) (?:a lot(?: of money)?|lots(?: of money)?|a fortune|a ton|tons|loads|a bundle|heaps|big money|big bucks|serious money|big|heavily|the most money)|(?:big|high) ?ticket {TIER_NOUN}|heavy hitters"
    rf"|(?:with |having |has |have )?(?:an? )?(?:very )?(?:high|big|large|huge) (?:total |lifetime |overall )?(?:spend|spending|ltv|lifetime value|clv|customer lifetime value|total spend)"
    rf"|top (?:ten|10) ?(?:%|percent|per cent)(?: of)?(?: (?:our |all )?{TIER_NOUN})?(?: (?:by|in|on) (?:total )?(?:spend|spending|revenue|value|ltv|sales))?)"
)
LOW_VALUE = (
    rf"(?:(?:low|lowest|lower|small|smallest|light|lightest|bottom|minor|tiny|low ?value|low ?spending|low ?ltv"
    rf"|least valuable|cheap|cheapest|budget|(?:low|least|lowest) ?spending) {TIER_NOUN}|(?:who )?(?:spent|spend|spends|spending) the least|(?:who )?(?:spent|spend|spends|spending) (?:very little|little|next to nothing|almost nothing|hardly anything|peanuts)|(?:with )?(?:the )?(?:lowest|smallest|least) (?:total |lifetime )?(?:spend|spending|ltv|lifetime value|revenue|clv)|(?:with |having |has |have )?(?:an? )?(?:very )?(?:low|small|tiny) (?:total |lifetime |overall )?(?:spend|spending|ltv|lifetime value|clv|customer lifetime value|total spend)|(?:who )?(?:barely|hardly|scarcely|rarely) (?:spent|spend|spends|spending)(?: (?:anything|much|any money|money))?"
    rf"|bottom (?:ten|10) ?(?:%|percent|per cent)(?: of)?(?: (?:our |all )?{TIER_NOUN})?(?: (?:by|in|on) (?:total )?(?:spend|spending|revenue|value|ltv|sales))?)"
)
# Nouns for the people a "new …" phrase is about: "new customers this month".
PEOPLE = r"(?:customers?|custs?|users?|members?|clients?|shoppers?|accounts?|sign ?ups?|registrations?|joiners?|subscribers?|people|folks)"
# What introduces a person's name: "customers named Priya", "called Arjun".
NAME_CUE = (
    r"(?:named|called|by the name(?: of)?|(?:with|having) (?:the |a )?(?:first |last |family |sur)?names?(?: of)?"
    r"|whose (?:first |last |family |sur)?names? (?:is|are|=)|(?:first |last |family |sur)?name (?:is|=)"
    r"|(?:with|having) (?:the |a )?surname(?: of)?|surnamed|going by)"
)
# Words people use for a membership tier's values ("gold members", "… or platinum in Chennai"),
# read as a value of the catalog's text attribute named like a tier (tier, level, membership).
TIER_VALUES = ("bronze", "silver", "gold", "platinum", "diamond", "titanium")
TIER_KEYS = ("tier", "level", "membership", "loyalty", "plan", "rank", "grade")
# The usual order of those tiers, lowest first, for "above silver" or "gold and up" ("titanium"
# ranks differently from one programme to the next, so it has no place here and is reported).
TIER_ORDER = ("bronze", "silver", "gold", "platinum", "diamond")
# Words before a bare tier word that make it a status ("customers who are platinum", "neither
# VIP nor gold"); without them, or a people word after, "gold" may be what was bought.
TIER_CUES = ("are", "is", "were", "was", "be", "been", "not", "non", "nor", "neither", "either", "both")
# … and words after one that make it a product instead ("gold jewellery", "gold buyers").
TIER_NOT_AFTER = r"(?:jewel(?:le)?ry|jewels?|coins?|bars?|chains?|rings?|plated|plating|items?|products?|buyers?|purchasers?|shoppers?|orders?|purchases?)"
# Marketing consent in the words people use for it ("subscribed to promotions", "marketing
# consent"), for a boolean opt-in attribute; and the ways it is withdrawn.
CONSENT_TOPIC = r"(?:(?:our|the|your|all) )?(?:marketing|promotions?|promotional|promos?|offers|newsletters?|deals|marketing communications?)(?: (?:e ?mails?|messages|messaging|sms|texts|communications?|comms|updates|content|mailers))?"
CONSENT_YES = (
    rf"(?:(?:opted|opt) ?in|subscribed|consented|agreed|signed up|said yes|gave consent|given consent|allowed|allow|allows|accepted|accept|accepts|agreed to receive|consented to receive)(?: (?:to|for|into))? {CONSENT_TOPIC}"
    rf"|(?:opted|opt) into {CONSENT_TOPIC}|(?:ok|okay|fine|happy) with {CONSENT_TOPIC}|(?:are |is )?allowed to market to|on (?:our |the )?(?:mailing|marketing|e ?mail) list|e ?mail subscribers"
    rf"|{CONSENT_TOPIC} (?:consent(?:ed)?|opted ?in|opt ?ins?|subscribers?|subscribed|permission|allowed)"
    rf"|(?:with|have|has|having|given|gave) (?:a )?(?:consent|permission) (?:for|to) {CONSENT_TOPIC}|(?:subscribed|consented) (?:customers?|users?|shoppers?|members?|contacts?)"
    rf"|(?:can|may|could|ok to|okay to|happy to|willing to|allowed to|agreed to|want to|wants to|like to) (?:receive|get|be sent|be contacted with|hear about|accept) {CONSENT_TOPIC}"
    rf"|(?:said yes|say yes|agreed) to {CONSENT_TOPIC}"
    # "customers we can send promotions to": allowed to be sent it
    rf"|(?:can|may|are allowed to|are permitted to) (?:send|e ?mail|text|message|contact|reach) (?:them )?{CONSENT_TOPIC}(?: to)?"
    # Consent with no topic: the store's consent is marketing consent ("vip and consented",
    # "without consent"); consent to something named ("consented to cookies") is not.
    r"|(?:(?:consented|consenting)|(?:(?:with|have|has|having|gave|given|giving) )?(?:(?:their|a|an|explicit|marketing) )*consent(?: (?:given|granted|received|obtained|on file))?)(?! (?:to|for|on|with|from)(?!\S))"
)
CONSENT_NO = (
    rf"(?:(?:opted|opt) ?out|unsubscribed|withdrew consent|withdrawn consent|declined|refused)(?: (?:of|from|to|for))? {CONSENT_TOPIC}"
    rf"|{CONSENT_TOPIC} (?:opted ?out|opt ?outs?|unsubscribed|unsubscribers)|unsubscribed|opted ?out"
    rf"|(?:said no|say no|says no|declined|refused|rejected|objected) to {CONSENT_TOPIC}|(?:do|does|did) not want {CONSENT_TOPIC}"
    # consent withdrawn, with no topic (as "consented" with none is marketing consent)
    r"|(?:(?:withdrew|withdrawn|revoked|declined|refused|denied|rejected)(?: (?:their|the|a|marketing))* consent"
    r"|consent (?:withdrawn|revoked|declined|refused|denied|rejected|not given))(?! (?:to|for|on|with|from)(?!\S))"
)
