"""The offline message composer: a campaign goal and its audience to distinct message variants.

The goal is read for its kind (win-back, welcome, upsell, loyalty, sale/festive, reminder)
and its facts: the offer ("10% off", "₹200 off", "free delivery"), a code, a deadline, an
occasion. Facts are only ever repeated, never invented: without an offer in the goal, no
variant promises a discount. Each variant takes a different *angle* (nostalgia, the offer,
urgency, the customer's own history, their city, what's new …), so they differ in approach,
not only in wording. Variants are Jinja templates over `campaigns.templates.VARIABLES`,
checked like any campaign message; SMS variants fit 160 characters even for long names.
"""

# ruff: noqa: E501 - message copy reads best one sentence per line

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from pulsecrm.campaigns import templates

SMS_LIMIT = 160
SUBJECT_LIMIT = 90
MAX_VARIANTS = 8

HI = '{{ first_name | default("there") }}'
CITY_PEOPLE = "{% if city %}Shoppers in {{ city }}{% else %}Shoppers near you{% endif %}"
HISTORY = "{% if order_count %}your {{ order_count }} orders{% else %}you{% endif %}"
SINCE = "{% if last_order_at %} since {{ last_order_at }}{% endif %}"


@dataclass(frozen=True)
class AudienceSummary:
    """Who the message goes to, computed from the database (see `ai.service`)."""

    size: int
    with_orders: int = 0
    median_spend: Decimal | None = None
    avg_spend: Decimal | None = None
    median_days_since_order: int | None = None
    lapsed_share: float = 0.0  # no order in 90 days, never-ordered included
    top_city: str | None = None

    @property
    def never_ordered_share(self) -> float:
        return 1 - self.with_orders / self.size if self.size else 0.0

    @property
    def premium(self) -> bool:
        return self.median_spend is not None and self.median_spend >= 10_000


@dataclass(frozen=True)
class Variant:
    angle: str
    message: str
    subject: str | None
    engine: str = "offline"


@dataclass(frozen=True)
class Goal:
    kind: str
    offer: str | None = None
    code: str | None = None
    deadline: str | None = None
    occasion: str | None = None
    product: str | None = None
    event: str | None = None  # "store opening", "anniversary sale"
    date: str | None = None  # when it happens: "Saturday", "5 Dec"
    novel: bool = False  # the goal itself says something is new ("new", "launch", "arrivals")

    @property
    def facts(self) -> list[str]:
        """What every variant must repeat: nothing the goal said is dropped."""
        return [
            f
            for f in (
                self.offer,
                self.code,
                self.deadline,
                self.occasion,
                self.product,
                self.event,
                self.date,
            )
            if f
        ]


# --- reading the goal -------------------------------------------------------------------------

KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reminder", ("remind", "cart", "abandon", "back in stock", "restock", "expir", "don't forget", "dont forget", "renew", "pending", "left in")),
    ("win_back", ("win back", "winback", "win-back", "lapsed", "inactive", "come back", "miss you", "re-engage", "reengage", "reactivat", "dormant", "churn", "bring back", "haven't ordered", "havent ordered", "lost customers")),
    ("welcome", ("welcome", "new customer", "onboard", "first order", "first purchase", "just joined", "new signup", "new sign-up", "newly joined", "introduce")),
    ("upsell", ("upsell", "up-sell", "upgrade", "cross-sell", "cross sell", "crosssell", "premium", "bundle", "add-on", "recommend", "complete the look", "try our", "more of")),
    ("loyalty", ("loyal", "thank", "vip", "reward", "points", "appreciat", "tier", "exclusive", "best customers", "top customers", "anniversary")),
    ("sale", ("sale", "festive", "festival", "offer", "discount", "% off", "deal", "clearance", "season", "black friday", "cyber monday", "promo", "launch", "flash")),
)  # fmt: skip
OCCASIONS = (
    "Diwali", "Holi", "Eid", "Christmas", "New Year", "Black Friday", "Cyber Monday", "Independence Day",
    "Raksha Bandhan", "Rakhi", "Navratri", "Dussehra", "Onam", "Pongal", "Durga Puja", "Ganesh Chaturthi",
    "Valentine's Day", "Mother's Day", "Father's Day", "Easter", "Thanksgiving", "Summer", "Monsoon",
    "Winter", "End of Season", "Republic Day", "Lohri", "Baisakhi", "Ugadi", "Janmashtami",
)  # fmt: skip
DAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_OFFER_PERCENT = re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d)?)\s?%(?:\s?(?:off|discount))?", re.I)
_OFFER_FLAT = re.compile(
    r"(?:flat\s+|extra\s+)?(₹|rs\.?\s?|inr\s?|\$|€|£)\s?(\d[\d,]{0,8})\s?(off|discount|cashback)", re.I
)
_FREE = re.compile(r"free (shipping|delivery|gift|returns|sample)", re.I)
_BOGO = re.compile(r"\b(?:bogo|buy one,? get one(?: free)?|buy 1,? get 1(?: free)?)\b", re.I)
_CODE = re.compile(r"\b(?:code|coupon|promo code|promocode|voucher)\s*[:=]?\s*([A-Za-z0-9]{3,20})\b", re.I)
_DEADLINE = re.compile(
    rf"\b(?:till|until|by|before|ends?|ending|valid till|valid until|through|thru|expires?)\s+"
    rf"(tonight|midnight|today|tomorrow|this weekend|the weekend|{DAYS}|\d{{1,2}}(?:st|nd|rd|th)? {MONTH}|{MONTH} \d{{1,2}}(?:st|nd|rd|th)?)\b"
    rf"|\b(this weekend|today only|weekend only|48 hours|24 hours|72 hours)\b",
    re.I,
)
_PRODUCT = re.compile(
    r"\b(?:upsell|cross-sell|cross sell|promote|launch|introduce|recommend|sell|push|upgrade to)\s+"
    r"(?:our |the |new |a |an )?([a-z][a-z ]{2,30}?)\s+(?:to|for|among|with|at)\b"
    r"|\b(?:off|on)\s+(?:all |our |the |select |new |every )?([a-z][a-z ]{2,25}?)(?=$|[,.]| for| to| this| till| until| before| with| by| at| ends?| using| code)",
    re.I,
)
_EVENT = re.compile(
    r"\b((?:new |grand )?(?:store|shop|outlet|branch|showroom|flagship|cafe|restaurant|studio)(?: re-?opening| opening| launch)"
    r"|grand (?:re-?)?opening|(?:re-?)?opening day|(?:\d+(?:st|nd|rd|th) |first |second |third |\d+ years? )?anniversary(?: sale)?"
    r"|(?:clearance|warehouse|stock|mega|flash|end of season|end-of-season|summer|winter|monsoon|festive|weekend|midnight|birthday|anniversary) sale"
    r"|(?:product|collection|app|website|menu) launch|pop-?up(?: store| event| shop)?|trunk show|workshop|webinar|live event|tasting"
    r"|masterclass|loyalty program(?:me)?|referral program(?:me)?|members'? (?:day|night|evening))\b",
    re.I,
)
_WHEN = re.compile(
    rf"\b(?:on|this|from|starting|starts|begins)\s+({DAYS}|\d{{1,2}}(?:st|nd|rd|th)? {MONTH}|{MONTH} \d{{1,2}}(?:st|nd|rd|th)?)\b",
    re.I,
)
_NOT_PRODUCTS = {
    "customers",
    "customer",
    "users",
    "people",
    "buyers",
    "shoppers",
    "everything",
    "orders",
    "order",
    "them",
    "us",
}
SAFE = re.compile(r"^[\w %₹$€£.,:'&-]+$")


