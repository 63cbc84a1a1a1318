"""API keys: created once (the secret is shown only then), stored as a hash, checked from a cache."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pulsecrm.auth.models import ApiKey
from pulsecrm.db import utcnow
from pulsecrm.errors import InvalidInput, NotFound
from pulsecrm.failures import Failure, classify

SCOPES = ("ingest", "read", "segments", "campaigns", "metrics")
# A key made without naming scopes gets these: reading /metrics is asked for by name.
DEFAULT_SCOPES = ("ingest", "read", "segments", "campaigns")
KEY_PREFIX = "pk_"
K = TypeVar("K")


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key now; a signed-in user once the web app lands."""

    kind: str
    id: int
    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # the whole key: shown once, never stored


def hash_key(secret: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; a slow one would only add latency.
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(
    session: AsyncSession, *, name: str, scopes: list[str] | None = None, user_id: int | None = None
) -> NewKey:
    # None means the default scopes (the CLI's); an empty list is a mistake, not "everything".
    chosen = sorted(set(DEFAULT_SCOPES if scopes is None else scopes))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise InvalidInput(
            f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}",
            details=[{"loc": ["scopes"], "message": "unknown scope"}],
        )
    if not name.strip():
        raise InvalidInput("a key needs a name", details=[{"loc": ["name"], "message": "empty"}])
    if not chosen:
        raise InvalidInput(
            "Choose at least one thing the key is allowed to do.",
            details=[{"loc": ["scopes"], "message": "no scope chosen"}],
        )
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name.strip(),
        prefix=prefix,
        key_hash=hash_key(secret),
        scopes=chosen,
        created_at=utcnow(),
        created_by_user_id=user_id,
    )
    session.add(key)
    await session.flush()
    return NewKey(key, secret)


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list(await session.scalars(sa.select(ApiKey).order_by(ApiKey.id.desc())))


async def revoke_key(session: AsyncSession, *, key_id: int) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    await session.flush()
    return key


class CachedPrincipals(Generic[K]):
    """Who a credential belongs to, asked of the database at most once per `ttl` seconds per
    credential. A change made through this process takes effect at once (`forget`); one made
    elsewhere within `ttl` seconds.

    While the database cannot be asked (an outage), a credential verified within the last
    `grace` seconds is still trusted, so what needs no database -- stream-mode ingestion --
    keeps working; a revoke made during the outage therefore takes up to `grace` seconds.
    Credentials never verified, or refused, are not helped by the grace.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float, grace: float = 0.0) -> None:
        self.ttl = ttl
        self.grace = grace
        # credential -> (trusted until, principal, last verified against the database)
        self._cache: dict[K, tuple[float, Principal | None, float]] = {}

    async def _lookup(self, key: K, load: Callable[[], Awaitable[Principal | None]]) -> Principal | None:
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            principal = await load()
        except Exception as exc:
            if (
                cached is not None
                and cached[1] is not None
                and now - cached[2] <= self.grace
                and classify(exc) is Failure.OUTAGE
            ):
                # Ask again after another `ttl`, not on every request of the outage.
                self._cache[key] = (now + self.ttl, cached[1], cached[2])
                return cached[1]
            raise
        if len(self._cache) > self.MAX_ENTRIES:
            self._cache.clear()
        self._cache[key] = (now + self.ttl, principal, now)
        return principal

    def forget(self) -> None:
        self._cache.clear()


class ApiKeyVerifier(CachedPrincipals[str]):
    """API keys, by the hash of the whole key; revoked keys are no one."""

    async def verify(
        self, session_factory: async_sessionmaker[AsyncSession], secret: str
    ) -> Principal | None:
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        digest = hash_key(secret)

        async def load() -> Principal | None:
            async with session_factory() as session:
                key = await session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == digest))
            if key is None or key.revoked_at is not None:
                return None
            return Principal("api_key", key.id, key.name, frozenset(key.scopes))

        return await self._lookup(digest, load)


def key_summary(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": f"{KEY_PREFIX}{key.prefix}_…",
        "scopes": key.scopes,
        "created_at": _iso(key.created_at),
        "revoked_at": _iso(key.revoked_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
