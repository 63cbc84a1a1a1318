"""The API reference: the OpenAPI document and Swagger UI, behind sign-in, from vendored files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, JSONResponse

from pulsecrm.deps import ReadScope
from pulsecrm.web.security import CurrentUser
from pulsecrm.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi(request: Request, _: ReadScope) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def docs(request: Request, _: CurrentUser) -> HTMLResponse:
    # Our own page rather than FastAPI's, whose inline script the Content-Security-Policy refuses.
    return render(request, "docs.html")
