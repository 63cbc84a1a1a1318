"""Message templates: Jinja2 in a sandbox, checked when the campaign is created.

`Hi {{ first_name | default("there") }}, you've spent {{ total_spend }} with us.`

Sums print the way the pages write them (`₹3,52,961`, pulsecrm.formatting) and still compare as
numbers; the filters `money`, `number` and `date` format any other value the same way.

Only the variables below exist; anything else, or a template that does not parse, is a 422
naming the line. The sandbox keeps templates away from Python objects (`{{ ''.__class__ }}`
fails), and a missing value renders through `default(...)` or as nothing.

A template cannot make the server allocate without bound, at check, preview or send time:

- the language is output, `if` and one level of `for` (no `set`, macros, `namespace`,
  includes or nested loops), so the work is linear in the template's length;
- `*`, `+` and `**` refuse results over the caps (`'x' * 10**14`), `range` and every loop
  stop at MAX_ITEMS, and the filters and text methods that can grow text (`center`,
  `indent`, `join`, `replace`, `ljust`, `format`, ...) are bounded or not available;
- the output is counted while it is produced and stops at MAX_RENDERED characters: a 422
  when checking or previewing, a failed message (`TemplateTooLong`) when sending.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pulsecrm import formatting
from pulsecrm.errors import InvalidInput

VARIABLES = {
    "first_name": "First word of the customer's name",
    "name": "Full name",
    "email": "E-mail address",
    "phone": "Phone number",
    "city": "City",
    "total_spend": "Total spend, e.g. ₹12,499",
    "order_count": "Number of orders",
    "avg_order_value": "Average order value, e.g. ₹1,785.57",
    "last_order_at": "Date of the last order, e.g. 3 Nov 2026",
    "external_id": "The customer's id",
    "attributes": "Custom attributes: {{ attributes.tier }}",
}
MAX_LENGTH = 5000  # characters of a template
MAX_RENDERED = 20_000  # characters of one rendered message (or of any text made on the way)
MAX_ITEMS = 1000  # items of a `range`, iterations of a loop
MAX_POWER_BITS = 4096  # `**` results beyond this many bits are refused
MAX_RENDER_SECONDS = 0.25  # per message; an ordinary one takes microseconds


class InvalidTemplate(InvalidInput):
    code = "invalid_template"


class TemplateTooLong(InvalidTemplate):
    """The rendered message would be longer than MAX_RENDERED characters."""


_deadline: ContextVar[float] = ContextVar("template_deadline", default=math.inf)


def _tick() -> None:
    """Called by every loop step, operator and filter: each is bounded, so checking the clock
    there bounds the whole render."""
    if time.monotonic() > _deadline.get():
        raise SecurityError(f"the message takes longer than {MAX_RENDER_SECONDS} s to render")


def _refuse(what: str) -> SecurityError:
    return SecurityError(f"{what} is over the limit for messages ({MAX_RENDERED:,} characters)")


def _sized(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple)) else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _check_product(left: Any, right: Any) -> None:
    for seq, factor in ((left, right), (right, left)):
        size, times = _sized(seq), _whole(factor)
        if size is not None and times is not None and size * times > MAX_RENDERED:
            raise _refuse("the repeated text or list")


def _check_sum(left: Any, right: Any) -> None:
    sizes = (_sized(left), _sized(right))
    if sizes[0] is not None and sizes[1] is not None and sizes[0] + sizes[1] > MAX_RENDERED:
        raise _refuse("the joined text or list")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, (int, float)) and isinstance(exponent, (int, float)):
        magnitude = abs(base)
        if magnitude > 1 and abs(exponent) * math.log2(magnitude) > MAX_POWER_BITS:
            raise SecurityError("the power is too large for a message")


def _bounded_range(*args: int) -> range:
    _tick()
    numbers = range(*args)
    if len(numbers) > MAX_ITEMS:
        raise SecurityError(f"a range in a message has at most {MAX_ITEMS} items")
    return numbers


def _bounded_iter(value: Any) -> Iterator[Any]:
    """What a `for` loop goes over, at most MAX_ITEMS items (the compiler wraps every loop)."""
    for count, item in enumerate(value):
        _tick()
        if count >= MAX_ITEMS:
            raise SecurityError(f"a loop in a message goes over at most {MAX_ITEMS} items")
        yield item


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose arguments cannot make it produce more than MAX_RENDERED, and whose result
    is refused when over it."""

    # A filter that takes the environment or a context gets it as its first argument.
    offset = 1 if hasattr(original, "jinja_pass_arg") else 0

    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        _precheck_filter(name, args[offset:], kwargs)
        result = original(*args, **kwargs)
        _tick()
        if isinstance(result, (str, list, tuple)) and len(result) > MAX_RENDERED:
            raise _refuse(f"the result of `{name}`")
        return result

    for attribute in ("jinja_pass_arg",):  # context/eval-context filters keep their marker
        if hasattr(original, attribute):
            setattr(bounded, attribute, getattr(original, attribute))
    return bounded


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _precheck_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse the arguments that would make a filter produce more than MAX_RENDERED."""
    value = args[0] if args else None
    text = str(value) if value is not None and name in ("center", "indent", "replace", "wordwrap") else ""
    if name == "center":
        width = _arg(args, kwargs, 1, "width", 80)
        if isinstance(width, int) and width > MAX_RENDERED:
            raise _refuse("the centred text")
    elif name == "indent":
        width = _arg(args, kwargs, 1, "width", 4)
        size = width if isinstance(width, int) else len(str(width))
        if size * (text.count("\n") + 1) > MAX_RENDERED:
            raise _refuse("the indented text")
    elif name == "join":
        separator = str(_arg(args, kwargs, 1, "d", ""))
        items = _sized(value)  # unknown for a generator: as many as a loop may have
        if (MAX_ITEMS if items is None else items) * len(separator) > MAX_RENDERED:
            raise _refuse("the joined text")
    elif name == "replace":
        old = str(_arg(args, kwargs, 1, "old", ""))
        new = str(_arg(args, kwargs, 2, "new", ""))
        times = len(text) + 1 if not old else text.count(old)
        if times * len(new) > MAX_RENDERED:
            raise _refuse("the replaced text")
    elif name == "wordwrap":
        wrap = _arg(args, kwargs, 3, "wrapstring", None)
        if wrap is not None and len(str(wrap)) * (len(text) + 1) > MAX_RENDERED:
            raise _refuse("the wrapped text")
    elif name in ("batch", "slice"):
        count = _arg(args, kwargs, 1, "linecount" if name == "batch" else "slices", 1)
        if isinstance(count, int) and count > MAX_ITEMS:
            raise SecurityError(f"`{name}` in a message takes at most {MAX_ITEMS}")


# Attributes a template may use on plain values; anything else (`ljust`, `format`, `zfill`,
# `join`, `center` ... which can make text of any length) is not available.
_SAFE_ATTRIBUTES: dict[type, frozenset[str]] = {
    str: frozenset(
        [
            "upper",
            "lower",
            "title",
            "capitalize",
            "swapcase",
            "casefold",
            "strip",
            "lstrip",
            "rstrip",
            "startswith",
            "endswith",
            "split",
            "rsplit",
            "splitlines",
            "partition",
            "rpartition",
            "removeprefix",
            "removesuffix",
            "count",
            "find",
            "rfind",
            "index",
            "rindex",
            "isdigit",
            "isalpha",
            "isalnum",
            "isspace",
            "islower",
            "isupper",
            "istitle",
            "isnumeric",
            "isdecimal",
        ]
    ),
    dict: frozenset({"items", "keys", "values", "get"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
}
_REMOVED_FILTERS = ("format", "xmlattr", "pprint", "urlize", "filesizeformat")


def _date_filter(value: Any) -> str:
    """`date` in a message: a datetime, or the ISO text an attribute holds; text that is no
    date (`last_order_at` is already written out) passes through, a missing value is empty."""
    if isinstance(value, datetime):
        return formatting.date_(value)
    if isinstance(value, str):
        try:
            return formatting.date_(datetime.fromisoformat(value))
        except ValueError:
            return value
    return ""


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "+", "**"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, trim_blocks=True, lstrip_blocks=True)
        # Only `range` (bounded) and `dict`: `lipsum(10**9)`, `namespace()` and friends are gone.
        self.globals = {"range": _bounded_range, "dict": dict}
        self.filters = {
            name: _bounded_filter(name, f) for name, f in self.filters.items() if name not in _REMOVED_FILTERS
        }
        self.filters["_bounded_iter"] = _bounded_iter
        # The pages' formatting, for messages: `{{ attributes.credit | money }}`.
        for name, function in (
            ("money", formatting.money),
            ("number", formatting.number),
            ("date", _date_filter),
        ):
            self.filters[name] = _bounded_filter(name, function)

    def wrap_str_format(self, value: Any) -> None:
        # `'{:>300000000}'.format(1)`: `format` is not among the safe attributes of text.
        return None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            _check_product(left, right)
        elif operator == "+":
            _check_sum(left, right)
        elif operator == "**":
            _check_power(left, right)
        return super().call_binop(context, operator, left, right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        for kind, allowed in _SAFE_ATTRIBUTES.items():
            if type(obj) is kind:
                return attr in allowed
        return super().is_safe_attribute(obj, attr, value)


_env = _BoundedEnvironment()

# The statements a message may use; the others (set, macro, call, include, import, extends,
# block, with, filter blocks) could repeat work or text without bound, and messages need none.
_STATEMENTS = (nodes.Output, nodes.If, nodes.For)


def _bounded_ast(source: str, path: str) -> nodes.Template:
    """Parse, refuse what messages may not use, and wrap every loop's items in `_bounded_iter`."""
    try:
        ast = _env.parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidTemplate(
            f"The message has a mistake: {_plain(exc.message or '', exc.lineno)}",
            details=[{"path": path, "line": exc.lineno, "message": exc.message or "syntax error"}],
        ) from None
    for node in ast.find_all(nodes.Stmt):
        if not isinstance(node, _STATEMENTS):
            name = type(node).__name__.lower()
            raise InvalidTemplate(
                f"`{name}` is not available in messages (line {node.lineno}): use output, if and for",
                details=[{"path": path, "line": node.lineno, "message": f"{name} is not available"}],
            )
    for loop in ast.find_all(nodes.For):
        if loop.recursive or any(True for _ in loop.find_all(nodes.For)):
            raise InvalidTemplate(
                f"loops in messages do not nest or recurse (line {loop.lineno})",
                details=[{"path": path, "line": loop.lineno, "message": "nested or recursive loop"}],
            )
        loop.iter = nodes.Filter(loop.iter, "_bounded_iter", [], [], None, None, lineno=loop.lineno)
    return ast


