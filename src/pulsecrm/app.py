"""The web application: routers, the error handler that renders every failure the same way, health."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match, Mount

from pulsecrm import __version__, broker, formatting, heap, logs, metrics, openapi
from pulsecrm.ai.endpoints import router as ai_router
from pulsecrm.campaigns.endpoints import router as campaigns_router
from pulsecrm.config import Settings, get_settings
from pulsecrm.customers.endpoints import router as customers_router
from pulsecrm.deadletters.endpoints import router as deadletters_router
from pulsecrm.delivery import tokens
from pulsecrm.delivery.dispatcher import Dispatcher
from pulsecrm.delivery.endpoints import router as delivery_router
from pulsecrm.delivery.redirects import TrackedLinks
from pulsecrm.deps import ServicesDep
from pulsecrm.errors import PulseError
from pulsecrm.failures import Failure, classify, describe
from pulsecrm.guard import OutageGuard
from pulsecrm.ingest.endpoints import router as ingest_router
from pulsecrm.limits import RequestLimits
from pulsecrm.outcomes.runner import Attributor
from pulsecrm.segments.endpoints import router as segments_router
from pulsecrm.services import Services
from pulsecrm.telemetry import RequestTelemetry
from pulsecrm.telemetry import router as telemetry_router
from pulsecrm.web.docs import router as docs_router
from pulsecrm.web.login import oidc_client
from pulsecrm.web.login import router as login_router
from pulsecrm.web.pages import router as pages_router
from pulsecrm.web.ratelimit import LoginLimiter
from pulsecrm.web.security import SESSION_COOKIE, SecurityHeaders, SignInRequired
from pulsecrm.web.static import PrecompressedStatic
from pulsecrm.web.templating import STATIC, render
from pulsecrm.web.unsubscribe import router as unsubscribe_router

log = logging.getLogger(__name__)

# Routes anyone may call. The security tests enumerate the route table against this list.
OPEN_PATHS = frozenset(
    {
        "/healthz",
        # Load balancers ask it before any user exists; it says "ok" or names a failing service.
        "/readyz",
        # The receipts webhook is checked by its signature (tests/delivery) instead of a key.
        "/api/v1/receipts",
        # Signing in and out (signing out is CSRF-checked, so no page can sign a user out).
        "/login",
        "/logout",
        "/auth/oidc/start",
        "/auth/oidc/callback",
        # Stylesheets and scripts (the sign-in page needs them); vendored files and our own.
        "/static",
        # One-click unsubscribe links in messages (web/unsubscribe.py): the signed token in the
        # address is the credential, and the pages say nothing about whose it is.
        "/u",
        # Tracked links and the open pixel in messages (delivery/redirects.py): the signed token
        # is the credential; they redirect only to URLs stored for the message's campaign.
        "/r",
        "/o",
    }
)


def create_served_app() -> FastAPI:
    """The app as `pulsecrm serve` and `run` start it: a process that lives for days."""
    return create_app(long_lived=True)


def create_app(settings: Settings | None = None, *, long_lived: bool = False) -> FastAPI:
    settings = settings or get_settings()
    formatting.configure(settings.default_currency)  # how pages and messages write money
    formatting.configure_zone(settings.timezone)  # and the store's own clock

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.start(settings)
        app.state.services = services
        if services.redis is not None:
            try:
                services.persistence = await broker.persistence(
                    services.redis, allow_volatile=settings.redis_allow_volatile
                )
            except Exception as exc:
                if classify(exc) is not Failure.OUTAGE:
                    await services.close()
                    raise
                log.warning("Redis does not answer yet (%s); its persistence is not checked", describe(exc))
        app.state.login_limiter = LoginLimiter(
            services.redis, settings.redis_prefix, settings.login_attempts_per_minute
        )
        stop = asyncio.Event()
        # Clicks and opens are written in batches; the last ones when the process stops.
        background: list[asyncio.Task[None]] = [asyncio.create_task(services.engagement.run(stop))]
        dispatcher = None
        if services.redis is None and settings.background_work:
            # One process is a whole CRM: without Redis the web process sends campaigns (and
            # credits their orders) too.
            dispatcher = Dispatcher.build(services.db, settings, services.redis)
            background.append(asyncio.create_task(dispatcher.run(stop)))
            background.append(asyncio.create_task(Attributor(services.db, settings).run(stop)))
        if long_lived:
            heap.settle()
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*background)
            if dispatcher is not None:
                await dispatcher.close()
            await services.close()
            metrics.process_exited()

    app = FastAPI(
        title="Pulse CRM",
        version=__version__,
        description="Ingest customers and orders, build audiences, run campaigns.",
        lifespan=lifespan,
        # The API reference is behind sign-in like everything else, and served from our own files.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # Requests are counted and logged by `telemetry` (Prometheus); FastAPI's own OpenTelemetry
        # hooks would ask on every request whether a provider is configured (~20 us each).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    session_secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    if session_secret is None:
        log.warning("PULSECRM_SESSION_SECRET is unset: sign-ins last until this process restarts")
        session_secret = secrets.token_urlsafe(32)
    app.add_middleware(RequestLimits, settings=settings, open_paths=OPEN_PATHS)  # inside the session
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    app.state.oauth = oidc_client(settings)
    app.state.login_limiter = None  # set at startup, once Redis (if any) is connected
    # Stylesheets and scripts are gzipped for clients that take it (about a fifth of their size
    # on the wire), once per file. Pages are not: they carry the CSRF token beside text a visitor
    # can put in the page (a search box), which is what BREACH needs to guess a secret byte by byte.
    app.mount("/static", PrecompressedStatic(directory=STATIC), name="static")
    app.include_router(login_router)
    app.include_router(unsubscribe_router)
    app.include_router(pages_router)
    app.include_router(docs_router)
    app.include_router(ingest_router)
    app.include_router(customers_router)
    app.include_router(segments_router)
    app.include_router(campaigns_router)
    app.include_router(delivery_router)
    app.include_router(ai_router)
    app.include_router(deadletters_router)
    app.include_router(telemetry_router)
    _install_error_handlers(app)
    openapi.install(app)
    # Added last, so it is the outermost of ours: it sees errors from every other middleware.
    app.add_middleware(OutageGuard, retry_after=settings.outage_retry_after_seconds)
    # Outermost: every answer carries them, the guard's 503s and the error pages included.
    app.add_middleware(SecurityHeaders)
    # Outermost of all: the request id and timing cover every layer, errors included.
    app.add_middleware(RequestTelemetry, access_log=settings.access_log, count=settings.request_metrics)
    # ...but for tracked links and the open pixel, the hottest addresses of all: they skip every
    # layer of ours, which they do not need (their own answers carry the security headers).
    app.add_middleware(TrackedLinks, key=tokens.key_for(settings), count=settings.request_metrics)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(services: ServicesDep) -> JSONResponse:
        """The database (and Redis, when configured) answer; what Redis keeps across a crash;
        the streams' backlogs and held entries, and when Redis was last found emptied."""
        checks: dict[str, str] = {}
        body: dict[str, Any] = {}
        try:
            async with services.db.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        if services.redis is not None:
            try:
                body["streams"] = await _stream_health(services)
                checks["redis"] = "ok"
            except Exception as exc:
                checks["redis"] = f"error: {type(exc).__name__}"
            if services.persistence is not None:
                body["redis_persistence"] = services.persistence.as_dict()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks, **body},
            status_code=200 if ready else 503,
        )

    return app


