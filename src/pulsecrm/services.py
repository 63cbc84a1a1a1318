"""The long-lived objects a process holds: database, Redis, ingestor, key verifier."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from pulsecrm import broker, metrics
from pulsecrm.auth.service import ApiKeyVerifier
from pulsecrm.auth.users import UserVerifier
from pulsecrm.config import Settings
from pulsecrm.db import Database
from pulsecrm.deadletters.service import Replayer
from pulsecrm.delivery.channels import Channel, ChannelName
from pulsecrm.delivery.channels.registry import build_channels
from pulsecrm.delivery.service import EngagementBuffer, ReceiptQueue
from pulsecrm.ingest.service import Ingestor
from pulsecrm.segments import shelf
from pulsecrm.segments.catalog import CatalogCache
from pulsecrm.segments.engine import AudienceEngine
from pulsecrm.segments.shelf import Shelf


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: aioredis.Redis | None
    ingestor: Ingestor
    api_keys: ApiKeyVerifier
    users: UserVerifier
    catalog: CatalogCache
    receipts: ReceiptQueue
    audience: AudienceEngine
    # Clicks and opens this process saw, written in batches (`delivery.redirects`).
    engagement: EngagementBuffer
    # Per stream, how a dead letter is submitted again.
    replayers: dict[str, Replayer] = field(default_factory=dict)
    persistence: broker.Persistence | None = None  # read at start in stream mode
    # The vendor's HTTP transport for one-off sends (a test send): None is the network; tests
    # put an httpx.MockTransport here, as they pass one to the dispatcher.
    channel_transport: httpx.AsyncBaseTransport | None = None

    def __post_init__(self) -> None:
        self.replayers = {"ingest": self.ingestor.replay, "receipts": self.receipts.replay}

    def open_channels(self) -> dict[ChannelName, Channel]:
        """The channels as the dispatcher builds them, for a send outside it; close them after."""
        return build_channels(self.settings, transport=self.channel_transport)

    @classmethod
    def start(cls, settings: Settings) -> Services:
        db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
        metrics.watch_pool(db.engine)
        redis = broker.connect(settings.redis_url) if settings.redis_url else None
        catalog = CatalogCache()
        receipts = ReceiptQueue(db, redis, settings)
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            ingestor=Ingestor(db, redis, settings),
            api_keys=ApiKeyVerifier(settings.api_key_cache_seconds, settings.api_key_grace_seconds),
            users=UserVerifier(settings.api_key_cache_seconds, settings.api_key_grace_seconds),
            catalog=catalog,
            receipts=receipts,
            engagement=EngagementBuffer(receipts, settings),
            audience=AudienceEngine(
                db,
                catalog,
                enabled=settings.audience_engine,
                max_lag_seconds=settings.audience_max_lag_seconds,
                poll_seconds=settings.audience_poll_seconds,
                shelf=_shelf(settings, db),
            ),
        )

    async def close(self) -> None:
        await self.audience.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


def _shelf(settings: Settings, db: Database) -> Shelf | None:
    """Where this machine's processes share the audience snapshot (None: not shared)."""
    if not settings.audience_engine or not settings.audience_share_dir:
        return None
    where = settings.audience_share_dir
    directory = shelf.default_directory() if where == "auto" else Path(where)
    # One database's files apart from another's (a file is also checked against its database
    # before it is mapped: this only keeps the names apart).
    url = db.engine.url.render_as_string(hide_password=True)
    return Shelf.open(directory, hashlib.sha256(url.encode()).hexdigest()[:16])
