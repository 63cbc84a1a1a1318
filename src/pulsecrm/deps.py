"""Request dependencies as Annotated aliases: the app's services, a session, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm.auth.service import Principal
from pulsecrm.errors import Forbidden, Unauthorized
from pulsecrm.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A session for the request; the endpoint commits when it writes (it owns the transaction)."""
    async with services.db.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer pk_…`")


async def _authenticate(services: Services, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None:
        raise Unauthorized("authentication required: send `Authorization: Bearer <API key>`")
    principal = await services.api_keys.verify(services.db.sessions, credentials.credentials)
    if principal is None:
        raise Unauthorized("invalid or revoked API key")
    return principal


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def require_scope(
    scope: str,
) -> Callable[[Services, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    # One dependency that authenticates and checks the scope: resolving dependencies is a
    # large share of a small request's cost.
    async def check(services: ServicesDep, credentials: Credentials) -> Principal:
        principal = await _authenticate(services, credentials)
        if scope not in principal.scopes:
            raise Forbidden(f"this API key lacks the {scope!r} scope")
        return principal

    return check


IngestScope = Annotated[Principal, Depends(require_scope("ingest"))]
ReadScope = Annotated[Principal, Depends(require_scope("read"))]
SegmentsScope = Annotated[Principal, Depends(require_scope("segments"))]
CampaignsScope = Annotated[Principal, Depends(require_scope("campaigns"))]