def read_goal(text: str) -> Goal:
    low = text.lower()
    kind = next((k for k, words in KINDS if any(word in low for word in words)), "general")
    offer: str | None = None
    if match := _OFFER_PERCENT.search(text):
        offer = f"{match[1]}% off"
    elif match := _OFFER_FLAT.search(text):
        symbol = "₹" if match[1].lower().startswith(("rs", "inr")) else match[1]
        offer = f"{symbol}{match[2]} {match[3].lower()}"
    elif match := _BOGO.search(text):
        offer = "buy one, get one free"
    elif match := _FREE.search(text):
        offer = f"free {match[1].lower()}"
    code = match[1].upper() if (match := _CODE.search(text)) else None
    deadline = None
    if match := _DEADLINE.search(text):
        deadline = (match[1] or match[2]).lower()
        deadline = deadline.capitalize() if re.fullmatch(DAYS, deadline) else deadline
    occasion = next((o for o in OCCASIONS if re.search(rf"\b{re.escape(o.lower())}\b", low)), None)
    if occasion and kind in ("general", "sale"):
        kind = "sale"
    product = None
    for match in _PRODUCT.finditer(text):
        candidate = (match[1] or match[2] or "").strip().lower()
        words = candidate.split()
        while words and words[0] in ("all", "our", "the", "new", "select", "on", "off", "every"):
            words.pop(0)
        when = re.compile(
            rf"{DAYS}|{MONTH}|\d+|till|until|by|tonight|midnight|today|tomorrow|weekend|this", re.I
        )
        if (
            words
            and len(words) <= 3
            and not set(words) & _NOT_PRODUCTS
            and not any(when.fullmatch(x) for x in words)
        ):
            product = " ".join(words)
            break
    if product is None and "cart" in low:
        product = "the items in your cart"
    elif product is None and "back in stock" in low:
        product = "your favourites, back in stock"
    event = match[1].lower() if (match := _EVENT.search(text)) else None
    if event and product and (product in event or event in product):
        product = None  # "launch of our new store" is the event, not a product
    date = match[1] if (match := _WHEN.search(text)) else None
    if date and deadline and date.lower() == deadline.lower():
        date = None
    # Only safe characters from the goal reach a template: no braces, no Jinja.
    facts = [offer, code, deadline, occasion, product, event, date]
    offer, code, deadline, occasion, product, event, date = (
        f if f and SAFE.match(f) else None for f in facts
    )
    novel = bool(re.search(r"\bnew\b|launch|arriv|just in\b", text, re.I))
    return Goal(kind, offer, code, deadline, occasion, product, event, date, novel)


def promise(goal: Goal) -> str:
    """One sentence holding every fact of the goal, for a variant whose angle left one out."""
    what = goal.offer or ""
    if goal.product:
        what = f"{what} on {goal.product}" if what else goal.product
    if goal.code:
        what = f"{what} with code {goal.code}" if what else f"code {goal.code}"
    head = " ".join(x for x in (goal.occasion, goal.event) if x)
    text = f"{head}: {what}" if head and what else head or what
    if goal.date:
        text = f"{text}, on {goal.date}" if text else f"On {goal.date}"
    text = _sentence(text[:1].upper() + text[1:]) if text else ""
    return f"{text} {_ends(goal)}".strip()


# --- angles -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    sms: list[str]  # the first part is the message; the rest are added while they fit
    subject: str
    email: list[str]  # paragraphs after the greeting


Angle = Callable[[Goal, AudienceSummary], "Draft | None"]


def _offer(goal: Goal, lead: str = "Enjoy") -> str:
    if not goal.offer:
        return ""
    code = f" with code {goal.code}" if goal.code else ""
    return f"{lead} {goal.offer}{code}"


def _thing(goal: Goal) -> str:
    # Never a made-up product or collection: without one, the store itself.
    return goal.product or "what's in store"


def _ends(goal: Goal) -> str:
    return f"Ends {goal.deadline}." if goal.deadline else ""


