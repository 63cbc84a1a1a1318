"""The one-click unsubscribe page behind the links in messages: open, no sign-in.

`GET /u/{token}` asks "Unsubscribe?" with one button, and does nothing by itself: mail
scanners and link previews fetch every link they see. `POST /u/{token}` unsubscribes; it is
also what a mail client sends for RFC 8058's `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
The token is the capability (customers.links), so the form carries no CSRF token: the worst a
forged post can do is what the link's owner asked for. Neither page names the person, the
address or anything else, and a link that does not check out is a plain 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import HTMLResponse

from pulsecrm.customers import links
from pulsecrm.customers import service as customers
from pulsecrm.deps import ServicesDep, WriteSessionDep
from pulsecrm.web.templating import templates

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(max_length=200)]
# The link is a secret of its holder's: never cached, never sent on as a Referer.
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
_WHAT = {"email": "marketing e-mails", "sms": "marketing text messages"}


def _page(request: Request, status_code: int, **context: object) -> HTMLResponse:
    # No session and no CSRF token for an anonymous visitor; the page shows no navigation.
    response = templates.TemplateResponse(
        request,
        "unsubscribe.html",
        {"user": None, "csrf_token": "", "nav": "", **context},
        status_code=status_code,
        headers=_HEADERS,
    )
    return response


@router.get("/u/{token}")
async def confirm(token: Token, request: Request, services: ServicesDep) -> HTMLResponse:
    link = links.read_token(services.settings, token)
    if link is None:
        return _page(request, 404, state="invalid")
    return _page(request, 200, state="confirm", what=_WHAT[link.channel])


@router.post("/u/{token}")
async def unsubscribe(
    token: Token, request: Request, services: ServicesDep, session: WriteSessionDep
) -> HTMLResponse:
    link = links.read_token(services.settings, token)
    if link is None:
        return _page(request, 404, state="invalid")
    customer = await customers.customer_by_id(session, link.customer_id)
    if customer is not None:  # a customer since deleted: nothing to do, and nothing to say
        await customers.unsubscribe_customer(
            session, customer, channel=link.channel, source="unsubscribe_link"
        )
        await session.commit()
    return _page(request, 200, state="done", what=_WHAT[link.channel])
