"""Offline message variants: the count asked for, distinct angles, channel limits, known variables."""

from __future__ import annotations

from decimal import Decimal

import pytest
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pulsecrm.ai.composer import SMS_LIMIT, AudienceSummary, compose, read_goal, rendered_length
from pulsecrm.campaigns import templates

GOALS = [
    "win back lapsed customers with 10% off",
    "welcome new customers",
    "upsell premium headphones to repeat buyers",
    "thank our loyal VIP customers",
    "Diwali sale: flat ₹500 off on kurtas till Sunday, code DIWALI500",
    "remind people about items left in their cart",
    "tell everyone about our new store",
]
LAPSED = AudienceSummary(
    size=1200,
    with_orders=1100,
    median_spend=Decimal(6400),
    avg_spend=Decimal(8000),
    median_days_since_order=140,
    lapsed_share=0.7,
    top_city="Mumbai",
)
PROSPECTS = AudienceSummary(size=300, with_orders=20, lapsed_share=1.0)


class _Customer:
    name = "Asha Rao"
    email = "asha@example.com"
    phone = None
    city = "Pune"
    total_spend = Decimal("12499.00")
    order_count = 7
    avg_order_value = Decimal("1785.57")
    last_order_at = None
    external_id = "C1"
    attributes: dict[str, str] = {}


def _variables(source: str) -> set[str]:
    return set(meta.find_undeclared_variables(ImmutableSandboxedEnvironment().parse(source)))


@pytest.mark.parametrize("goal", GOALS)
@pytest.mark.parametrize("channel", ["sms", "email"])
@pytest.mark.parametrize("count", [1, 3, 5, 8])
def test_variants(goal: str, channel: str, count: int) -> None:
    variants = compose(goal, LAPSED, channel, count)
    assert len(variants) == count
    assert len({v.message for v in variants}) == count
    assert len({v.angle for v in variants}) == count  # different angles, not only words
    context = templates.context_for(_Customer())
    for v in variants:
        templates.check(v.message)
        assert _variables(v.message) <= set(templates.VARIABLES)
        rendered = templates.render(v.message, context)
        assert "{{" not in rendered and "{%" not in rendered
        if channel == "sms":
            assert v.subject is None
            assert len(rendered) <= SMS_LIMIT
            assert rendered_length(v.message) <= SMS_LIMIT  # even for very long names and cities
        else:
            assert v.subject
            templates.check(v.subject)
            assert _variables(v.subject) <= set(templates.VARIABLES)
            assert templates.render(v.subject, context)


def test_goal_facts_are_read() -> None:
    goal = read_goal("Diwali sale: flat ₹500 off on kurtas till Sunday, code DIWALI500")
    assert (goal.kind, goal.offer, goal.code, goal.deadline, goal.occasion, goal.product) == (
        "sale",
        "₹500 off",
        "DIWALI500",
        "Sunday",
        "Diwali",
        "kurtas",
    )
    assert read_goal("win back lapsed customers with 10% off").kind == "win_back"
    assert read_goal("welcome new customers").kind == "welcome"
    assert read_goal("upsell premium headphones to repeat buyers").product == "premium headphones"


def test_no_invented_offers() -> None:
    for v in compose("welcome new customers", LAPSED, "sms", 8):
        assert "%" not in templates.render(v.message, {}) and "off" not in v.message.split()


def test_the_offer_and_code_appear() -> None:
    variants = compose("win back lapsed customers with 15% off, code COMEBACK", LAPSED, "sms", 3)
    assert any("15% off" in v.message for v in variants)
    assert any("COMEBACK" in v.message for v in variants)


def test_fits_the_audience() -> None:
    # People who never ordered hear about a first order, not about "your 7 orders".
    angles = [v.angle for v in compose("spring sale", PROSPECTS, "sms", 4)]
    assert "first order" in angles and "their history" not in angles
    angles = [v.angle for v in compose("spring sale 10% off", LAPSED, "sms", 3)]
    assert "we miss you" in angles


def test_goal_text_never_becomes_template_code() -> None:
    variants = compose("sale {{ ''.__class__ }} {% for x in y %} on {{ evil }} 10% off", LAPSED, "email", 5)
    for v in variants:
        assert "__class__" not in v.message and "evil" not in v.message
        templates.check(v.message)