def _sentence(text: str) -> str:
    return f"{text}." if text and not text.endswith((".", "!", "?")) else text


def we_miss_you(goal: Goal, aud: AudienceSummary) -> Draft:
    offer = _sentence(_offer(goal, "Here's"))
    return Draft(
        [f"Hi {HI}, we miss you! It's been a while{SINCE}.", offer + " Come back and see us." if offer else "Come back and see us.", _ends(goal)],
        f"We miss you, {HI}" + (f" — {goal.offer} inside" if goal.offer else ""),
        [f"It's been a while{SINCE}, and we've missed having you around.", f"{offer} We'd love to welcome you back." if offer else "We'd love to see you again.", _ends(goal)],
    )  # fmt: skip


def offer_first(goal: Goal, aud: AudienceSummary) -> Draft | None:
    if not goal.offer:
        return None
    code = f" Use code {goal.code}." if goal.code else ""
    return Draft(
        [f"{goal.offer[0].upper()}{goal.offer[1:]} for you, {HI}!{code}", f"On {_thing(goal)}.", _ends(goal)],
        f"{HI}, {goal.offer} is yours",
        [f"We've saved {goal.offer} for you on {_thing(goal)}.{code}", _ends(goal) or "Don't wait too long."],
    )  # fmt: skip


def personal_history(goal: Goal, aud: AudienceSummary) -> Draft | None:
    if aud.never_ordered_share > 0.5:
        return None  # most of them have no history to mention
    offer = _sentence(_offer(goal, "Here's"))
    return Draft(
        [f"{HI}, thank you for {HISTORY} with us.", offer or (f"We think you'll love {goal.product}." if goal.product else "It means a lot to us."), _ends(goal)],
        f"Thank you for {HISTORY}, {HI}",
        [f"Thank you for {HISTORY} with us.", f"Based on what you've loved before, we think you'll love {goal.product}." if goal.product else "Every order means a lot to us.", offer, _ends(goal)],
    )  # fmt: skip


def urgency(goal: Goal, aud: AudienceSummary) -> Draft | None:
    if not goal.deadline:
        return None  # without the goal's own deadline, any urgency would be made up
    when = goal.deadline or "soon"
    what = goal.offer or _thing(goal)
    code = f" Code {goal.code}." if goal.code else ""
    return Draft(
        [f"Last chance, {HI}: {what} ends {when}!{code}", "Don't miss out."],
        f"Ends {when}: {what}",
        [f"Just a heads-up: {what} ends {when}.{code}", "Once it's gone, it's gone."],
    )


def whats_new(goal: Goal, aud: AudienceSummary) -> Draft:
    offer = _sentence(_offer(goal))
    if not (goal.product and goal.novel):  # "just landed" only when the goal says it is new
        return Draft(
            [f"{HI}, come and see {_thing(goal)} for you.", offer, _ends(goal)],
            f"{HI}, come and take a look",
            [f"Come and see {_thing(goal)} for you; we think you'll like it.", offer, _ends(goal)],
        )
    return Draft(
        [f"{HI}, {_thing(goal)} just landed and it's worth a look.", offer, _ends(goal)],
        f"New in: {_thing(goal)}",
        [f"{_thing(goal)[0].upper()}{_thing(goal)[1:]} just landed, and we think you'll like what you see.", offer, _ends(goal)],
    )  # fmt: skip


def local(goal: Goal, aud: AudienceSummary) -> Draft:
    offer = _sentence(_offer(goal, "Get"))
    return Draft(
        [f"{CITY_PEOPLE} shop with us every day, {HI}.", offer or "Come and join them.", _ends(goal)],
        f"{HI}, from your neighbours at our store",
        [f"{CITY_PEOPLE} shop with us every day.", offer or "We'd love to see you among them.", _ends(goal)],
    )  # fmt: skip


