"""Outages answered as 503 with Retry-After, never 500, and logged once per outage.

A pure ASGI middleware, outermost but for Starlette's error middleware: an exception that
`failures.classify` calls an outage (the database or Redis away), raised anywhere below --
a dependency, another middleware, an endpoint -- becomes a 503 with `Retry-After`, and the
outage is logged when it starts and when it ends, not once per request. While one is on, a
request at most once a second asks the service whether it is back, so the end is logged
even when no request needs it. Bad data that only the database noticed becomes a 422.
Anything else goes on to the 500 handler, which logs it in full.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pulsecrm.failures import Failure, OutageLog, classify

if TYPE_CHECKING:
    from pulsecrm.services import Services

log = logging.getLogger(__name__)


class OutageGuard:
    def __init__(self, app: ASGIApp, *, retry_after: int) -> None:
        self.app = app
        self.retry_after = retry_after
        self.database = OutageLog(log, "the database")
        self.redis = OutageLog(log, "Redis")
        self._next_probe = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            kind = classify(exc)
            if started or kind is Failure.BUG:
                raise
            if kind is Failure.OUTAGE:
                (self.redis if _is_redis(exc) else self.database).failed(exc)
                await self._answer(
                    scope, send, 503, "unavailable", f"{_service(exc)} is unavailable; try again shortly"
                )
            else:
                log.warning("%s %s: the database refused a value: %s", scope["method"], scope["path"], exc)
                await self._answer(
                    scope, send, 422, "invalid_input", "a value in the request cannot be stored"
                )
        finally:
            if self.database.down or self.redis.down:
                await self._probe(scope)

    async def _answer(self, scope: Scope, send: Send, status: int, code: str, message: str) -> None:
        headers = [(b"retry-after", str(self.retry_after).encode())] if status == 503 else []
        if scope["path"].startswith("/api/") or b"text/html" not in dict(scope["headers"]).get(
            b"accept", b""
        ):
            body = orjson.dumps({"error": {"code": code, "message": message, "details": []}})
            headers.append((b"content-type", b"application/json"))
        else:
            body = f"<!doctype html><title>{status}</title><h1>{message}</h1>".encode()
            headers.append((b"content-type", b"text/html; charset=utf-8"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _probe(self, scope: Scope) -> None:
        """Ask the service that was away whether it is back, at most once a second."""
        now = time.monotonic()
        if now < self._next_probe:
            return
        self._next_probe = now + 1.0
        app: Any = scope.get("app")
        services: Services | None = getattr(getattr(app, "state", None), "services", None)
        if services is None:
            return
        if self.database.down:
            try:
                async with services.db.engine.connect() as conn:
                    await conn.execute(sa.text("SELECT 1"))
                self.database.succeeded()
            except Exception as exc:
                if classify(exc) is not Failure.OUTAGE:
                    raise
        if self.redis.down and services.redis is not None:
            try:
                await services.redis.ping()
                self.redis.succeeded()
            except Exception as exc:
                if classify(exc) is not Failure.OUTAGE:
                    raise


def _is_redis(exc: BaseException) -> bool:
    return isinstance(exc, RedisError)


def _service(exc: BaseException) -> str:
    return "Redis" if _is_redis(exc) else "the database"