# Jinja's own wording ("Expected an expression, got 'end of statement block'") is for
# programmers; a marketer reads what to change. The original stays in the error's details.
_PLAIN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (
            r"innermost block that needs to be closed is '(\w+)'",
            "a {{% {0} %}} is not closed: end it with {{% end{0} %}}",
        ),
        (r"expected 'end of print statement'", "a {{{{ … }}}} is not closed: end it with }}}}"),
        (r"got 'end of statement block'", "a {{% … %}} tag is missing its condition, e.g. {{% if city %}}"),
        (
            r"got 'end of print statement'",
            "a {{{{ }}}} is empty or ends too soon: put a detail in it, e.g. {{{{ first_name }}}}",
        ),
        (r"unexpected '}'", "there is a stray }}: details are written {{{{ first_name }}}}"),
        (
            r"unknown tag '(\w+)'",
            "{{% {0} %}} is not something messages understand: use {{% if %}}, {{% for %}} and their ends",
        ),
    )
)


def _plain(message: str, line: int | None) -> str:
    where = f" (line {line})" if line else ""
    for pattern, text in _PLAIN:
        if match := pattern.search(message):
            return text.format(*match.groups()) + where + "."
    return f"check the {{{{ }}}} and {{% %}} parts{where}."


def check(source: str, *, path: str = "$.message") -> None:
    """Refuse a template that does not parse, uses unknown variables, or breaks the sandbox."""
    if len(source) > MAX_LENGTH:
        raise InvalidTemplate(
            f"a message is at most {MAX_LENGTH} characters", details=[{"path": path, "message": "too long"}]
        )
    ast = _bounded_ast(source, path)
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
    try:
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError as exc:  # an unknown filter or test, found when compiling
        raise InvalidTemplate(
            f"the message template does not compile: {exc.message} (line {exc.lineno})",
            details=[{"path": path, "line": exc.lineno, "message": exc.message or "does not compile"}],
        ) from None
    unknown = sorted(undeclared - set(VARIABLES))
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
    # A dry run catches what only rendering finds: sandbox violations, bad filters, output
    # over the cap. (render raises InvalidTemplate; here it also names the field.)
    try:
        render(source, _SAMPLE)
    except InvalidTemplate as exc:
        raise type(exc)(exc.message, details=[{"path": path, "message": exc.message}]) from None


