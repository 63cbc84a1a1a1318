"""A worker writes a batch as two transactions at once (`Ingestor.write_items`); `partition`
splits it so that they never share a customer, and the versions of one order stay together."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pulsecrm.customers.schemas import CustomerIn, OrderIn
from pulsecrm.ingest.writer import Entry, partition

BASE = datetime(2025, 1, 1, tzinfo=UTC)
customer_ids = st.sampled_from([f"c{i}" for i in range(6)])
order_ids = st.sampled_from([f"o{i}" for i in range(6)])
moments = st.integers(0, 5).map(lambda s: BASE + timedelta(seconds=s))


@st.composite
def entries(draw: st.DrawFn) -> list[Entry]:
    out = []
    for n in range(draw(st.integers(1, 12))):
        received = BASE + timedelta(seconds=n)
        if draw(st.booleans()):
            records: list[CustomerIn | OrderIn] = [
                CustomerIn(external_id=c, name="A")
                for c in draw(st.lists(customer_ids, min_size=1, max_size=3))
            ]
            out.append(Entry("customers", received, records))
        else:
            records = [
                OrderIn(
                    external_id=draw(order_ids),
                    customer_external_id=draw(customer_ids),
                    amount="1.00",
                    ordered_at=BASE,
                    updated_at=draw(st.none() | moments),
                )
                for _ in range(draw(st.integers(1, 3)))
            ]
            out.append(Entry("orders", received, records))
    return out


def _newest_customer(batch: list[Entry], order_id: str) -> str:
    """The customer of the order's newest version: highest version, the later arrival on a tie."""
    versions = [
        (r.updated_at or e.received_at, n, r.customer_external_id)
        for n, e in enumerate(batch)
        for r in e.records
        if type(r) is OrderIn and r.external_id == order_id
    ]
    return max(versions)[2]


@given(entries(), st.integers(1, 3))
def test_parts_share_no_customer_and_keep_an_orders_versions_together(batch: list[Entry], parts: int) -> None:
    split = partition(batch, parts)
    assert 1 <= len(split) <= parts
    owners: dict[str, int] = {}  # customer -> the part that writes them
    orders: dict[str, int] = {}
    for number, part in enumerate(split):
        for entry in part:
            for record in entry.records:
                if type(record) is OrderIn:
                    assert orders.setdefault(record.external_id, number) == number
                    owner = _newest_customer(batch, record.external_id)
                else:
                    owner = record.external_id
                assert owners.setdefault(owner, number) == number
    # Nothing lost or doubled, and each part keeps the batch's arrival order.
    assert Counter(id(r) for p in split for e in p for r in e.records) == Counter(
        id(r) for e in batch for r in e.records
    )
    for part in split:
        assert [e.received_at for e in part] == sorted(e.received_at for e in part)
