"""The web application: routers, the error handler that renders every failure the same way, health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pulsecrm import __version__
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

log = logging.getLogger(__name__)

# Routes anyone may call. The security tests enumerate the route table against this list.
OPEN_PATHS = frozenset(
    # The receipts webhook is checked by its signature (tests/delivery) instead of a key.
    {"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc", "/api/v1/receipts"}
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.start(settings)
        app.state.services = services
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
    )
    app.include_router(ingest_router)
    app.include_router(customers_router)
    app.include_router(segments_router)
    app.include_router(campaigns_router)
    app.include_router(delivery_router)
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


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PulseError)
    async def pulse_error(_: Request, exc: PulseError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        response = JSONResponse(exc.body(), status_code=exc.status_code)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()]
        fields = ", ".join(".".join(str(p) for p in d["loc"]) for d in details)
        return _error(422, "invalid_input", f"invalid request: {fields}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal_error", "an unexpected error occurred; it has been logged")
