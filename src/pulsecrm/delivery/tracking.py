"""Tracked links and the open pixel, at send time: every http(s) URL a rendered message carries
becomes `{PULSECRM_PUBLIC_URL}/r/<token>`, and an e-mail's HTML part gets a 1x1 image at
`/o/<token>.gif` (tokens: `delivery.tokens`). `delivery.redirects` answers both.

The distinct URLs of a batch are stored once per campaign (`tracked_links`, one upsert per batch
for those this process has not seen yet) and named by id in the tokens. Our own addresses under
`/u/` (unsubscribe), `/r/` and `/o/` are left as they are. `PULSECRM_TRACK_LINKS=false` sends
messages as rendered.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.config import Settings
from pulsecrm.db import Database
from pulsecrm.delivery import store, tokens
from pulsecrm.delivery.channels import OutboundMessage

# A URL ends at white space, quotes, angle brackets or a control character; trailing punctuation
# is the sentence's ("see https://x.example/sale."), unless a parenthesis closes one it opened.
URL = re.compile(r"""https?://[^\s<>"'\x00-\x1f\x7f]+""", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}*"
MAX_URL = 4000  # longer than any real link; left untracked rather than stored
CACHE_SIZE = 100_000


def _trim(url: str) -> str:
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every http(s) URL in `text`, in order."""
    found = []
    for match in URL.finditer(text):
        url = _trim(match.group())
        if "://" in url and len(url.split("://", 1)[1]) > 0:
            found.append((match.start(), match.start() + len(url), url))
    return found


def html_of(text: str, *, links: Mapping[str, str] | None = None, pixel: str | None = None) -> str:
    """A minimal HTML part for a plain-text message: escaped, paragraphs and line breaks kept;
    URLs in `links` become anchors to their tracked address (the text still shows the original),
    and `pixel` is the open pixel's address, appended as a 1x1 image."""

    def escape(chunk: str) -> str:
        if not links:
            return html.escape(chunk)
        out, last = [], 0
        for start, end, url in find_urls(chunk):
            target = links.get(url)
            if target is None:
                continue
            out += [html.escape(chunk[last:start]), f'<a href="{html.escape(target)}">{html.escape(url)}</a>']
            last = end
        out.append(html.escape(chunk[last:]))
        return "".join(out)

    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = "\n".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    if pixel is not None:
        body += (
            f'\n<img src="{html.escape(pixel)}" width="1" height="1" alt="" '
            'style="display:block;border:0;width:1px;height:1px">'
        )
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>\n'


class LinkTracker:
    """Rewrites a batch of rendered messages; remembers (campaign, URL) -> link id in-process."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.enabled = settings.track_links
        self.base = settings.public_url.rstrip("/")
        self.key = tokens.key_for(settings)
        self._ours = tuple(f"{self.base}/{p}/" for p in ("u", "r", "o"))
        self._ids: dict[tuple[int, str], int] = {}

    def trackable(self, url: str) -> bool:
        return len(url) <= MAX_URL and not url.startswith(self._ours)

    def click_url(self, campaign_id: int, delivery_id: int, link_id: int) -> str:
        return f"{self.base}/r/{tokens.make(self.key, campaign_id, delivery_id, link_id)}"

    def pixel_url(self, campaign_id: int, delivery_id: int) -> str:
        return f"{self.base}/o/{tokens.make(self.key, campaign_id, delivery_id, 0)}.gif"

    async def link_ids(self, campaign_id: int, urls: Iterable[str]) -> dict[str, int]:
        """The link id of each URL of the campaign, storing the ones this process has not seen
        (one statement for all of them)."""
        wanted = set(urls)
        missing = sorted(u for u in wanted if (campaign_id, u) not in self._ids)
        if missing:

            async def work(conn: AsyncConnection) -> dict[str, int]:
                return await store.upsert_links(conn, campaign_id=campaign_id, urls=missing)

            stored = await self.db.write(work)
            if len(self._ids) + len(stored) > CACHE_SIZE:
                self._ids.clear()  # old campaigns' links; a miss costs one upsert per batch
            self._ids.update(((campaign_id, url), link_id) for url, link_id in stored.items())
        return {u: self._ids[(campaign_id, u)] for u in wanted}

    async def track(self, messages: Sequence[OutboundMessage]) -> list[OutboundMessage]:
        """The messages with their links tracked and, for e-mail, an HTML part with the pixel."""
        if not self.enabled:
            return list(messages)
        found = [[f for f in find_urls(m.body) if self.trackable(f[2])] for m in messages]
        by_campaign: dict[int, set[str]] = {}
        for message, urls in zip(messages, found, strict=True):
            by_campaign.setdefault(message.campaign_id, set()).update(u for _, _, u in urls)
        ids = {cid: await self.link_ids(cid, urls) for cid, urls in by_campaign.items() if urls}
        out = []
        for message, urls in zip(messages, found, strict=True):
            if not urls and message.channel != "email":
                out.append(message)  # nothing to track: as rendered
                continue
            links = {
                url: self.click_url(message.campaign_id, message.delivery_id, ids[message.campaign_id][url])
                for _, _, url in urls
            }
            body = _replace(message.body, urls, links.__getitem__) if urls else message.body
            page = None
            if message.channel == "email":
                pixel = self.pixel_url(message.campaign_id, message.delivery_id)
                page = html_of(message.body, links=links, pixel=pixel)
            out.append(dataclasses.replace(message, body=body, html=page))
        return out


def tracked_length(text: str, settings: Settings) -> int:
    """How long `text` will be once its links are tracked (for SMS previews: parts cost money)."""
    if not settings.track_links:
        return len(text)
    base = settings.public_url.rstrip("/")
    ours = tuple(f"{base}/{p}/" for p in ("u", "r", "o"))
    # The longest token the ids of a store make (`tokens`): the preview errs on the long side.
    tracked = len(f"{base}/r/") + 22
    return len(text) + sum(
        tracked - (end - start)
        for start, end, url in find_urls(text)
        if len(url) <= MAX_URL and not url.startswith(ours)
    )


def _replace(text: str, urls: list[tuple[int, int, str]], target: Callable[[str], str]) -> str:
    out, last = [], 0
    for start, end, url in urls:
        out += [text[last:start], target(url)]
        last = end
    out.append(text[last:])
    return "".join(out)