async def _stream_health(services: Services) -> dict[str, Any]:
    assert services.redis is not None
    out: dict[str, Any] = {}
    for name, stream in (("ingest", services.ingestor.stream), ("receipts", services.receipts.stream)):
        lost: Any = await services.redis.get(broker.lost_key(stream))
        out[name] = {
            "backlog": int(await services.redis.xlen(stream)),
            "held": len(await broker.held_entries(services.redis, stream)),
            "redis_state_lost_at": _iso_from_epoch(lost),
        }
    return out


def _iso_from_epoch(raw: bytes | None) -> str | None:
    try:
        return datetime.fromtimestamp(float(raw), UTC).isoformat() if raw else None
    except ValueError:
        return None


def _error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or []}}, status_code=status
    )


def _wants_page(request: Request) -> bool:
    # Pages and their forms get an error page; the API (and scripts calling it) get JSON.
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", status_code=status, status=status, message=message)


def _allowed_methods(request: Request) -> list[str]:
    # Routes are nested per router; asking each method of the whole table is the one way to
    # see them all that does not depend on how FastAPI arranges them.
    return [
        method
        for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
            if not isinstance(route, Mount)  # a mount matches every method; its app decides
        )
    ]


def create_metrics_app(services: Services) -> FastAPI:
    """What a worker serves: `GET /metrics` alone, with serve's key check and error answers, on
    the worker's own services (so a worker on a host without `serve` can be scraped too)."""
    app = FastAPI(
        title="Pulse CRM worker",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    app.include_router(telemetry_router)
    _install_error_handlers(app)
    app.add_middleware(SecurityHeaders)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("HX-Request"):
            # htmx swaps content in place; tell it to load the sign-in page instead.
            return Response(status_code=401, headers={"HX-Redirect": exc.location})
        return RedirectResponse(exc.location, status_code=302)

    @app.exception_handler(PulseError)
    async def pulse_error(request: Request, exc: PulseError) -> Response:
        if _wants_page(request):
            return _error_page(request, exc.status_code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        response = JSONResponse(exc.body(), status_code=exc.status_code)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if _wants_page(request):
            return _error_page(request, 422, "That address or form has a value this page can't use.")
        from pulsecrm.errors import error_body, validation_details

        # At most the first 100 problems (errors.MAX_DETAILS) plus their count, in plain words.
        details, count = validation_details(exc.errors())
        fields = ", ".join(".".join(str(p) for p in d["loc"]) for d in details[:10])
        more = f" (and {count - 10} more)" if count > 10 else ""
        return JSONResponse(
            error_body("invalid_input", f"invalid request: {fields}{more}", details, count), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (allowed := _allowed_methods(request)):
            # RFC 9110 wants every method of the resource; Starlette names only those of the
            # first route on the path, and GET and POST of one path live in different routers.
            headers["Allow"] = ", ".join(allowed)
        if _wants_page(request):
            response = _error_page(
                request,
                exc.status_code,
                {404: "There is nothing at this address."}.get(exc.status_code, str(exc.detail)),
            )
        else:
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
            response = _error(exc.status_code, code, str(exc.detail))
        response.headers.update(headers)
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        logs.mark_logged(exc)  # Starlette re-raises it to the server, which must not log it again
        if _wants_page(request):
            return _error_page(
                request, 500, "Something went wrong on our side. It has been logged; try again."
            )
        return _error(500, "internal_error", "an unexpected error occurred; it has been logged")
