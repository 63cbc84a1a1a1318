"""Message templates: Jinja2 in a sandbox, checked when the campaign is created.

`Hi {{ first_name | default("there") }}, you've spent ₹{{ total_spend }} with us.`

Only the variables below exist; anything else, or a template that does not parse, is a 422
naming the line. The sandbox keeps templates away from Python objects (`{{ ''.__class__ }}`
fails), and a missing value renders through `default(...)` or as nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pulsecrm.errors import InvalidInput

VARIABLES = {
    "first_name": "First word of the customer's name",
    "name": "Full name",
    "email": "E-mail address",
    "phone": "Phone number",
    "city": "City",
    "total_spend": "Total spend, e.g. 12,499.00",
    "order_count": "Number of orders",
    "avg_order_value": "Average order value",
    "last_order_at": "Date of the last order, e.g. 3 Nov 2026",
    "external_id": "The customer's id",
    "attributes": "Custom attributes: {{ attributes.tier }}",
}
MAX_LENGTH = 5000

_env = ImmutableSandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)


class InvalidTemplate(InvalidInput):
    code = "invalid_template"


def check(source: str, *, path: str = "$.message") -> None:
    """Refuse a template that does not parse, uses unknown variables, or breaks the sandbox."""
    if len(source) > MAX_LENGTH:
        raise InvalidTemplate(
            f"a message is at most {MAX_LENGTH} characters", details=[{"path": path, "message": "too long"}]
        )
    try:
        ast = _env.parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidTemplate(
            f"the message template does not parse: {exc.message} (line {exc.lineno})",
            details=[{"path": path, "line": exc.lineno, "message": exc.message or "syntax error"}],
        ) from None
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            name: object = node.attr
        else:
            assert isinstance(node, nodes.Getitem)
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        if isinstance(name, str) and name.startswith("_"):
            # The sandbox would render these as nothing; say so instead of sending blanks.
            raise InvalidTemplate(
                f"{name!r} is not available in messages",
                details=[{"path": path, "line": node.lineno, "message": f"private attribute {name!r}"}],
            )
    unknown = sorted(meta.find_undeclared_variables(ast) - set(VARIABLES))
    if unknown:
        raise InvalidTemplate(
            f"unknown variable(s) in the message: {', '.join(unknown)}; "
            f"available: {', '.join(sorted(VARIABLES))}",
            details=[
                {
                    "path": path,
                    "variable": name,
                    "line": _line_of(source, name),
                    "message": f"unknown variable {name!r}",
                }
                for name in unknown
            ],
        )
    try:  # a dry run catches what only rendering finds: sandbox violations, bad filters
        render(source, _SAMPLE)
    except (SecurityError, UndefinedError, TypeError, ValueError) as exc:
        raise InvalidTemplate(
            f"the message template cannot render: {exc}", details=[{"path": path, "message": str(exc)}]
        ) from None


def _line_of(source: str, name: str) -> int | None:
    for number, line in enumerate(source.splitlines(), start=1):
        if name in line:
            return number
    return None


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    # Compiling is ~100x the cost of rendering; a campaign renders one source a million times.
    return _env.from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    return _compiled(source).render(context).strip()


def context_for(customer: Any) -> dict[str, Any]:
    """Template variables for one customer; missing values are left out so `default` applies."""
    values: dict[str, Any] = {
        "first_name": (customer.name or "").split()[0] if (customer.name or "").split() else None,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "city": customer.city,
        "total_spend": _money(customer.total_spend),
        "order_count": customer.order_count,
        "avg_order_value": _money(customer.avg_order_value),
        "last_order_at": _date(customer.last_order_at),
        "external_id": customer.external_id,
        "attributes": dict(customer.attributes or {}),
    }
    return {k: v for k, v in values.items() if v is not None}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:,.2f}"


def _date(value: datetime | None) -> str | None:
    return None if value is None else f"{value.day} {value:%b %Y}"


@dataclass(frozen=True)
class ExampleCustomer:
    """A made-up customer to render templates for when checking them (and, with other values,
    to measure how long a message can get)."""

    name: str = "Asha Rao"
    email: str = "asha@example.com"
    phone: str = "+91 98765 43210"
    city: str = "Pune"
    total_spend: Decimal = Decimal("12499.00")
    order_count: int = 7
    avg_order_value: Decimal = Decimal("1785.57")
    last_order_at: datetime = datetime(2026, 11, 3, tzinfo=UTC)
    external_id: str = "C00001"
    attributes: dict[str, Any] = field(default_factory=lambda: {"tier": "gold"})


_SAMPLE = context_for(ExampleCustomer())