def feedback(goal: Goal, aud: AudienceSummary) -> Draft:
    offer = _offer(goal, "and enjoy")
    return Draft(
        [f"{HI}, how can we do better? Reply and tell us{(' ' + offer) if offer else ''}.", _ends(goal)],
        f"{HI}, can we ask you something?",
        ["We'd love to know how we're doing.", "Hit reply and tell us what we could do better; we read every answer.", _sentence(_offer(goal, "As a thank-you, enjoy")), _ends(goal)],
    )  # fmt: skip


def question_hook(goal: Goal, aud: AudienceSummary) -> Draft:
    offer = _sentence(_offer(goal))
    return Draft(
        [f"{HI}, got a minute?", f"{_thing(goal)[0].upper()}{_thing(goal)[1:]} is waiting.", offer, _ends(goal)],
        f"Got a minute, {HI}?",
        [f"We've got {_thing(goal)} waiting for you.", offer, _ends(goal)],
    )  # fmt: skip


def vip_recognition(goal: Goal, aud: AudienceSummary) -> Draft:
    who = "one of our most valued customers" if aud.premium else "a valued customer"
    offer = _sentence(_offer(goal, "Here's"))
    if not goal.product:  # no "first look" at something the goal didn't name
        return Draft(
            [f"{HI}, you're {who}, and we wanted you to know it.", offer, _ends(goal)],
            f"{HI}, you're {who}",
            [f"You're {who}, and we wanted you to know it.", offer, _ends(goal)],
        )
    return Draft(
        [f"{HI}, as {who}, we thought of you for {_thing(goal)}.", offer, _ends(goal)],
        f"For {who}: {_thing(goal)}",
        [f"As {who}, you were the first we thought of for {_thing(goal)}.", offer, _ends(goal)],
    )  # fmt: skip


def gratitude(goal: Goal, aud: AudienceSummary) -> Draft:
    offer = _sentence(_offer(goal, "Here's"))
    return Draft(
        [f"Thank you, {HI}! Customers like you make us who we are.", offer or "Here's to many more orders together.", _ends(goal)],
        f"A big thank-you, {HI}",
        ["We don't say it often enough: thank you for shopping with us.", offer or "We can't wait to see you again.", _ends(goal)],
    )  # fmt: skip


def exclusive_access(goal: Goal, aud: AudienceSummary) -> Draft | None:
    if not goal.product:
        return None  # early access to what? Not something to invent
    offer = _sentence(_offer(goal, "Plus"))
    return Draft(
        [f"{HI}, you're on our members-only list: early access to {_thing(goal)} starts now.", offer, _ends(goal)],
        f"{HI}, your early access is open",
        [f"You're on our members-only list, so you get early access to {_thing(goal)}.", offer, _ends(goal)],
    )  # fmt: skip


def welcome_intro(goal: Goal, aud: AudienceSummary) -> Draft:
    offer = _sentence(_offer(goal, "Here's"))
    return Draft(
        [f"Welcome, {HI}! We're so glad you joined us.", offer + " on your first order." if offer else "Take a look around.", _ends(goal)],
        f"Welcome aboard, {HI}!",
        ["We're so glad you joined us.", f"{offer[:-1]} on your first order." if offer else "Take a look around and make yourself at home.", _ends(goal)],
    )  # fmt: skip


def first_order_nudge(goal: Goal, aud: AudienceSummary) -> Draft:
    offer = _offer(goal, "with")
    return Draft(
        [f"{HI}, your first order is just a tap away{(' ' + offer) if offer else ''}.", f"Start with {goal.product}." if goal.product else "", _ends(goal)],
        f"{HI}, ready for your first order?",
        [f"Your first order is just a tap away{(' ' + offer) if offer else ''}.", f"Not sure where to start? Try {goal.product}." if goal.product else "We're here if you have any questions.", _ends(goal)],
    )  # fmt: skip


