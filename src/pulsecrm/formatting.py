"""Money, numbers and dates written one way for people, in the pages and in the messages alike.

Sums use the grouping of the store currency's locale (Indian grouping for rupees: ₹3,52,961),
whole amounts without paise and others with them; dates read "30 Nov 2026". The store currency
is the `default_currency` setting.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import NumberPattern, format_decimal

# Where a currency is mostly written; the locale decides symbol placement and digit grouping.
LOCALE_BY_CURRENCY = {"INR": "en_IN", "GBP": "en_GB", "EUR": "en_IE", "AUD": "en_AU", "SGD": "en_SG"}
EMPTY = "—"

_store_currency: str | None = None
_store_zone: ZoneInfo | None = None


def configure(currency: str) -> None:
    """The currency of this store's figures (the app calls it at start with the setting)."""
    global _store_currency
    _store_currency = currency.upper()
    _warm(_store_currency)


def configure_zone(zone: str) -> None:
    """The store's time zone (the app calls it at start with the `timezone` setting)."""
    global _store_zone
    _store_zone = ZoneInfo(zone)


def store_zone() -> ZoneInfo:
    if _store_zone is None:
        from pulsecrm.config import get_settings

        configure_zone(get_settings().timezone)
    assert _store_zone is not None
    return _store_zone


def store_datetime(value: datetime | str | None) -> str:
    """15 Jan 2027, 19:00 IST: a moment in the store's time zone, for the times a marketer
    chose in store time (a schedule, a planned hour)."""
    if value is None:
        return EMPTY
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(store_zone())
    return f"{local.day} {local:%b %Y}, {local:%H:%M} {local.tzname()}"


def store_utc_offset(now: datetime) -> str:
    """The store zone's offset from UTC at `now`, as ISO 8601 writes it: +05:30."""
    text = now.astimezone(store_zone()).isoformat()
    return text[-6:] if text[-6] in "+-" else "+00:00"


def store_currency() -> str:
    if _store_currency is None:
        from pulsecrm.config import get_settings

        configure(get_settings().default_currency)
    assert _store_currency is not None
    return _store_currency


def _locale(currency: str) -> str:
    return LOCALE_BY_CURRENCY.get(currency, "en")


@cache
def _patterns(locale: str) -> tuple[NumberPattern, NumberPattern]:
    """The locale's currency pattern with paise/cents, and the same without."""
    with_cents = Locale.parse(locale).currency_formats["standard"]
    whole = copy.copy(with_cents)
    whole.frac_prec = (0, 0)
    return with_cents, whole


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def money(value: Any, currency: str | None = None) -> str:
    """₹3,52,961 or ₹1,499.50; a dash for no value."""
    amount = _decimal(value)
    if amount is None:
        return EMPTY
    code = (currency or store_currency()).upper()
    with_cents, whole = _patterns(_locale(code))
    pattern = whole if amount == amount.to_integral_value() else with_cents
    text: str = pattern.apply(amount, _locale(code), currency=code, currency_digits=False)
    return text


def number(value: Any) -> str:
    """12,34,567 in a rupee store, 1,234,567 elsewhere; a dash for no value."""
    amount = _decimal(value)
    if amount is None:
        return EMPTY
    return format_decimal(amount, locale=_locale(store_currency()))


def date_(value: datetime | date | str | None) -> str:
    """30 Nov 2026 (UTC). Takes ISO 8601 text too, as API-shaped summaries carry it."""
    if value is None:
        return EMPTY
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value
    return f"{value.day} {value:%b %Y}"


def datetime_(value: datetime | str | None) -> str:
    """30 Nov 2026, 14:05 UTC."""
    if value is None:
        return EMPTY
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    value = value.astimezone(UTC) if value.tzinfo else value
    return f"{date_(value)}, {value:%H:%M} UTC"


class Money(Decimal):
    """A sum that prints the way the store writes money and still compares and adds as a number,
    so `{{ total_spend }}` and `{% if total_spend > 5000 %}` both work in a message."""

    currency: str

    def __new__(cls, value: Any, currency: str | None = None) -> Money:
        made = super().__new__(cls, value)
        made.currency = (currency or store_currency()).upper()
        return made

    def __str__(self) -> str:
        return money(self, self.currency)


def _warm(currency: str) -> None:
    # Babel reads its locale data on first use (~100s of ms on a loaded machine); done at import,
    # not inside a message's render budget (campaigns.templates.MAX_RENDER_SECONDS).
    money(0, currency)
    format_decimal(0, locale=_locale(currency))


_warm("INR")
