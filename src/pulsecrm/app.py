"""The web application: routers, the error handler that renders every failure the same way, health."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response

from pulsecrm import __version__
from pulsecrm.ai.endpoints import router as ai_router
from pulsecrm.campaigns.endpoints import router as campaigns_router
from pulsecrm.config import Settings, get_settings
from pulsecrm.customers.endpoints import router as customers_router
from pulsecrm.delivery.dispatcher import Dispatcher
from pulsecrm.delivery.endpoints import router as delivery_router
from pulsecrm.deps import ServicesDep
from pulsecrm.errors import PulseError
from pulsecrm.ingest.endpoints import router as ingest_router
from pulsecrm.segments.endpoints import router as segments_router
from pulsecrm.services import Services
from pulsecrm.web.docs import router as docs_router
from pulsecrm.web.login import oidc_client
from pulsecrm.web.login import router as login_router
from pulsecrm.web.pages import router as pages_router
from pulsecrm.web.ratelimit import LoginLimiter
from pulsecrm.web.security import SESSION_COOKIE, SignInRequired
from pulsecrm.web.templating import STATIC, render

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
    }
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.start(settings)
        app.state.services = services
        app.state.login_limiter = LoginLimiter(
            services.redis, settings.redis_prefix, settings.login_attempts_per_minute
        )
        stop = asyncio.Event()
        background: asyncio.Task[None] | None = None
        dispatcher = None
        if services.redis is None and settings.background_work:
            # One process is a whole CRM: without Redis the web process sends campaigns too.
            dispatcher = Dispatcher(services.db, settings)
            background = asyncio.create_task(dispatcher.run(stop))
        try:
            yield
        finally:
            stop.set()
            if background is not None:
                await background
            if dispatcher is not None:
                await dispatcher.close()
            await services.close()

    app = FastAPI(
        title="Pulse CRM",
        version=__version__,
        description="Ingest customers and orders, build audiences, run campaigns.",
        lifespan=lifespan,
        # The API reference is behind sign-in like everything else, and served from our own files.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    session_secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    if session_secret is None:
        log.warning("PULSECRM_SESSION_SECRET is unset: sign-ins last until this process restarts")
        session_secret = secrets.token_urlsafe(32)
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
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(login_router)
    app.include_router(pages_router)
    app.include_router(docs_router)
    app.include_router(ingest_router)
    app.include_router(customers_router)
    app.include_router(segments_router)
    app.include_router(campaigns_router)
    app.include_router(delivery_router)
    app.include_router(ai_router)
    _install_error_handlers(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(services: ServicesDep) -> JSONResponse:
        """The database (and Redis, when configured) answer."""
        checks: dict[str, str] = {}
        try:
            async with services.db.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        if services.redis is not None:
            try:
                await services.redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                checks["redis"] = f"error: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    return app


def _error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or []}}, status_code=status
    )


def _wants_page(request: Request) -> bool:
    # Pages and their forms get an error page; the API (and scripts calling it) get JSON.
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", status_code=status, status=status, message=message)


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
        details = [{"loc": list(e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()]
        fields = ", ".join(".".join(str(p) for p in d["loc"]) for d in details)
        return _error(422, "invalid_input", f"invalid request: {fields}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_page(request):
            return _error_page(
                request,
                exc.status_code,
                {404: "There is nothing at this address."}.get(exc.status_code, str(exc.detail)),
            )
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _wants_page(request):
            return _error_page(
                request, 500, "Something went wrong on our side. It has been logged; try again."
            )
        return _error(500, "internal_error", "an unexpected error occurred; it has been logged")