def upgrade(goal: Goal, aud: AudienceSummary) -> Draft | None:
    if not goal.product:
        return None
    offer = _sentence(_offer(goal))
    return Draft(
        [f"{HI}, ready for an upgrade? Meet {_thing(goal)}.", offer, _ends(goal)],
        f"{HI}, time for an upgrade?",
        [f"You know what you like, so we think you'll love {_thing(goal)}.", offer, _ends(goal)],
    )  # fmt: skip


def complete_the_set(goal: Goal, aud: AudienceSummary) -> Draft | None:
    if not goal.product:
        return None
    offer = _sentence(_offer(goal))
    return Draft(
        [f"{HI}, complete the set: {_thing(goal)} goes perfectly with what you already have.", offer, _ends(goal)],
        "Goes perfectly with what you have",
        [f"Complete the set: {_thing(goal)} goes perfectly with what you've bought before.", offer, _ends(goal)],
    )  # fmt: skip


def festive(goal: Goal, aud: AudienceSummary) -> Draft | None:
    if not goal.occasion:
        return None
    offer = _sentence(_offer(goal, "Celebrate with"))
    greeting = (
        f"Happy {goal.occasion}"
        if goal.occasion not in ("Summer", "Monsoon", "Winter", "End of Season")
        else f"{goal.occasion} is here"
    )
    return Draft(
        [f"{greeting}, {HI}!", offer or "Celebrate with us.", _ends(goal)],
        f"{greeting}, {HI}!",
        [f"{greeting}! May the season bring you joy.", offer or "Celebrate with us.", _ends(goal)],
    )  # fmt: skip


def friendly_reminder(goal: Goal, aud: AudienceSummary) -> Draft:
    offer = _sentence(_offer(goal, "And don't forget:"))
    if not goal.product:
        return Draft(
            [f"Hi {HI}, just a friendly reminder from us.", offer, _ends(goal)],
            f"{HI}, a friendly reminder",
            ["Just a friendly reminder from all of us.", offer, _ends(goal)],
        )
    return Draft(
        [f"Hi {HI}, just a friendly reminder: {_thing(goal)} is still waiting for you.", offer, _ends(goal)],
        f"{HI}, you left something behind",
        [f"Just a friendly reminder: {_thing(goal)} is still waiting for you.", offer, _ends(goal)],
    )  # fmt: skip


def from_the_team(goal: Goal, aud: AudienceSummary) -> Draft:
    offer = _sentence(_offer(goal, "Here's"))
    return Draft(
        [f"A quick note from all of us, {HI}: thank you for choosing us.", offer, _ends(goal)],
        f"A note from the team, {HI}",
        ["A quick note from all of us: thank you for choosing us.", offer, _ends(goal)],
    )


ANGLES: dict[str, Angle] = {
    "we miss you": we_miss_you,
    "the offer": offer_first,
    "their history": personal_history,
    "urgency": urgency,
    "what's new": whats_new,
    "local": local,
    "feedback": feedback,
    "curiosity": question_hook,
    "recognition": vip_recognition,
    "gratitude": gratitude,
    "early access": exclusive_access,
    "welcome": welcome_intro,
    "first order": first_order_nudge,
    "upgrade": upgrade,
    "complements": complete_the_set,
    "festive": festive,
    "reminder": friendly_reminder,
    "from the team": from_the_team,
}
ORDER = {
    "win_back": ["we miss you", "the offer", "their history", "what's new", "feedback", "urgency", "local", "curiosity"],
    "welcome": ["welcome", "first order", "the offer", "local", "what's new", "curiosity", "urgency", "gratitude"],
    "upsell": ["upgrade", "complements", "their history", "recognition", "the offer", "what's new", "local", "urgency"],
    "loyalty": ["gratitude", "recognition", "early access", "their history", "the offer", "local", "what's new", "urgency"],
    "sale": ["festive", "the offer", "urgency", "local", "recognition", "what's new", "curiosity", "their history", "gratitude"],
    "reminder": ["reminder", "urgency", "the offer", "their history", "curiosity", "local", "what's new", "gratitude"],
    "general": ["the offer", "what's new", "local", "curiosity", "gratitude", "urgency", "their history", "recognition", "early access"],
}  # fmt: skip
# Every angle, for topping up when a goal's own list runs short.
FALLBACK = [
    "what's new",
    "local",
    "curiosity",
    "urgency",
    "gratitude",
    "recognition",
    "early access",
    "feedback",
    "from the team",
]
# Tones that a goal's kind rules out: thanks and welcome are not win-back.
NOT_FOR = {
    "loyalty": {"we miss you", "welcome", "first order"},
    "welcome": {"we miss you", "feedback", "their history"},
    "upsell": {"welcome", "first order"},
}


