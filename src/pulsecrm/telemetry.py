"""What an operator sees of a running API: a request id and metrics per request, at most one
log line per request, and `GET /metrics` (Prometheus text) for keys with the `metrics` scope."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pulsecrm import broker, logs, metrics
from pulsecrm.auth.service import Principal
from pulsecrm.campaigns.counters import STATUSES
from pulsecrm.campaigns.models import Campaign
from pulsecrm.deadletters.models import DeadLetter
from pulsecrm.deps import ServicesDep, require_scope
from pulsecrm.failures import describe
from pulsecrm.services import Services

log = logging.getLogger(__name__)
access = logging.getLogger("pulsecrm.access")
HEADER = "x-request-id"


class RequestTelemetry:
    """Pure ASGI (no per-request task or body copy): sets the request id, times the request,
    counts it by route template (never by raw path: ids in paths would explode the series)."""

    def __init__(self, app: ASGIApp, *, access_log: bool = True, count: bool = True) -> None:
        self.app = app
        self.access_log = access_log
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = logs.new_request_id(offered)
        token = logs.request_id.set(rid)
        start = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            route = route_of(scope)
            if self.count:
                metrics.request_done(route, status, seconds)
            if self.access_log:
                # The raw path stays percent-encoded: a %0A in it cannot start a forged line.
                raw: bytes = scope.get("raw_path") or scope["path"].encode()
                access.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    raw.decode("latin-1")[:300],
                    status,
                    seconds * 1000,
                    extra={"route": route, "status": status, "duration_ms": round(seconds * 1000, 2)},
                )
            logs.request_id.reset(token)


def route_of(scope: Scope) -> str:
    """The matched route's template (`/api/v1/campaigns/{campaign_id}`); bounded for the rest."""
    route: Any = scope.get("route")
    if route is not None and isinstance(getattr(route, "path", None), str):
        return str(route.path)
    path: str = scope.get("path", "")
    if path.startswith("/static/"):
        return "/static"
    return "unmatched"


# --- /metrics ---------------------------------------------------------------------------------

router = APIRouter(tags=["operations"])
MetricsScope = Annotated[Principal, Depends(require_scope("metrics"))]


@router.get("/metrics", response_class=Response)
async def metrics_text(services: ServicesDep, _: MetricsScope) -> Response:
    """Prometheus text format: this host's processes, then the streams, dead letters,
    deliveries and paused campaigns read from Redis and the database."""
    return Response(metrics.render(await read_snapshot(services)), media_type=metrics.CONTENT_TYPE)


async def read_snapshot(services: Services) -> metrics.Snapshot:
    """Shared state; a source that does not answer is reported down, never a failed scrape."""
    snapshot = metrics.Snapshot()
    try:
        async with services.db.read() as session:
            dead = await session.execute(
                sa.select(DeadLetter.stream, sa.func.count())
                .where(DeadLetter.replayed_at.is_(None))
                .group_by(DeadLetter.stream)
            )
            snapshot.dead_letters = {"ingest": 0, "receipts": 0} | {s: int(n) for s, n in dead.all()}
            sums = [sa.func.coalesce(sa.func.sum(getattr(Campaign, c)), 0) for c in STATUSES]
            rows = await session.execute(sa.select(Campaign.channel, *sums).group_by(Campaign.channel))
            for channel, *values in rows.all():
                for name, value in zip(STATUSES, values, strict=True):
                    snapshot.deliveries[(channel, name)] = int(value)
            paused = await session.execute(
                sa.select(Campaign.paused_by_policy, sa.func.count())
                .where(Campaign.status == "paused")
                .group_by(Campaign.paused_by_policy)
            )
            snapshot.paused = {"policy": 0, "person": 0} | {
                ("policy" if by_policy else "person"): int(n) for by_policy, n in paused.all()
            }
        snapshot.up["database"] = True
    except Exception as exc:
        log.warning("metrics: the database did not answer (%s)", describe(exc))
        snapshot.up["database"] = False
    if services.redis is not None:
        try:
            streams = {"ingest": services.ingestor.stream, "receipts": services.receipts.stream}
            for name, stream in streams.items():
                snapshot.streams[name] = await _stream_state(services, stream)
            snapshot.up["redis"] = True
        except Exception as exc:
            log.warning("metrics: Redis did not answer (%s)", describe(exc))
            snapshot.up["redis"] = False
    return snapshot


async def _stream_state(services: Services, stream: str) -> metrics.StreamState:
    redis = services.redis
    assert redis is not None
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xlen(stream)
        pipe.xrange(stream, count=1)
        pipe.hlen(broker.held_key(stream))
        pipe.time()
        length, first, held, now = await pipe.execute()
    pending = 0
    try:
        groups: Any = await redis.xinfo_groups(stream)
        pending = sum(int(g["pending"]) for g in groups)
    except Exception:  # no stream or no group yet: nothing pending
        pending = 0
    age = 0.0
    if first:
        # An entry id starts with the Redis clock's milliseconds at append; Redis's own TIME
        # avoids comparing two machines' clocks.
        appended_ms = int(first[0][0].split(b"-")[0])
        age = max(0.0, (int(now[0]) * 1000 + int(now[1]) // 1000 - appended_ms) / 1000)
    return metrics.StreamState(int(length), pending, age, int(held))
