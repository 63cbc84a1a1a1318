"""The dashboard's trends: orders, revenue, new customers and attributed revenue per store-time
day over 30 or 90 days, drawn on the server, with the numbers behind them."""

from __future__ import annotations

import html
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pulsecrm import formatting
from pulsecrm.db import utcnow
from tests.conftest import Web
from tests.factories import customer, order

KOLKATA = ZoneInfo("Asia/Kolkata")  # the store's zone in the tests' settings


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def _rows(page: str) -> dict[str, list[str]]:
    """The table behind the charts: day → [orders, revenue, new customers, attributed]."""
    table = page.split('data-testid="trends"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return {
        cells[0]: cells[1:]
        for cells in (
            [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
        )
    }


def _local(day_offset: int, hour: int, minute: int) -> datetime:
    today = utcnow().astimezone(KOLKATA).date()
    return datetime.combine(today - timedelta(days=day_offset), time(hour, minute), tzinfo=KOLKATA)


async def test_trends_count_each_store_day(web: Web) -> None:
    yesterday = formatting.date_(_local(1, 12, 0).date())
    before = formatting.date_(_local(2, 12, 0).date())
    people = [
        customer(external_id="a", created_at=_local(1, 0, 10).isoformat()),
        customer(external_id="b", created_at=_local(1, 23, 50).isoformat()),
        customer(external_id="c", created_at=_local(40, 9, 0).isoformat()),
    ]
    assert (await web.api.client.post("/api/v1/customers", json=people)).status_code == 201
    orders = [
        # 00:10 and 23:50 store time are the same store day, though UTC splits them.
        order(
            external_id="o1",
            customer_external_id="a",
            amount="1500.00",
            ordered_at=_local(1, 0, 10).isoformat(),
        ),
        order(
            external_id="o2",
            customer_external_id="b",
            amount="250.50",
            ordered_at=_local(1, 23, 50).isoformat(),
        ),
        order(
            external_id="o3",
            customer_external_id="b",
            amount="99.00",
            ordered_at=_local(2, 23, 59).isoformat(),
        ),
        order(
            external_id="o4",
            customer_external_id="c",
            amount="7000.00",
            ordered_at=_local(60, 12, 0).isoformat(),
        ),
    ]
    assert (await web.api.client.post("/api/v1/orders", json=orders)).status_code == 201

    page = await web.client.get("/")
    assert page.status_code == 200
    rows = _rows(page.text)
    assert len(rows) == 30
    assert rows[yesterday] == ["2", "₹1,750.50", "2", "₹0"]
    assert rows[before] == ["1", "₹99", "0", "₹0"]
    text = _text(page.text)
    assert "Last 30 days" in text
    assert "Orders 3 Revenue ₹1,849.50 New customers 2 Attributed revenue ₹0" in text
    titles = re.findall(r'<title id="trend-\d-title">([^<]+)</title>', page.text)
    assert titles == [
        "Orders per day",
        "Revenue per day",
        "New customers per day",
        "Attributed revenue per day",
    ]
    assert "Day (Asia/Kolkata)" in text
    y_ticks = re.findall(r'<text class="tick y"[^>]*>([^<]+)</text>', page.text)
    assert y_ticks[:3] == ["0", "1", "2"]  # orders per day reach 2
    assert '<a href="/?days=30" aria-current="page">30 days</a>' in page.text
    assert "<script>" not in page.text and "style=" not in page.text

    longer = await web.client.get("/", params={"days": "90"})
    rows = _rows(longer.text)
    assert len(rows) == 90
    assert rows[formatting.date_(_local(60, 12, 0).date())] == ["1", "₹7,000", "0", "₹0"]
    assert rows[formatting.date_(_local(40, 9, 0).date())][2] == "1"
    assert "Orders 4 Revenue ₹8,849.50 New customers 3" in _text(longer.text)
    assert '<a href="/?days=90" aria-current="page">90 days</a>' in longer.text


async def test_a_period_other_than_30_or_90_days_is_refused_naming_it(web: Web) -> None:
    for bad in ("7", "abc", "90.5"):
        page = await web.client.get("/", params={"days": bad})
        assert page.status_code == 422
        assert "days must be 30 or 90" in _text(page.text)
    api_like = await web.client.get("/", params={"days": "7"}, headers={"Accept": "application/json"})
    assert api_like.status_code == 422
    assert api_like.json()["error"]["details"][0]["loc"] == ["query", "days"]