# --- assembling -------------------------------------------------------------------------------


# The longest plausible values, so an SMS that fits for them fits for anyone typical.
_LONG_CUSTOMER = templates.ExampleCustomer(
    name="Christopher Fernandes-Rodrigues",
    email="christopher.fernandes@example.com",
    city="Thiruvananthapuram",
    total_spend=Decimal("1234567.00"),
    order_count=999,
    avg_order_value=Decimal("12345.67"),
    last_order_at=datetime(2026, 9, 30, tzinfo=UTC),
    external_id="C00000001",
    attributes={"tier": "platinum"},
)
LONG_CONTEXT = templates.context_for(_LONG_CUSTOMER)


def rendered_length(source: str) -> int:
    return len(templates.render(source, LONG_CONTEXT))


def compose(goal_text: str, audience: AudienceSummary, channel: str, count: int) -> list[Variant]:
    """`count` variants, each from a different angle, checked like any campaign message."""
    goal = read_goal(goal_text)
    order = list(ORDER[goal.kind])
    # Fit the audience: mostly lapsed people hear "we miss you" early, people who never
    # ordered hear about a first order, whatever the goal's kind.
    if audience.lapsed_share > 0.6 and "we miss you" not in order[:2] and goal.kind not in NOT_FOR:
        order.insert(1, "we miss you")
    if audience.size and audience.never_ordered_share > 0.6 and "first order" not in order[:2]:
        order.insert(1, "first order")
    names = [n for n in dict.fromkeys([*order, *FALLBACK]) if n not in NOT_FOR.get(goal.kind, set())]
    out: list[Variant] = []
    seen: set[str] = set()
    for name in names:
        if len(out) >= min(count, MAX_VARIANTS):
            break
        draft = ANGLES[name](goal, audience)
        if draft is None:
            continue
        variant = _assemble(name, draft, channel, goal)
        if variant.message in seen:
            continue
        templates.check(variant.message)
        if variant.subject:
            templates.check(variant.subject, path="$.subject")
        seen.add(variant.message)
        out.append(variant)
    return out


def _missing(goal: Goal, text: str) -> bool:
    low = text.lower()
    return any(fact.lower() not in low for fact in goal.facts)


def _assemble(angle: str, draft: Draft, channel: str, goal: Goal) -> Variant:
    if channel == "sms":
        message = draft.sms[0]
        for part in draft.sms[1:]:
            if part and rendered_length(f"{message} {part}") <= SMS_LIMIT:
                message = f"{message} {part}"
        if _missing(goal, message):
            # The angle's own words dropped a fact (or it did not fit): the facts come first.
            said = promise(goal)
            fits = [m for m in (f"{draft.sms[0]} {said}", f"{HI}: {said}") if rendered_length(m) <= SMS_LIMIT]
            message = fits[0] if fits else said
        return Variant(angle, message, None)
    paragraphs = [p for p in draft.email if p]
    if _missing(goal, " ".join(paragraphs)):
        paragraphs.insert(0, promise(goal))
    body = "\n\n".join([f"Hi {HI},", *paragraphs, "See you soon,\nThe team"])
    subject = (
        draft.subject if rendered_length(draft.subject) <= SUBJECT_LIMIT else draft.subject.split(" — ")[0]
    )
    return Variant(angle, body, subject)
