"""`GET /r/{token}` (a tracked link: count the click, 302 to its URL) and `GET /o/{token}.gif`
(the open pixel: count the open, answer a transparent 1x1 GIF): open routes, the token is the
credential (`delivery.tokens`).

These are the hottest addresses Pulse has (every recipient's every click), so they are answered
by a small pure-ASGI layer in front of the app's session, limits and outage middleware, which
they do not need: no database read and no Redis round trip per request. The token is checked
in memory; the link's URL and campaign come from an in-process LRU cache (one read on a miss);
the click goes into `EngagementBuffer`, written in batches. A token that is not one of ours, or
whose link is not of its campaign, is a small 404 page, never a redirect: only URLs stored for
the campaign of the message can ever be a target. Same security headers as every page.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections import OrderedDict
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from pulsecrm import metrics
from pulsecrm.db import Database
from pulsecrm.delivery import store, tokens
from pulsecrm.failures import Failure, classify
from pulsecrm.web.security import SECURITY_HEADERS

if TYPE_CHECKING:
    from pulsecrm.services import Services

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NOT_FOUND = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Link not found</title></head>'
    b"<body><h1>This link does not work</h1><p>It may have been copied incompletely.</p></body></html>\n"
)
# Never cached (every click and open must reach us), never passed on as a Referer.
_PRIVATE = (
    (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-robots-tag", b"noindex"),
)
_NOT_FOUND_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(len(NOT_FOUND)).encode()),
    *_PRIVATE,
    *SECURITY_HEADERS,
]
_PIXEL_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(PIXEL)).encode()),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
    *_PRIVATE,
    *SECURITY_HEADERS,
]
_REDIRECT_HEADERS = [(b"content-length", b"0"), *_PRIVATE, *SECURITY_HEADERS]
_UNAVAILABLE = b"The service is unavailable; try again shortly.\n"
# Reserved and unreserved characters stay as they are; the rest (non-ASCII, spaces) is encoded.
_SAFE = ":/?#[]@!$&'()*+,;=%~-._"
CACHE_SIZE = 10_000


def location(url: str) -> bytes:
    """A stored URL as a Location header: a non-ASCII host in IDNA, the rest percent-encoded."""
    if not url.isascii():
        parts = urlsplit(url)
        userinfo, at, hostport = parts.netloc.rpartition("@")
        host, colon, port = hostport.partition(":")
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
        url = urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}{colon}{port}"))
    return quote(url, safe=_SAFE).encode("ascii")


class LinkCache:
    """Link id -> (campaign id, the Location header's bytes), least recently used out first."""

    def __init__(self, db: Database, size: int = CACHE_SIZE) -> None:
        self.db = db
        self.size = size
        self._links: OrderedDict[int, tuple[int, bytes]] = OrderedDict()

    async def get(self, link_id: int) -> tuple[int, bytes] | None:
        found = self._links.get(link_id)
        if found is not None:
            self._links.move_to_end(link_id)
            return found
        async with self.db.engine.connect() as conn:
            row = await store.link_by_id(conn, link_id)
        if row is None:
            return None
        campaign_id, url = row
        found = (campaign_id, location(url))
        self._links[link_id] = found
        if len(self._links) > self.size:
            self._links.popitem(last=False)
        return found


class TrackedLinks:
    """The pure-ASGI layer: answers GET and HEAD under `/r/` and `/o/`, passes the rest on.

    Outermost of the app's own layers: the request id, access log line and outage guard are
    not needed here (requests are counted in the metrics all the same, when they are on)."""

    def __init__(self, app: ASGIApp, *, key: bytes, count: bool = True) -> None:
        self.app = app
        self.key = key
        self.count = count
        self.links: LinkCache | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path[:3] not in ("/r/", "/o/")
            or scope["method"] not in ("GET", "HEAD")
        ):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        head = scope["method"] == "HEAD"
        services: Services = scope["app"].state.services
        if path[1] == "r":
            status = await self._click(path[3:], services, send, head)
        else:
            status = await self._open(path[3:], services, send, head)
        if self.count:
            metrics.request_done(
                "/r/{token}" if path[1] == "r" else "/o/{token}.gif", status, time.perf_counter() - start
            )

    async def _click(self, token: str, services: Services, send: Send, head: bool) -> int:
        tracked = tokens.read(self.key, token)
        if tracked is None or tracked.link_id == 0:
            return await _answer(send, 404, _NOT_FOUND_HEADERS, NOT_FOUND, head)
        if self.links is None or self.links.db is not services.db:  # a new lifespan, a new pool
            self.links = LinkCache(services.db)
        try:
            link = await self.links.get(tracked.link_id)
        except Exception as exc:
            if classify(exc) is not Failure.OUTAGE:
                raise
            return await _unavailable(send, services.settings.outage_retry_after_seconds)
        # Only a URL stored for the campaign the message belongs to: never an open redirect.
        if link is None or link[0] != tracked.campaign_id:
            return await _answer(send, 404, _NOT_FOUND_HEADERS, NOT_FOUND, head)
        if not head:  # previews and scanners ask HEAD; a person's browser asks GET
            services.engagement.add(tracked.delivery_id, "clicked", tracked.link_id)
        return await _answer(send, 302, [(b"location", link[1]), *_REDIRECT_HEADERS], b"", head)

    async def _open(self, name: str, services: Services, send: Send, head: bool) -> int:
        tracked = tokens.read(self.key, name[:-4]) if name.endswith(".gif") else None
        if tracked is None or tracked.link_id != 0:
            return await _answer(send, 404, _NOT_FOUND_HEADERS, NOT_FOUND, head)
        if not head:
            services.engagement.add(tracked.delivery_id, "opened")
        return await _answer(send, 200, _PIXEL_HEADERS, PIXEL, head)


async def _answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, head: bool
) -> int:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
    return status


async def _unavailable(send: Send, retry_after: int) -> int:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(_UNAVAILABLE)).encode()),
        (b"retry-after", str(retry_after).encode()),
        *_PRIVATE,
        *SECURITY_HEADERS,
    ]
    return await _answer(send, 503, headers, _UNAVAILABLE, False)
