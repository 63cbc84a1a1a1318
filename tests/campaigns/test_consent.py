"""Launch leaves out, and counts once each, the unsubscribed, those without consent and those
with no address for the channel: customers whose consent came through API ingestion, CSV
import, the unsubscribe endpoint and the one-click link; SMS and e-mail; with "unknown"
messaged and not. No delivery exists (so none is `failed`) for anyone left out."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import pytest

from pulsecrm.customers import repository
from pulsecrm.customers.links import unsubscribe_url
from tests.conftest import Api, running_api
from tests.delivery.test_dispatcher import FakeVendor, dispatcher

Channel = Literal["email", "sms"]
EVERYONE = {"op": "and", "rules": []}


@dataclass(frozen=True)
class Person:
    """What a customer ends up as, written down independently of the code under test."""

    external_id: str
    n: int  # their addresses: p<n>@example.com and +91 98<n, 8 digits>
    email: str = "opted_in"
    sms: str = "opted_in"
    has_email: bool = True
    has_phone: bool = True
    unsubscribed: bool = False

    def left_out(self, channel: Channel, *, message_unknown: bool) -> str | None:
        """The first reason that applies, in the documented order; None = messaged."""
        if self.unsubscribed:
            return "unsubscribed"
        status = self.email if channel == "email" else self.sms
        if status == "opted_out" or (status == "unknown" and not message_unknown):
            return "no_consent"
        if not (self.has_email if channel == "email" else self.has_phone):
            return "no_address"
        return None

    def address(self, channel: Channel) -> str:
        return f"p{self.n}@example.com" if channel == "email" else f"+91 98{self.n:08d}"

    def contact(self) -> dict[str, str]:
        return ({"email": self.address("email")} if self.has_email else {}) | (
            {"phone": self.address("sms")} if self.has_phone else {}
        )

    def csv_contact(self) -> str:
        email, phone = self.contact().get("email", ""), self.contact().get("phone", "")
        return f"{email},{phone}"


PEOPLE = [
    # Through API ingestion: fields, a mapped attribute, none at all, missing addresses.
    Person("api-in", 1),
    Person("api-sms-out", 2, sms="opted_out"),
    Person("api-unknown", 3, email="unknown", sms="unknown"),
    Person("api-mapped-no", 4, email="opted_out", sms="opted_out"),
    Person("api-no-phone", 5, has_phone=False),
    Person("api-no-email-unknown", 6, email="unknown", sms="unknown", has_email=False),
    # Through a CSV import: columns, and the mapped attribute.
    Person("csv-in", 7),
    Person("csv-out", 8, email="opted_out", sms="opted_out"),
    Person("csv-mapped-yes-no-phone", 9, has_phone=False),
    # Through the unsubscribe endpoint and the one-click link.
    Person("unsub-all", 10, email="opted_out", sms="opted_out", unsubscribed=True),
    Person("unsub-sms", 11, sms="opted_out"),
    Person("link-email", 12, email="opted_out"),
    Person("unsub-all-no-phone", 13, email="opted_out", sms="opted_out", has_phone=False, unsubscribed=True),
]
BY_ID = {p.external_id: p for p in PEOPLE}


async def _load(api: Api) -> None:
    both_in = {"consent": {"email": "opted_in", "sms": "opted_in"}}
    ingested: list[tuple[str, dict[str, Any]]] = [
        ("api-in", both_in),
        ("api-sms-out", {"consent": {"email": "opted_in", "sms": "opted_out"}}),
        ("api-unknown", {}),
        ("api-mapped-no", {"attributes": {"marketing_opt_in": False}}),
        ("api-no-phone", both_in),
        ("api-no-email-unknown", {}),
        *((e, {"attributes": {"marketing_opt_in": True}}) for e in ("unsub-all", "unsub-sms", "link-email")),
        ("unsub-all-no-phone", {"attributes": {"marketing_opt_in": True}}),
    ]
    records = [
        {"external_id": e, "name": f"Person {e}"} | BY_ID[e].contact() | extra for e, extra in ingested
    ]
    response = await api.client.post("/api/v1/customers", json=records)
    assert response.status_code in (201, 202), response.text
    await api.drain()

    csv = "\n".join(
        [
            "external_id,name,email,phone,consent.email,consent.sms,attributes.marketing_opt_in",
            f"csv-in,G,{BY_ID['csv-in'].csv_contact()},opted_in,opted_in,",
            f"csv-out,H,{BY_ID['csv-out'].csv_contact()},opted_out,opted_out,",
            f"csv-mapped-yes-no-phone,I,{BY_ID['csv-mapped-yes-no-phone'].csv_contact()},,,true",
        ]
    )
    imported = await api.client.post(
        "/api/v1/import/customers", content=csv.encode(), headers={"Content-Type": "text/csv"}
    )
    assert orjson.loads(imported.text.splitlines()[-1])["written"] == 3, imported.text

    for path, params in [
        ("/api/v1/customers/unsub-all/unsubscribe", {}),
        ("/api/v1/customers/unsub-sms/unsubscribe", {"channel": "sms"}),
        ("/api/v1/customers/unsub-all-no-phone/unsubscribe", {}),
    ]:
        assert (await api.client.post(path, params=params)).status_code == 200
    async with api.services.db.sessions() as session:
        linked = await repository.get_customer(session, "link-email")
        assert linked is not None
        link = unsubscribe_url(api.services.settings, linked.id, "email")
    clicked = await api.client.post(
        "/u/" + link.rsplit("/u/", 1)[1],
        headers={"Authorization": ""},
        data={"List-Unsubscribe": "One-Click"},
    )
    assert clicked.status_code == 200


@pytest.fixture(params=["inline", "stream"])
async def mode(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("redis_prefix") if request.param == "stream" else None


@pytest.fixture(params=[True, False], ids=["unknown-messaged", "opt-in-only"])
async def consent_api(
    request: pytest.FixtureRequest, database_url: str, mode: str | None
) -> AsyncIterator[Api]:
    async with running_api(database_url, mode, message_unknown_consent=request.param) as api:
        yield api


async def test_launch_leaves_out_and_counts_each_reason(consent_api: Api) -> None:
    api = consent_api
    message_unknown = api.services.settings.message_unknown_consent
    await _load(api)
    stored = {
        c["external_id"]: (c["consent"]["email"]["status"], c["consent"]["sms"]["status"])
        for c in (await api.client.get("/api/v1/customers", params={"limit": 100})).json()["items"]
    }
    assert stored == {p.external_id: (p.email, p.sms) for p in PEOPLE}

    campaigns: dict[Channel, tuple[int, list[str]]] = {}
    channels: tuple[Channel, ...] = ("sms", "email")
    for channel in channels:
        body = {
            "name": f"All by {channel}",
            "channel": channel,
            "message": "Hi {{ first_name }}",
            "rules": EVERYONE,
        }
        if channel == "email":
            body["subject"] = "News"
        created = await api.client.post("/api/v1/campaigns", json=body)
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        launched = await api.client.post(f"/api/v1/campaigns/{campaign_id}/launch")
        assert launched.status_code == 202, launched.text
        stats = launched.json()["stats"]

        reasons = Counter(p.left_out(channel, message_unknown=message_unknown) for p in PEOPLE)
        expected_in = sorted(
            p.external_id for p in PEOPLE if p.left_out(channel, message_unknown=message_unknown) is None
        )
        assert {
            "audience": stats["audience"],
            "unsubscribed": stats["unsubscribed_excluded"],
            "no_consent": stats["no_consent_excluded"],
            "no_address": stats["unreachable_excluded"],
        } == {
            "audience": len(expected_in),
            "unsubscribed": reasons["unsubscribed"],
            "no_consent": reasons["no_consent"],
            "no_address": reasons["no_address"],
        }, (channel, message_unknown)
        assert sum(reasons.values()) == len(PEOPLE)  # each counted once
        log = (
            await api.client.get(f"/api/v1/campaigns/{campaign_id}/deliveries", params={"limit": 100})
        ).json()
        assert sorted(d["customer_external_id"] for d in log["items"]) == expected_in, channel
        campaigns[channel] = (campaign_id, expected_in)

    # Send both: exactly the reachable are messaged, at their address, and nothing fails.
    vendor = FakeVendor()
    sender = dispatcher(api, vendor)
    try:
        while await sender.run_once():
            pass
    finally:
        await sender.close()
    sent = [m for call in vendor.calls for m in call]
    for channel, (campaign_id, expected_in) in campaigns.items():
        to = sorted(m["to"] for m in sent if m["channel"] == channel)
        assert to == sorted(BY_ID[e].address(channel) for e in expected_in), channel
        log = (
            await api.client.get(f"/api/v1/campaigns/{campaign_id}/deliveries", params={"limit": 100})
        ).json()
        assert {d["status"] for d in log["items"]} == {"sent"}, log
        failed = await api.client.get(
            f"/api/v1/campaigns/{campaign_id}/deliveries", params={"status": "failed"}
        )
        assert failed.json()["items"] == []
