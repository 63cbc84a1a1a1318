"""`pulsecrm doctor`: the configuration and what it points at, checked against the promises.

Each finding says what was found and what it means for the product. `fail` is a finding that
breaks a promise of docs/ (acknowledged data kept, receipts applied, sign-in working, one
message per customer); `warn` is one that works but costs something; `ok` is the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import sqlalchemy as sa

from pulsecrm import broker
from pulsecrm.config import Settings
from pulsecrm.db import Database, alembic_config
from pulsecrm.failures import describe

Level = Literal["ok", "warn", "fail"]
# Campaign claims are leases compared against each worker's own clock: a worker whose clock is
# ahead by half a lease can take over a claim still being sent (the vendor's idempotency key
# then drops the duplicate, but the retry budget is spent). Receipts allow 5 minutes.
SKEW_WARN_SECONDS = 2.0


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    found: str
    meaning: str


def skew_fail_seconds(settings: Settings) -> float:
    return min(settings.delivery_lease_seconds / 2, 60.0)


async def examine(settings: Settings, *, wait: float = 5.0) -> list[Finding]:
    findings: list[Finding] = []
    checks: list[Callable[[Settings, float], Awaitable[list[Finding]]]] = [
        _database,
        _redis,
        _vendor,
        _secrets,
        _oidc,
        _time_zone,
    ]
    for check in checks:
        try:
            findings += await check(settings, wait)
        except Exception as exc:  # a check that cannot run is itself a finding, not a crash
            findings.append(
                Finding(check.__name__.strip("_"), "fail", describe(exc), "the check could not run")
            )
    return findings


# --- the database -------------------------------------------------------------------------------


async def _database(settings: Settings, wait: float) -> list[Finding]:
    url = settings.effective_database_url
    if missing := _missing_sqlite_file(url):
        # Opening it would create an empty file: say so instead.
        return [Finding("database", "fail", f"no file at {missing}", "run `pulsecrm migrate` to create it")]
    db = Database(url, pool_size=1)
    out: list[Finding] = []
    try:
        try:
            async with asyncio.timeout(wait), db.engine.connect() as conn:
                current = await conn.run_sync(_current_revision)
                server_now = None
                if conn.dialect.name == "postgresql":
                    before = time.time()
                    server_now = (await conn.execute(sa.text("SELECT now()"))).scalar_one()
                    local = (before + time.time()) / 2
                    zone = (await conn.execute(sa.text("SHOW TimeZone"))).scalar_one()
        except Exception as exc:
            return [
                Finding(
                    "database",
                    "fail",
                    f"{_safe_url(url)} does not answer: {describe(exc)}",
                    "nothing can be read or written; the API answers 503",
                )
            ]
        out.append(
            Finding(
                "database",
                "warn" if url.startswith("sqlite") else "ok",
                f"{_safe_url(url)} answers",
                "an embedded SQLite file: one machine, one writer at a time; use PostgreSQL to scale out"
                if url.startswith("sqlite")
                else "PostgreSQL answers",
            )
        )
        head = _head_revision(url)
        if current == head:
            out.append(Finding("migrations", "ok", f"at {head} (head)", "the schema matches this code"))
        else:
            out.append(
                Finding(
                    "migrations",
                    "fail",
                    f"database at {current or 'nothing'}, code expects {head}",
                    "run `pulsecrm migrate` (serve does it at start); until then queries can fail",
                )
            )
        if server_now is not None:
            out.append(_skew("database clock", server_now.timestamp() - local, settings))
            out.append(
                Finding(
                    "database time zone",
                    "ok",
                    str(zone),
                    "times are stored with their offset (timestamptz) and read as UTC, so the "
                    "session zone changes nothing stored",
                )
            )
        return out
    finally:
        await db.dispose()


def _missing_sqlite_file(url: str) -> str | None:
    path = sa.engine.make_url(url).database if url.startswith("sqlite") else None
    return path if path and path != ":memory:" and not Path(path).exists() else None


def _current_revision(conn: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _safe_url(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


# --- Redis ------------------------------------------------------------------------------------


async def _redis(settings: Settings, wait: float) -> list[Finding]:
    if not settings.redis_url:
        return [
            Finding(
                "redis",
                "ok",
                "not configured",
                "ingestion writes in the request (201) and serve sends campaigns itself: one process",
            )
        ]
    redis = broker.connect(settings.redis_url)
    where = _safe_url(settings.redis_url) if "://" in settings.redis_url else settings.redis_url
    try:
        try:
            async with asyncio.timeout(wait):
                await redis.ping()
                found = await broker.persistence(redis, allow_volatile=True)
                before = time.time()
                seconds, micros = await redis.time()
                local = (before + time.time()) / 2
        except Exception as exc:
            return [
                Finding(
                    "redis",
                    "fail",
                    f"{where} does not answer: {describe(exc)}",
                    "stream-mode ingestion answers 503 and workers wait until it is back",
                )
            ]
        out = [Finding("redis", "ok", f"{where} answers", "streams can be appended and read")]
        if found.appendonly == "no":
            level: Level = "warn" if settings.redis_allow_volatile else "fail"
            meaning = (
                "allowed by PULSECRM_REDIS_ALLOW_VOLATILE: " + found.promise
                if settings.redis_allow_volatile
                else "serve and worker refuse to start: " + found.promise
            )
        elif found.appendonly == "unknown" or found.appendfsync == "no":
            level, meaning = "warn", found.promise
        else:
            level, meaning = "ok", found.promise
        out.append(
            Finding(
                "redis persistence",
                level,
                f"appendonly {found.appendonly}, appendfsync {found.appendfsync}",
                meaning,
            )
        )
        out.append(_skew("redis clock", int(seconds) + int(micros) / 1e6 - local, settings))
        return out
    finally:
        await redis.aclose()


# --- the vendor ---------------------------------------------------------------------------------


async def _vendor(settings: Settings, wait: float) -> list[Finding]:
    uses_vendor = settings.sms_transport == "vendor" or settings.email_transport == "vendor"
    if not uses_vendor:
        return []
    try:
        async with httpx.AsyncClient(timeout=wait) as client:
            response = await client.get(settings.vendor_url.rstrip("/") + "/healthz")
    except httpx.HTTPError as exc:
        return [
            Finding(
                "vendor",
                "fail",
                f"{settings.vendor_url} does not answer: {type(exc).__name__}",
                "campaigns cannot send: messages wait and are retried, then fail",
            )
        ]
    # Any HTTP answer means the vendor is there; a real vendor need not have /healthz.
    return [
        Finding(
            "vendor", "ok", f"{settings.vendor_url} answers ({response.status_code})", "campaigns can send"
        )
    ]


# --- secrets and sign-in ------------------------------------------------------------------------


async def _secrets(settings: Settings, _: float) -> list[Finding]:
    out: list[Finding] = []
    webhook = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not webhook:
        out.append(
            Finding(
                "webhook secret",
                "fail",
                "PULSECRM_WEBHOOK_SECRET is unset",
                "the receipts webhook answers 503: no message is ever marked delivered or failed",
            )
        )
    elif len(webhook) < 32:
        out.append(
            Finding(
                "webhook secret",
                "warn",
                f"{len(webhook)} characters",
                "short enough to guess offline from one signed receipt; use 32 random bytes or more",
            )
        )
    else:
        out.append(Finding("webhook secret", "ok", "set", "receipts are verified by their signature"))
    if settings.session_secret is None:
        out.append(
            Finding(
                "session secret",
                "warn",
                "PULSECRM_SESSION_SECRET is unset",
                "each process signs its own cookies: sign-ins end at restart and are lost when a "
                "load balancer sends the next request to another process",
            )
        )
    else:
        out.append(
            Finding("session secret", "ok", "set", "sessions survive restarts and any process serves them")
        )
    return out


async def _oidc(settings: Settings, wait: float) -> list[Finding]:
    parts = {
        "PULSECRM_OIDC_ISSUER": settings.oidc_issuer,
        "PULSECRM_OIDC_CLIENT_ID": settings.oidc_client_id,
        "PULSECRM_OIDC_CLIENT_SECRET": settings.oidc_client_secret,
    }
    given = [k for k, v in parts.items() if v]
    if not given:
        return [Finding("oidc", "ok", "not configured", "people sign in with local accounts")]
    if len(given) < len(parts):
        missing = ", ".join(k for k in parts if k not in given)
        return [
            Finding("oidc", "fail", f"{missing} unset", "single sign-on cannot complete; nobody can sign in")
        ]
    assert settings.oidc_issuer is not None
    discovery = settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        async with httpx.AsyncClient(timeout=wait) as client:
            response = await client.get(discovery)
        document: Any = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        return [Finding("oidc", "fail", f"{discovery}: {type(exc).__name__}", "sign-in cannot start")]
    if not isinstance(document, dict) or document.get("issuer", "").rstrip(
        "/"
    ) != settings.oidc_issuer.rstrip("/"):
        return [
            Finding(
                "oidc",
                "fail",
                f"{discovery} answered {response.status_code} without this issuer",
                "sign-in cannot start, or tokens from this issuer would be refused",
            )
        ]
    out = [Finding("oidc", "ok", f"{settings.oidc_issuer} publishes its configuration", "sign-in can start")]
    if settings.public_url.startswith("https://") and not settings.cookie_secure:
        out.append(
            Finding(
                "cookies",
                "warn",
                "PULSECRM_COOKIE_SECURE is false behind an https:// public URL",
                "the session cookie may also travel over plain HTTP",
            )
        )
    return out


# --- time -------------------------------------------------------------------------------------


async def _time_zone(_: Settings, __: float) -> list[Finding]:
    local = datetime.now().astimezone()
    return [
        Finding(
            "time zone",
            "ok",
            f"{local.tzname()} (UTC{local.strftime('%z')}); "
            f"now {datetime.now(UTC).isoformat(timespec='seconds')}",
            "every time is stored and compared in UTC; the zone only changes how this host prints times",
        )
    ]


def _skew(check: str, seconds: float, settings: Settings) -> Finding:
    limit = skew_fail_seconds(settings)
    found = f"{seconds:+.2f} s from this host"
    if abs(seconds) >= limit:
        return Finding(
            check,
            "fail",
            found,
            f"beyond {limit:.0f} s a worker can take over a campaign claim still being sent, and "
            "receipts near the 5-minute window are refused: run NTP (chrony, systemd-timesyncd)",
        )
    if abs(seconds) >= SKEW_WARN_SECONDS:
        return Finding(check, "warn", found, "clocks drift apart: run NTP everywhere")
    return Finding(check, "ok", found, "clocks agree")


def as_json(findings: list[Finding]) -> list[dict[str, Any]]:
    return [asdict(f) for f in findings]