def used_variables(source: str) -> list[str]:
    """The variables a template uses, in the order of VARIABLES; none for one that does not parse."""
    try:
        used = meta.find_undeclared_variables(_env.parse(source))
    except TemplateSyntaxError:
        return []
    return [name for name in VARIABLES if name in used]


def _line_of(source: str, name: str) -> int | None:
    for number, line in enumerate(source.splitlines(), start=1):
        if name in line:
            return number
    return None


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    # Compiling is ~100x the cost of rendering; a campaign renders one source a million times.
    return _env.from_string(_bounded_ast(source, "$.message"))


def render(source: str, context: dict[str, Any]) -> str:
    """The message for one customer. InvalidTemplate (a 422, or a failed message when sending)
    if it cannot render; TemplateTooLong past MAX_RENDERED characters, stopping right there."""
    try:
        template = _compiled(source)
    except InvalidTemplate:
        raise
    except TemplateSyntaxError as exc:  # e.g. an unknown filter, found when compiling
        raise InvalidTemplate(
            f"the message template cannot render: {exc.message} (line {exc.lineno})"
        ) from None
    token = _deadline.set(time.monotonic() + MAX_RENDER_SECONDS)
    try:
        return _collect(template.generate(context))
    finally:
        _deadline.reset(token)


def _collect(chunks: Iterable[str]) -> str:
    out: list[str] = []
    size = 0
    try:
        for chunk in chunks:
            _tick()
            size += len(chunk)
            if size > MAX_RENDERED:
                raise TemplateTooLong(f"a rendered message is at most {MAX_RENDERED:,} characters")
            out.append(chunk)
    except InvalidTemplate:
        raise
    except Exception as exc:  # anything a template does wrong: its fault, not ours
        raise InvalidTemplate(f"the message template cannot render: {_describe(exc)}") from None
    return "".join(out).strip()


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


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


def _money(value: Decimal | None) -> formatting.Money | None:
    return None if value is None else formatting.Money(value)


def _date(value: datetime | None) -> str | None:
    return None if value is None else formatting.date_(value)


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
