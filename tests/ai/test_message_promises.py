"""Messages keep the goal's promises: every fact in every variant, the goal's tone, nothing invented.

Each goal is listed with the facts a marketer would expect repeated (written by hand, not read
back from the composer) and its tone. Every variant, on both channels, must contain every
fact, must not strike a tone the goal rules out, and must not promise what the goal didn't
say: no discount, gift, code, deadline, novelty or early access of its own making.
"""

from __future__ import annotations

import re

import pytest

from pulsecrm.ai.composer import compose
from pulsecrm.campaigns import templates
from tests.ai.test_messages import LAPSED, PROSPECTS, _Customer

THANKS, WIN_BACK, WELCOME, SALE, UPSELL, REMINDER, NEWS = (
    "thanks", "win_back", "welcome", "sale", "upsell", "reminder", "news",
)  # fmt: skip

GOALS: list[tuple[str, str, list[str]]] = [
    ("New store opening with 15% off", SALE, ["store opening", "15% off"]),
    ("thank our best customers", THANKS, []),
    ("thank our loyal VIP customers", THANKS, []),
    ("Thank our top customers with 20% off, code THANKS20", THANKS, ["20% off", "THANKS20"]),
    ("say thanks to repeat buyers with free delivery", THANKS, ["free delivery"]),
    ("win back lapsed customers with 10% off", WIN_BACK, ["10% off"]),
    ("win back inactive customers", WIN_BACK, []),
    ("bring back dormant shoppers with ₹200 off till Sunday", WIN_BACK, ["₹200 off", "Sunday"]),
    ("re-engage churned users with code COMEBACK and 25% off", WIN_BACK, ["25% off", "COMEBACK"]),
    ("welcome new customers", WELCOME, []),
    ("welcome new signups with 10% off their first order", WELCOME, ["10% off"]),
    ("welcome new customers with free shipping, code HELLO", WELCOME, ["free shipping", "HELLO"]),
    (
        "Diwali sale: flat ₹500 off on kurtas till Sunday, code DIWALI500",
        SALE,
        ["Diwali", "₹500 off", "kurtas", "Sunday", "DIWALI500"],
    ),
    ("Holi sale with 30% off on colours", SALE, ["Holi", "30% off", "colours"]),
    ("Christmas offer: 20% off on gifts", SALE, ["Christmas", "20% off", "gifts"]),
    ("Black Friday: 40% off everything till midnight", SALE, ["Black Friday", "40% off", "midnight"]),
    ("end of season sale 50% off", SALE, ["end of season sale", "50% off"]),
    ("flash sale this weekend, 35% off on shoes", SALE, ["flash sale", "this weekend", "35% off", "shoes"]),
    ("summer sale: 25% off on sunglasses", SALE, ["summer sale", "25% off", "sunglasses"]),
    ("our 5th anniversary sale with 15% off", SALE, ["anniversary sale", "15% off"]),
    ("grand opening of our Pune store on Saturday", NEWS, ["grand opening", "Saturday"]),
    ("new store opening on 5 Dec", NEWS, ["store opening", "5 Dec"]),
    ("pop-up store this Saturday with free gifts", NEWS, ["pop-up store", "Saturday", "free gift"]),
    ("invite VIPs to our members' night on Friday", THANKS, ["members' night", "Friday"]),
    ("free delivery on all orders till Friday", SALE, ["free delivery", "Friday"]),
    ("buy one get one free on t-shirts", SALE, ["buy one, get one free"]),
    ("upsell premium headphones to repeat buyers", UPSELL, ["premium headphones"]),
    ("upsell premium headphones to repeat buyers with 10% off", UPSELL, ["premium headphones", "10% off"]),
    ("promote our smart watches to gadget lovers", NEWS, ["smart watches"]),
    ("recommend running shoes to gym goers with code RUN15", UPSELL, ["running shoes", "RUN15"]),
    ("cross-sell phone cases to phone buyers", UPSELL, ["phone cases"]),
    ("remind people about items left in their cart", REMINDER, ["the items in your cart"]),
    ("remind cart abandoners: 10% off if they check out by Sunday", REMINDER, ["10% off", "Sunday"]),
    ("remind customers their points expire on 31 Dec", REMINDER, ["31 Dec"]),
    ("back in stock alert for our best sellers", REMINDER, ["back in stock"]),
    ("tell everyone about our new store", NEWS, []),
    ("collection launch with 20% off for members", SALE, ["collection launch", "20% off"]),
    ("Eid special: 15% off on attar, code EID15", SALE, ["Eid", "15% off", "attar", "EID15"]),
    ("Independence Day sale 20% off ends tomorrow", SALE, ["Independence Day", "20% off", "tomorrow"]),
    ("reward loyal customers with double points this weekend", THANKS, ["this weekend"]),
    ("monsoon sale with ₹300 cashback", SALE, ["monsoon sale", "₹300 cashback"]),
    (
        "Valentine's Day: 10% off on chocolates till 14 Feb",
        SALE,
        ["Valentine's Day", "10% off", "chocolates", "14 Feb"],
    ),
    ("Onam special offer, flat ₹250 off", SALE, ["Onam", "₹250 off"]),
    ("launch of our mobile app with free delivery on the first order", NEWS, ["free delivery"]),
]

# (what it would promise, the words of a goal that allow it)
INVENTED = [
    (r"%", r"%"),
    (r"\bfree\b", r"\bfree\b"),
    (r"\bcashback\b", r"cashback"),
    (r"\bcode\b", r"\bcode\b"),
    (r"just landed|new in\b|collection", r"\bnew\b|collection|launch"),
    (r"early access|first look", r"early|first look"),
    (r"last chance|\bends\b|going fast", r"till|until|ends|by|tonight|midnight|weekend|tomorrow|today"),
]
TONE = {
    THANKS: r"miss you|been a while|come back|welcome",
    WELCOME: r"miss you|been a while|come back|your \d+ orders",
    UPSELL: r"welcome aboard|first order",
    SALE: r"^$",
    WIN_BACK: r"^$",
    REMINDER: r"^$",
    NEWS: r"^$",
}


def test_at_least_forty_goals() -> None:
    assert len(GOALS) >= 40
    assert len({g for g, _, _ in GOALS}) == len(GOALS)


@pytest.mark.parametrize(("goal", "tone", "facts"), GOALS, ids=[g for g, _, _ in GOALS])
@pytest.mark.parametrize("channel", ["sms", "email"])
def test_every_variant_keeps_the_goals_promises(goal: str, tone: str, facts: list[str], channel: str) -> None:
    context = templates.context_for(_Customer())
    for audience in (LAPSED, PROSPECTS):
        for variant in compose(goal, audience, channel, 5):
            text = templates.render(variant.message, context)
            full = f"{templates.render(variant.subject, context) if variant.subject else ''}\n{text}"
            for fact in facts:
                assert fact.lower() in text.lower(), (variant.angle, fact, text)
            for promise, allowed_by in INVENTED:
                if not re.search(allowed_by, goal, re.I):
                    assert not re.search(promise, full, re.I), (variant.angle, promise, full)
            assert not re.search(TONE[tone], full, re.I), (variant.angle, tone, full)
