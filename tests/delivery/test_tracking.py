"""Tracked links and the open pixel, through the API: messages carry `/r/<token>` instead of their
links (and e-mails a pixel), a click redirects to the stored URL and counts once per customer,
and nothing that is not exactly one of our tokens, for a link of its own campaign, redirects."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from pulsecrm.delivery import tokens
from pulsecrm.delivery.models import EngagementEvent, TrackedLink
from pulsecrm.delivery.tracking import find_urls
from pulsecrm.web.security import CONTENT_SECURITY_POLICY
from tests.conftest import Api, running_api
from tests.delivery.smtp_server import Recorder, smtp_server
from tests.delivery.test_dispatcher import FakeVendor, dispatcher

PUBLIC = "https://pulse.example"
UNSUBSCRIBE = f"{PUBLIC}/u/1.sms.signature"
MESSAGE = (
    "Hi {{ first_name }}! Sale: https://shop.example/sale?utm=sms&x=1. New in "
    "(https://shop.example/new) and https://shop.example/sale?utm=sms&x=1 again. "
    f"Stop: {UNSUBSCRIBE}"
)
TOKEN = re.compile(re.escape(PUBLIC) + r"/r/([A-Za-z0-9_-]+)")


async def _campaign(api: Api, *, people: int = 3, message: str = MESSAGE, tag: str = "c") -> int:
    customers = [
        {"external_id": f"{tag}{i}", "name": f"Person{i} X", "phone": f"+91 90000 1{i:04d}"}
        for i in range(people)
    ]
    assert (await api.client.post("/api/v1/customers", json=customers)).status_code in (201, 202)
    await api.drain()
    body = {"name": f"Links {tag}", "message": message, "rules": {"op": "and", "rules": []}}
    if tag != "c":
        body["rules"] = {"op": "and", "rules": [{"field": "external_id", "cmp": "starts_with", "value": tag}]}
    cid = int((await api.client.post("/api/v1/campaigns", json=body)).json()["id"])
    assert (await api.client.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
    return cid


async def _send(api: Api, vendor: FakeVendor | None = None) -> list[dict[str, Any]]:
    """Send what is due through a fake vendor; the messages it got."""
    vendor = vendor or FakeVendor()
    d = dispatcher(api, vendor)
    try:
        while await d.run_once():
            pass
    finally:
        await d.close()
    return [m for call in vendor.calls for m in call]


async def _flush(api: Api) -> None:
    """Write the clicks and opens the app buffered, as its flusher would, and apply them."""
    await api.services.engagement.flush()
    await api.drain()


async def _stats(api: Api, cid: int) -> dict[str, Any]:
    return dict((await api.client.get(f"/api/v1/campaigns/{cid}")).json()["stats"])


async def _events(api: Api) -> list[tuple[int, str, int]]:
    async with api.services.db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(EngagementEvent.delivery_id, EngagementEvent.kind, EngagementEvent.link_id)
        )
        return sorted((int(d), str(k), int(link)) for d, k, link in rows)


def _anonymous(api: Api) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://testserver")


@pytest.fixture(params=["inline", "stream"])
async def tracked_api(request: pytest.FixtureRequest, database_url: str) -> Any:
    prefix = request.getfixturevalue("redis_prefix") if request.param == "stream" else None
    async with running_api(database_url, prefix, public_url=PUBLIC) as api:
        yield api


# --- the token ---------------------------------------------------------------------------------


def test_tokens_are_short_and_exact() -> None:
    key = b"k" * 32
    token = tokens.make(key, 1234, 98_765_432, 4321)
    assert len(token) <= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert tokens.read(key, token) == tokens.Tracked(1234, 98_765_432, 4321)
    assert tokens.read(b"x" * 32, token) is None  # another key: forged
    for i in range(len(token)):  # any one character changed
        for c in "AQgw_-9z":
            altered = token[:i] + c + token[i + 1 :]
            if altered != token:
                assert tokens.read(key, altered) is None, (i, c)
    for n in range(len(token)):  # truncated, or grown
        assert tokens.read(key, token[:n]) is None
    assert tokens.read(key, token + "A") is None
    assert tokens.read(key, token + "=") is None
    assert tokens.read(key, "é" + token) is None
    assert tokens.read(key, "") is None
    assert len(tokens.make(key, 2**40, 2**61, 2**50)) <= tokens.MAX_LENGTH


def test_links_are_found_without_their_sentence() -> None:
    text = "a https://x.example/a. b (https://x.example/b) c https://x.example/w_(x) d HTTP://X.example/e, e"
    assert [u for _, _, u in find_urls(text)] == [
        "https://x.example/a",
        "https://x.example/b",
        "https://x.example/w_(x)",
        "HTTP://X.example/e",
    ]


# --- sending ------------------------------------------------------------------------------------


async def test_sms_links_are_tracked_and_the_unsubscribe_link_is_left_alone(tracked_api: Api) -> None:
    api = tracked_api
    await _campaign(api)
    sent = await _send(api)
    assert len(sent) == 3
    for m in sent:
        body = m["body"]
        assert "shop.example" not in body
        assert body.endswith(f"Stop: {UNSUBSCRIBE}")  # ours, not rewritten
        found = TOKEN.findall(body)
        assert len(found) == 3
        assert len(set(found)) == 2  # the same URL twice: the same link
        assert all(len(t) <= 22 for t in found)
        assert "(" + PUBLIC in body and ". New in" in body  # the sentence's punctuation stays
    async with api.services.db.engine.connect() as conn:
        stored = sorted((await conn.execute(sa.select(TrackedLink.url))).scalars())
    assert stored == ["https://shop.example/new", "https://shop.example/sale?utm=sms&x=1"]


async def test_tracking_can_be_turned_off(database_url: str) -> None:
    async with running_api(database_url, public_url=PUBLIC, track_links=False) as api:
        await _campaign(api)
        sent = await _send(api)
    assert {m["body"].split("!")[1] for m in sent} == {MESSAGE.split("!")[1]}


# --- clicking -----------------------------------------------------------------------------------


async def test_a_click_redirects_and_counts_once_per_customer(tracked_api: Api) -> None:
    api = tracked_api
    cid = await _campaign(api)
    sent = await _send(api)
    first, second = TOKEN.findall(sent[0]["body"])[:2], TOKEN.findall(sent[1]["body"])[0]
    async with _anonymous(api) as browser:
        for _ in range(3):  # the same link clicked again, and the customer's other link
            answer = await browser.get(f"/r/{first[0]}")
            assert answer.status_code == 302, answer.text
            assert answer.headers["location"] == "https://shop.example/sale?utm=sms&x=1"
            assert answer.headers["cache-control"].startswith("no-store")
        assert (await browser.get(f"/r/{first[1]}")).headers["location"] == "https://shop.example/new"
        assert (await browser.get(f"/r/{second}")).status_code == 302
        assert (await browser.head(f"/r/{second}")).status_code == 302  # a preview: not a click
    await _flush(api)
    stats = await _stats(api, cid)
    assert (stats["clicked"], stats["opened"]) == (2, 2)
    events = await _events(api)
    assert len(events) == 5 and {k for _, k, _ in events} == {"clicked"}
    # Clicked again later: another event, the same customers.
    async with _anonymous(api) as browser:
        assert (await browser.get(f"/r/{second}")).status_code == 302
    await _flush(api)
    assert len(await _events(api)) == 6
    stats = await _stats(api, cid)
    assert (stats["clicked"], stats["opened"]) == (2, 2)


def _is_plain_404(answer: httpx.Response) -> None:
    assert answer.status_code == 404, answer.text
    assert "location" not in answer.headers
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "does not work" in answer.text


async def test_forged_altered_and_truncated_tokens_are_404s(tracked_api: Api) -> None:
    api = tracked_api
    await _campaign(api)
    token = TOKEN.findall((await _send(api))[0]["body"])[0]
    real = tokens.read(tokens.key_for(api.services.settings), token)
    assert real is not None
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    forged = tokens.make(b"not our key" * 3, real.campaign_id, real.delivery_id, real.link_id)
    async with _anonymous(api) as browser:
        for bad in (forged, flipped, token[:-1], token[:10], token + "x", "nothing", "%00", f"{token}/x"):
            _is_plain_404(await browser.get(f"/r/{bad}"))
        _is_plain_404(await browser.get("/r/"))
    await _flush(api)
    assert await _events(api) == []


async def test_no_token_redirects_anywhere_but_its_own_campaigns_links(tracked_api: Api) -> None:
    api = tracked_api
    vendor = FakeVendor()  # one vendor: message ids stay unique
    mine = await _campaign(api, people=1, tag="a", message="Mine: https://shop.example/mine")
    await _send(api, vendor)
    await _campaign(api, people=1, tag="b", message="Theirs: https://elsewhere.example/theirs")
    await _send(api, vendor)
    key = tokens.key_for(api.services.settings)
    async with api.services.db.engine.connect() as conn:
        links = dict((await conn.execute(sa.select(TrackedLink.url, TrackedLink.id))).all())
        delivery = await conn.scalar(sa.text("SELECT id FROM deliveries WHERE campaign_id = :c"), {"c": mine})
    theirs = links["https://elsewhere.example/theirs"]
    async with _anonymous(api) as browser:
        # Correctly signed, but the link is another campaign's: no redirect.
        _is_plain_404(await browser.get(f"/r/{tokens.make(key, mine, delivery, theirs)}"))
        _is_plain_404(await browser.get(f"/r/{tokens.make(key, mine, delivery, 999_999)}"))  # no such link
        _is_plain_404(await browser.get(f"/r/{tokens.make(key, mine, delivery, 0)}"))  # the pixel's
        # A URL in the address is never a target.
        _is_plain_404(await browser.get("/r/https://evil.example/"))
        _is_plain_404(await browser.get("/r/https%3A%2F%2Fevil.example"))
        own = tokens.make(key, mine, delivery, links["https://shop.example/mine"])
        answer = await browser.get(f"/r/{own}?url=https://evil.example/&next=//evil.example")
        assert answer.headers["location"] == "https://shop.example/mine"
    await _flush(api)
    assert len(await _events(api)) == 1


# --- e-mail: the pixel and the HTML part, over SMTP -------------------------------------------------


def _parts(raw: bytes) -> tuple[str, str, Message]:
    mail = message_from_bytes(raw)
    plain = html = ""
    for part in mail.walk():
        payload = part.get_payload(decode=True)
        if part.get_content_type() == "text/plain":
            plain = bytes(payload).decode()  # type: ignore[arg-type]
        elif part.get_content_type() == "text/html":
            html = bytes(payload).decode()  # type: ignore[arg-type]
    return plain, html, mail


async def test_smtp_emails_carry_tracked_links_and_the_open_pixel(database_url: str) -> None:
    from pulsecrm.delivery.dispatcher import Dispatcher

    recorder = Recorder()
    smtp = {
        "email_transport": "smtp",
        "smtp_security": "none",
        "smtp_from": "Shop <news@shop.example>",
        "public_url": PUBLIC,
    }
    with smtp_server(recorder) as server:
        async with running_api(database_url, smtp_port=server.port, **smtp) as api:
            people = [
                {"external_id": f"m{i}", "name": f"Mail{i} X", "email": f"m{i}@example.com"} for i in range(2)
            ]
            assert (await api.client.post("/api/v1/customers", json=people)).status_code == 201
            body = {
                "name": "Mail",
                "channel": "email",
                "subject": "News",
                "message": "Hello {{ first_name }},\n\nSee <https://shop.example/a?b=1&c=2> & more.",
                "rules": {"op": "and", "rules": []},
            }
            cid = int((await api.client.post("/api/v1/campaigns", json=body)).json()["id"])
            assert (await api.client.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
            d = Dispatcher.build(api.services.db, api.services.settings, None)
            try:
                assert await d.run_once() == 2
            finally:
                await d.close()
            assert len(recorder.received) == 2
            plain, html, mail = _parts(recorder.received[0].raw)
            assert "shop.example" not in plain
            (click,) = TOKEN.findall(plain)
            # The HTML part links to the tracked address and shows the original.
            assert f'<a href="{PUBLIC}/r/{click}">https://shop.example/a?b=1&amp;c=2</a>' in html
            pixel = re.search(re.escape(PUBLIC) + r'/o/([A-Za-z0-9_-]+)\.gif" width="1" height="1"', html)
            assert pixel is not None
            # The one-click unsubscribe header is ours, untouched.
            assert str(mail["List-Unsubscribe"]).strip().startswith(f"<{PUBLIC}/u/")
            async with _anonymous(api) as browser:
                opened = await browser.get(f"/o/{pixel.group(1)}.gif")
                assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
                assert opened.content.startswith(b"GIF89a") and "no-store" in opened.headers["cache-control"]
                opened = await browser.get(f"/o/{pixel.group(1)}.gif")  # opened again: one customer
                _is_plain_404(await browser.get(f"/o/{pixel.group(1)[:-1]}.gif"))
                _is_plain_404(await browser.get(f"/o/{click}.gif"))  # a link's token is not an open
                _is_plain_404(await browser.get(f"/o/{pixel.group(1)}"))
            await _flush(api)
            stats = await _stats(api, cid)
            assert (stats["opened"], stats["clicked"]) == (1, 0)
            assert [k for _, k, _ in await _events(api)] == ["opened", "opened"]


async def test_the_sms_preview_counts_the_message_as_sent(database_url: str) -> None:
    message = "x" * 130 + " https://a.example/"
    tracked = 131 + len(f"{PUBLIC}/r/") + 22
    async with running_api(database_url, public_url=PUBLIC) as api:
        preview = (
            await api.client.post("/api/v1/campaigns/preview-message", json={"message": message})
        ).json()
        assert preview["message"] == message
        assert (preview["characters"], preview["sms_segments"]) == (tracked, 2)
    async with running_api(database_url, public_url=PUBLIC, track_links=False) as api:
        preview = (
            await api.client.post("/api/v1/campaigns/preview-message", json={"message": message})
        ).json()
        assert (preview["characters"], preview["sms_segments"]) == (len(message), 1)


async def test_clicks_waiting_in_memory_are_written_when_the_app_stops(database_url: str) -> None:
    from pulsecrm.db import Database

    # A flush interval longer than the test: only stopping can write them.
    async with running_api(database_url, public_url=PUBLIC, engagement_flush_seconds=10) as api:
        cid = await _campaign(api, people=2)
        token = TOKEN.findall((await _send(api))[0]["body"])[0]
        async with _anonymous(api) as browser:
            for _ in range(3):
                assert (await browser.get(f"/r/{token}")).status_code == 302
        assert api.services.engagement.waiting == 3
        assert await _events(api) == []
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            clicked = await conn.scalar(sa.text("SELECT clicked FROM campaigns WHERE id = :c"), {"c": cid})
            events = await conn.scalar(sa.select(sa.func.count()).select_from(EngagementEvent))
    finally:
        await db.dispose()
    assert (clicked, events) == (1, 3)


async def test_a_database_outage_on_an_uncached_link_is_a_503_not_a_redirect_or_500(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulsecrm.delivery import store

    async with running_api(sqlite_url, public_url=PUBLIC) as api:
        await _campaign(api, people=1)
        token = TOKEN.findall((await _send(api))[0]["body"])[0]

        async def away(*_: object) -> None:
            raise ConnectionRefusedError("the database is away")

        monkeypatch.setattr(store, "link_by_id", away)
        async with _anonymous(api) as browser:
            answer = await browser.get(f"/r/{token}")
        assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
        assert "location" not in answer.headers
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert api.services.engagement.waiting == 0


def test_a_stored_url_becomes_a_safe_location_header() -> None:
    from pulsecrm.delivery.redirects import location

    assert location("https://shop.example/a?b=1&c=%20#top") == b"https://shop.example/a?b=1&c=%20#top"
    assert location("https://münchen.example:8443/straße?q=ä") == (
        b"https://xn--mnchen-3ya.example:8443/stra%C3%9Fe?q=%C3%A4"
    )
    assert location("https://shop.example/a\\b|c") == b"https://shop.example/a%5Cb%7Cc"
