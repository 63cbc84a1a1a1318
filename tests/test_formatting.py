"""One way to write money, numbers and dates: the pages' filters and the messages' use them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pulsecrm import formatting
from pulsecrm.campaigns import templates


def test_rupees_use_indian_grouping_and_paise_only_when_there_are_some() -> None:
    assert formatting.money(Decimal("352961.00"), "INR") == "₹3,52,961"
    assert formatting.money("60312345.5", "INR") == "₹6,03,12,345.50"
    assert formatting.money(0, "INR") == "₹0"
    assert formatting.money(None) == "—"
    assert formatting.money("not a number") == "—"


def test_other_currencies_use_their_own_grouping() -> None:
    assert formatting.money(352961, "USD") == "$352,961"
    assert formatting.money("1499.5", "GBP") == "£1,499.50"


def test_numbers_and_dates() -> None:
    assert formatting.number(1234567) == "12,34,567"  # the default store currency is INR
    assert formatting.number(None) == "—"
    moment = datetime(2026, 11, 3, 9, 5, tzinfo=UTC)
    assert formatting.date_(moment) == "3 Nov 2026"
    assert formatting.date_("2026-11-03T09:05:00+00:00") == "3 Nov 2026"
    assert formatting.datetime_(moment) == "3 Nov 2026, 09:05 UTC"


def test_messages_print_sums_like_the_pages_and_still_compare_them() -> None:
    class Customer:
        name, email, phone, city, external_id = "Asha Rao", None, None, "Pune", "C1"
        total_spend, avg_order_value, order_count = Decimal("352961.00"), Decimal("1785.57"), 7
        last_order_at = datetime(2026, 11, 3, tzinfo=UTC)
        attributes = {"credit": 2500, "since": "2024-05-01"}

    context = templates.context_for(Customer())
    message = (
        "{{ total_spend }}/{{ avg_order_value }}/{{ attributes.credit | money }}/"
        "{{ attributes.since | date }}/{{ last_order_at }}/{{ 1234567 | number }}"
        "{% if total_spend > 5000 %}/big{% endif %}"
    )
    templates.check(message)
    assert (
        templates.render(message, context) == "₹3,52,961/₹1,785.57/₹2,500/1 May 2024/3 Nov 2026/12,34,567/big"
    )
