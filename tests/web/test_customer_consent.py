"""The customer page's consent: what a person reads, and the form that changes it."""

from __future__ import annotations

import html
import re

from tests.conftest import Web
from tests.factories import customer


def _text(page: str) -> str:
    """Roughly what a person reads: tags dropped, entities decoded, whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _selected(page: str, channel: str) -> str:
    select = re.search(rf'<select id="consent-{channel}".*?</select>', page, flags=re.S)
    assert select, f"no consent choice for {channel}"
    chosen = re.findall(r'<option value="([a-z_]+)" selected>', select.group(0))
    assert len(chosen) == 1, chosen
    return chosen[0]


async def test_the_page_shows_consent_per_channel_and_changes_it(web: Web) -> None:
    created = await web.api.client.post(
        "/api/v1/customers",
        json=customer(
            external_id="c1",
            email="asha@example.com",
            updated_at="2026-05-01T10:00:00+00:00",
            consent={"email": "opted_in"},
        ),
    )
    assert created.status_code == 201
    page = await web.client.get("/customers/c1")
    text = _text(page.text)
    assert "Marketing consent" in text
    assert "E-mail Opted in Opted out Unknown 1 May 2026, 10:00 UTC ingest" in text
    assert "SMS (no phone number: not reachable)" in text and "never stated" in text
    assert (_selected(page.text, "email"), _selected(page.text, "sms")) == ("opted_in", "unknown")

    saved = await web.form("/customers/c1/consent", {"email": "opted_in", "sms": "opted_out"})
    assert saved.status_code == 303 and saved.headers["location"] == "/customers/c1"
    page = await web.client.get("/customers/c1")
    assert (_selected(page.text, "email"), _selected(page.text, "sms")) == ("opted_in", "opted_out")
    text = _text(page.text)
    assert "ingest" in text  # e-mail was not changed, so it keeps its time and source
    assert f"user:{web.email}" in text
    consent = (await web.api.client.get("/api/v1/customers/c1")).json()["consent"]
    assert consent["sms"]["status"] == "opted_out" and consent["sms"]["source"] == f"user:{web.email}"
    assert consent["email"]["at"] == "2026-05-01T10:00:00Z"


async def test_a_bad_choice_is_refused_by_name(web: Web) -> None:
    await web.api.client.post("/api/v1/customers", json=customer(external_id="c1"))
    refused = await web.form("/customers/c1/consent", {"email": "maybe", "sms": "unknown"})
    assert refused.status_code == 422
    assert "choose opted in, opted out or unknown for email" in _text(refused.text)
    missing = await web.form("/customers/nobody/consent", {"email": "opted_in"})
    assert missing.status_code == 404


async def test_an_unsubscribed_customer_says_so_next_to_consent(web: Web) -> None:
    await web.api.client.post("/api/v1/customers", json=customer(external_id="c1", phone="+919800000001"))
    assert (await web.api.client.post("/api/v1/customers/c1/unsubscribe")).status_code == 200
    text = _text((await web.client.get("/customers/c1")).text)
    assert "no campaign reaches them, whatever the consent below says" in text
    assert text.count("unsubscribe") >= 2  # the source of both channels
