"""The API reference: the OpenAPI document and Swagger UI, behind sign-in, from vendored files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, JSONResponse

from pulsecrm.deps import ReadScope
from pulsecrm.web.security import CurrentUser
from pulsecrm.web.templating import static_url

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi(request: Request, _: ReadScope) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def docs(_: CurrentUser) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Pulse CRM API",
        swagger_js_url=static_url("vendor/swagger-ui-bundle.js"),
        swagger_css_url=static_url("vendor/swagger-ui.css"),
        swagger_favicon_url=static_url("favicon.svg"),
    )
