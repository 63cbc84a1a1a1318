"""A demo data set: a few thousand customers across Indian cities, with orders, dated relative to
the day it is loaded (so "ordered in the last 30 days" and "joined this month" match people on
first use). The same seed and day give the same data."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from pulsecrm.customers.schemas import ConsentIn, CustomerIn, OrderIn
from pulsecrm.db import Database, utcnow
from pulsecrm.ingest.writer import ConsentAttributes, Entry, write_batch

FIRST = [
    "Aarav",
    "Vivaan",
    "Aditya",
    "Vihaan",
    "Arjun",
    "Sai",
    "Reyansh",
    "Krishna",
    "Ishaan",
    "Rohan",
    "Ananya",
    "Diya",
    "Aadhya",
    "Saanvi",
    "Pari",
    "Anika",
    "Navya",
    "Meera",
    "Priya",
    "Kavya",
    "Neha",
    "Rahul",
    "Vikram",
    "Sneha",
    "Pooja",
    "Amit",
    "Riya",
    "Karan",
    "Tara",
    "Nisha",
    "Dev",
    "Zara",
    "Kabir",
    "Ira",
    "Farhan",
    "Sara",
    "Joseph",
    "Maria",
]
LAST = [
    "Sharma",
    "Verma",
    "Iyer",
    "Nair",
    "Reddy",
    "Patel",
    "Shah",
    "Mehta",
    "Gupta",
    "Singh",
    "Kapoor",
    "Das",
    "Banerjee",
    "Joshi",
    "Kulkarni",
    "Menon",
    "Pillai",
    "Rao",
    "Chopra",
    "Malhotra",
    "Khan",
    "D'Souza",
    "Fernandes",
    "Bose",
    "Agarwal",
]
CITIES = [
    ("Mumbai", 18),
    ("Delhi", 16),
    ("Bengaluru", 15),
    ("Pune", 10),
    ("Hyderabad", 10),
    ("Chennai", 9),
    ("Kolkata", 8),
    ("Ahmedabad", 6),
    ("Jaipur", 4),
    ("Kochi", 4),
]
TIERS = ["bronze", "silver", "gold", "platinum"]
SKUS = [
    ("TSHIRT", 599),
    ("JEANS", 1899),
    ("KURTA", 1299),
    ("SNEAKERS", 3499),
    ("WATCH", 4999),
    ("SAREE", 2999),
    ("BAG", 1599),
    ("PERFUME", 899),
    ("HEADPHONES", 2499),
    ("JACKET", 3999),
]


def generate(
    customers: int = 3000, seed: int = 7, now: datetime | None = None
) -> tuple[list[CustomerIn], list[OrderIn]]:
    rng = random.Random(seed)
    # Consent and missing phones draw from their own generator, so the rest stays as it was.
    reach = random.Random(seed + 1)
    now = (now or utcnow()).replace(microsecond=0)
    cities = [c for c, _ in CITIES]
    weights = [w for _, w in CITIES]
    people: list[CustomerIn] = []
    orders: list[OrderIn] = []
    for n in range(1, customers + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        joined = now - timedelta(days=rng.randint(1, 900), minutes=rng.randint(0, 1440))
        phone = f"+91 9{rng.randint(100000000, 999999999)}"
        # `marketing_opt_in` is consent for both channels (the default PULSECRM_CONSENT_ATTRIBUTES);
        # on top, some said no to texts only, and a few never gave a phone number.
        texts = reach.random()
        people.append(
            CustomerIn(
                external_id=f"C{n:05d}",
                name=f"{first} {last}",
                email=f"{first}.{last}{n}@example.com".lower().replace("'", ""),
                phone=None if texts < 0.05 else phone,
                city=rng.choices(cities, weights)[0],
                attributes={
                    "tier": rng.choices(TIERS, [50, 30, 15, 5])[0],
                    "marketing_opt_in": rng.random() < 0.8,
                    "visits": rng.randint(0, 60),
                },
                created_at=joined,
                consent=ConsentIn(sms="opted_out") if 0.05 <= texts < 0.15 else None,
            )
        )
        # A long tail: many one-time buyers, some loyal customers, a few who never bought.
        count = min(int(rng.paretovariate(1.3)) - 1 + (rng.random() < 0.85), 40)
        for k in range(count):
            placed = joined + timedelta(
                minutes=rng.randint(0, max(int((now - joined).total_seconds() // 60), 1))
            )
            lines = rng.sample(SKUS, rng.randint(1, 3))
            quantities = [rng.randint(1, 2) for _ in lines]
            items = [
                {"sku": sku, "quantity": q, "unit_price": Decimal(price)}
                for (sku, price), q in zip(lines, quantities, strict=True)
            ]
            amount = sum(
                (Decimal(price) * q for (_, price), q in zip(lines, quantities, strict=True)), Decimal(0)
            )
            orders.append(
                OrderIn.model_validate(
                    {
                        "external_id": f"O{n:05d}-{k + 1:02d}",
                        "customer_external_id": f"C{n:05d}",
                        "amount": amount,
                        "ordered_at": placed,
                        "items": items,
                    }
                )
            )
    return people, orders


async def load(
    db: Database,
    *,
    customers: int = 3000,
    currency: str = "INR",
    consent_attributes: ConsentAttributes,
    now: datetime | None = None,
) -> tuple[int, int]:
    people, orders = generate(customers, now=now)
    received = utcnow()
    for i in range(0, len(people), 2000):
        entry = Entry("customers", received, people[i : i + 2000], source="demo")
        await write_batch(db, [entry], default_currency=currency, consent_attributes=consent_attributes)
    for i in range(0, len(orders), 2000):
        entry = Entry("orders", received, orders[i : i + 2000], source="demo")
        await write_batch(db, [entry], default_currency=currency, consent_attributes=consent_attributes)
    return len(people), len(orders)
