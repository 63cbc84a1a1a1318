"""The rule tree: strict Pydantic models, then a type check against the field catalog.

    {"version": 1, "op": "and", "not": false, "rules": [
        {"field": "total_spend", "cmp": "gt", "value": 5000},
        {"op": "or", "rules": [...]}]}

Parsing refuses unknown keys; checking refuses unknown fields, comparators that do not fit
the field's type and values of the wrong type, each reported with the JSON path of the bad
node. An empty group means everyone. The result is a tree of `Checked` nodes whose values
are already converted (Decimal, datetime, int, ...), ready for the compiler.

Values are refused where the database could not hold them: whole numbers outside int64,
amounts beyond NUMERIC(14,2), dates outside 1900-2199 (UTC), text with NUL. A whole tree is
capped (MAX_CONDITIONS, MAX_GROUPS, MAX_TOTAL_VALUES), counted on the raw JSON before any
parsing, so a large tree costs a walk that stops at the cap, and the largest allowed tree
parses, checks and compiles in a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from pulsecrm.errors import InvalidInput, validation_details
from pulsecrm.segments.catalog import (
    CAMPAIGN_CMPS,
    COMPARATORS,
    ENGAGEMENT_NAMES,
    MEMBERSHIP_CMPS,
    Catalog,
    FieldSpec,
)
from pulsecrm.validation import TIMESTAMP_RANGE, in_timestamp_range, int64_problem, utc_instant

MAX_DEPTH = 8
MAX_NODES = 200  # rules in one group
MAX_LIST = 1000  # values of one `in` / `not_in`
# Conditions in the whole tree. Measured: 200 conditions on custom attributes (the costliest)
# build in ~10 ms and compile to SQL in ~50 ms; 500 took 20 ms and 130 ms.
MAX_CONDITIONS = 200
MAX_GROUPS = 50  # groups in the whole tree
MAX_TOTAL_VALUES = 5000  # list values (`in`, `not_in`, `between`) in the whole tree
MAX_DAYS = 36_500
MAX_ENGAGEMENT_DAYS = 365  # "messages sent in the last N days"
MAX_MONEY = Decimal("1e12")  # NUMERIC(14,2) holds up to 999,999,999,999.99


class InvalidRules(InvalidInput):
    code = "invalid_rules"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "group" if "op" in value or "rules" in value else "condition"
    return "group" if isinstance(value, Group) else "condition"


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1, max_length=100)
    cmp: str = Field(min_length=1, max_length=40)
    value: Any = None


Node = Annotated[
    Annotated[Condition, Tag("condition")] | Annotated["Group", Tag("group")], Discriminator(_kind)
]


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    op: Literal["and", "or"] = "and"
    negate: bool = Field(default=False, alias="not", description="Match what the group does not.")
    rules: list[Node] = Field(default_factory=list, max_length=MAX_NODES)


class RuleTree(Group):
    version: Literal[1] = 1


def parse(raw: Any, *, prefix: str = "$") -> RuleTree:
    """Parse a rule tree from JSON-like data; 422 with the path of every bad node."""
    _within_caps(raw, prefix)
    try:
        return RuleTree.model_validate(raw)
    except ValidationError as exc:
        details, count = validation_details(exc.errors(include_url=False, include_input=False))
        for detail in details:
            detail["path"] = json_path(detail.pop("loc"), prefix)
        details = [{"path": d["path"], "message": d["message"], "type": d["type"]} for d in details]
        raise InvalidRules(_summary(details), details=details, count=count) from None


def _within_caps(raw: Any, prefix: str) -> None:
    """Refuse a tree over the whole-tree caps before building it: a walk of the raw JSON that
    stops as soon as a cap is passed, so a 100,000-condition tree costs no more than the cap."""
    conditions = groups = values = 0
    stack: list[tuple[Any, int]] = [(raw, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        if _kind(node) == "group":
            groups += 1
            if depth > MAX_DEPTH + 1:
                _too_big(prefix, f"groups nest at most {MAX_DEPTH} deep", "too_deep")
            rules = node.get("rules")
            if isinstance(rules, list):
                if len(rules) > MAX_CONDITIONS + MAX_GROUPS:
                    _too_big(prefix, f"a tree has at most {MAX_CONDITIONS} conditions", "too_many_conditions")
                stack.extend((child, depth + 1) for child in rules)
        else:
            conditions += 1
            value = node.get("value")
            if isinstance(value, list):
                values += len(value)
        if conditions > MAX_CONDITIONS:
            _too_big(prefix, f"a tree has at most {MAX_CONDITIONS} conditions", "too_many_conditions")
        if groups > MAX_GROUPS:
            _too_big(prefix, f"a tree has at most {MAX_GROUPS} groups", "too_many_groups")
        if values > MAX_TOTAL_VALUES:
            _too_big(prefix, f"a tree has at most {MAX_TOTAL_VALUES} list values in all", "too_many_values")


def _too_big(prefix: str, message: str, kind: str) -> None:
    details = [{"path": prefix, "message": message, "type": kind}]
    raise InvalidRules(_summary(details), details=details)


def json_path(loc: tuple[Any, ...] | list[Any], prefix: str = "$") -> str:
    path = prefix
    for part in loc:
        if part in ("condition", "group"):  # the union's tag, not a JSON key
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def dump(tree: RuleTree) -> dict[str, Any]:
    """The canonical stored form (aliases, `not` only when set)."""
    return tree.model_dump(mode="json", by_alias=True, exclude_defaults=False)


# --- the type check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedCondition:
    spec: FieldSpec
    cmp: str
    value: Any  # converted: Decimal, int, float, str, bool, datetime, list, tuple, or None
    path: str = ""  # the JSON path of the condition, for errors found after the check

    @property
    def campaign_id(self) -> int | None:
        """The campaign an engagement condition names, if it names one."""
        return self.value if self.cmp in CAMPAIGN_CMPS else None

    @property
    def segment_id(self) -> int | None:
        """The list segment a membership condition names."""
        return self.value if self.cmp in MEMBERSHIP_CMPS else None


@dataclass(frozen=True)
class CheckedGroup:
    op: str
    negate: bool
    rules: tuple[CheckedCondition | CheckedGroup, ...]


def check(tree: RuleTree, catalog: Catalog, *, prefix: str = "$") -> CheckedGroup:
    errors: list[dict[str, Any]] = []
    checked = _check_group(tree, catalog, prefix, 1, errors)
    if errors:
        raise InvalidRules(_summary(errors), details=errors)
    return checked


def _summary(errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"invalid rules at {first['path']}: {first['message']}{more}"


def _check_group(
    group: Group, catalog: Catalog, path: str, depth: int, errors: list[dict[str, Any]]
) -> CheckedGroup:
    if depth > MAX_DEPTH:
        errors.append({"path": path, "message": f"groups nest at most {MAX_DEPTH} deep", "type": "too_deep"})
        return CheckedGroup(group.op, group.negate, ())
    out: list[CheckedCondition | CheckedGroup] = []
    for i, node in enumerate(group.rules):
        node_path = f"{path}.rules[{i}]"
        if isinstance(node, Group):
            out.append(_check_group(node, catalog, node_path, depth + 1, errors))
        else:
            condition = _check_condition(node, catalog, node_path, errors)
            if condition is not None:
                out.append(condition)
    return CheckedGroup(group.op, group.negate, tuple(out))


def _check_condition(
    node: Condition, catalog: Catalog, path: str, errors: list[dict[str, Any]]
) -> CheckedCondition | None:
    spec = catalog.get(node.field)
    if spec is None:
        errors.append(
            {"path": f"{path}.field", "message": f"unknown field {node.field!r}", "type": "unknown_field"}
        )
        return None
    allowed = COMPARATORS[spec.type]
    if node.cmp not in allowed:
        errors.append(
            {
                "path": f"{path}.cmp",
                "message": f"{node.cmp!r} does not apply to {spec.type} field {spec.name!r}; "
                f"use one of: {', '.join(allowed)}",
                "type": "bad_comparator",
            }
        )
        return None
    try:
        value = _convert(spec.type, node.cmp, node.value, spec.max_integer)
    except ValueError as exc:
        errors.append({"path": f"{path}.value", "message": str(exc), "type": "bad_value"})
        return None
    return CheckedCondition(spec, node.cmp, value, path)


def campaign_references(tree: CheckedGroup) -> list[tuple[str, int]]:
    """(JSON path of the value, campaign id) of every condition that names a campaign: the
    caller checks they exist, which takes the database."""
    return _references(tree, lambda node: node.campaign_id)


def segment_references(tree: CheckedGroup) -> list[tuple[str, int]]:
    """(JSON path of the value, segment id) of every membership condition: the caller checks
    each names an existing list segment."""
    return _references(tree, lambda node: node.segment_id)


def _references(tree: CheckedGroup, named: Callable[[CheckedCondition], int | None]) -> list[tuple[str, int]]:
    """(JSON path of the value, id) of every condition for which `named` gives an id."""
    found: list[tuple[str, int]] = []
    for node in tree.rules:
        if isinstance(node, CheckedGroup):
            found.extend(_references(node, named))
        elif (ref := named(node)) is not None:
            found.append((f"{node.path}.value", ref))
    return found


def bad_segments(references: list[tuple[str, int]], kinds: dict[int, str]) -> None:
    """422 naming every membership condition whose segment does not exist or is not a list
    (`kinds`: the kind of each existing segment referred to)."""
    errors = []
    for path, segment_id in references:
        kind = kinds.get(segment_id)
        if kind is None:
            errors.append(
                {"path": path, "message": f"no segment with id {segment_id}", "type": "unknown_segment"}
            )
        elif kind != "list":
            errors.append(
                {
                    "path": path,
                    "message": f"segment {segment_id} is a rule segment: use its rules; "
                    "in_segment takes a list segment",
                    "type": "not_a_list_segment",
                }
            )
    if errors:
        raise InvalidRules(_summary(errors), details=errors)


def missing_campaigns(references: list[tuple[str, int]], existing: set[int]) -> None:
    """422 naming every condition whose campaign does not exist."""
    errors = [
        {"path": path, "message": f"no campaign with id {campaign_id}", "type": "unknown_campaign"}
        for path, campaign_id in references
        if campaign_id not in existing
    ]
    if errors:
        raise InvalidRules(_summary(errors), details=errors)


def _convert(field_type: str, cmp: str, value: Any, limit: int) -> Any:
    if cmp in ("is_set", "is_not_set"):
        if value is not None:
            raise ValueError(f"{cmp} takes no value")
        return None
    if value is None:
        raise ValueError(f"{cmp} needs a value")
    if field_type == "engagement":
        return _engagement(cmp, value)
    if field_type == "membership":
        segment_id = _integer(value, "a segment id")
        if segment_id < 1:
            raise ValueError("expected a segment id (a whole number from 1)")
        return segment_id
    if cmp in ("within_last_days", "not_within_last_days"):
        days = _integer(value, "a number of days")
        if not 0 <= days <= MAX_DAYS:
            raise ValueError(f"days must be between 0 and {MAX_DAYS}")
        return days
    if cmp == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError("between takes a list of two values [low, high]")
        low, high = (_scalar(field_type, v, limit) for v in value)
        if field_type == "date":
            low, high = _date_bound(value[0], low, upper=False), _date_bound(value[1], high, upper=True)
        if low > high:
            raise ValueError("between: the low value is greater than the high value")
        return (low, high)
    if cmp in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{cmp} takes a non-empty list")
        if len(value) > MAX_LIST:
            raise ValueError(f"{cmp} takes at most {MAX_LIST} values")
        return tuple(_scalar(field_type, v, limit) for v in value)
    converted = _scalar(field_type, value, limit)
    if field_type == "date":
        return _date_bound(value, converted, upper=cmp == "after")
    return converted


def _engagement(cmp: str, value: Any) -> int:
    if cmp in CAMPAIGN_CMPS:
        campaign_id = _integer(value, "a campaign id")
        if campaign_id < 1:
            raise ValueError("expected a campaign id (a whole number from 1)")
        return campaign_id
    days = _integer(value, "a number of days")
    if not 1 <= days <= MAX_ENGAGEMENT_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_ENGAGEMENT_DAYS}")
    return days


def _scalar(field_type: str, value: Any, limit: int) -> Any:
    """One value converted to the field's type; `limit` is the largest whole number its column holds."""
    if field_type == "money":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("expected an amount (number or decimal string)")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount") from None
        if not amount.is_finite() or abs(amount) >= MAX_MONEY:
            raise ValueError(f"{value!r} is out of range: amounts are below {MAX_MONEY:,.0f}")
        exponent = amount.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:
            raise ValueError(f"{value!r}: amounts have at most 2 decimal places")
        return amount
    if field_type == "integer":
        number = _integer(value, "a whole number")
        if not -limit - 1 <= number <= limit:
            raise ValueError(f"must be a whole number between {-limit - 1} and {limit}")
        return number
    if field_type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("expected a number")
        if value != value or abs(value) > 1e15:
            raise ValueError("number out of range")
        return float(value)
    if field_type == "text":
        if not isinstance(value, str):
            raise ValueError("expected text")
        if len(value) > 500:
            raise ValueError("text is at most 500 characters")
        if "\x00" in value:
            raise ValueError("text must not contain a NUL character")
        return value
    if field_type == "boolean":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if field_type == "date":
        return _datetime(value)
    raise ValueError(f"unsupported field type {field_type}")


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected {what}")
    if isinstance(value, int):
        problem = int64_problem(value)
        if problem:
            raise ValueError(problem)
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    raise ValueError(f"expected {what}")


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 date or date-time")
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date or date-time") from None
    if parsed.tzinfo is None:
        raise ValueError("date-times need a UTC offset (or give a plain date)")
    instant = utc_instant(parsed)
    if instant is None or not in_timestamp_range(parsed):
        raise ValueError(f"{value!r}: dates must be {TIMESTAMP_RANGE}")
    return instant


def _date_bound(raw: Any, parsed: datetime, *, upper: bool) -> datetime:
    """A plain date as an upper bound means through the end of that day."""
    if upper and isinstance(raw, str) and len(raw) == 10:
        return parsed + timedelta(days=1) - timedelta(microseconds=1)
    return parsed


# --- tree algebra -----------------------------------------------------------------------------

Rule = Condition | Group

_FLIP = {
    "eq": "ne", "ne": "eq", "in": "not_in", "not_in": "in", "within_last_days": "not_within_last_days",
    "not_within_last_days": "within_last_days", "is_set": "is_not_set", "is_not_set": "is_set",
    "in_campaign": "not_in_campaign", "not_in_campaign": "in_campaign",
}  # fmt: skip
# Of the engagement fields only `received` has its `not_` comparators as exact complements:
# "not opened campaign 12" means received it and did not open it, not "everyone but openers".
INEXACT_FLIP = ENGAGEMENT_NAMES - {"received"}
_ORDER_FLIP = {"gt": "lte", "lte": "gt", "gte": "lt", "lt": "gte"}
# Fields every customer has, so "not > 5" is exactly "<= 5" (no one lacks a value).
NEVER_EMPTY = frozenset({"total_spend", "order_count", "created_at", "name", "external_id"})


def negate(node: Rule) -> Rule:
    """The exact complement, as the plainest tree: flip a comparator when that is exact, else
    mark the group `not` (each comparator's missing-value rule is already its own complement's)."""
    if isinstance(node, Condition):
        if node.cmp in _FLIP and node.field not in INEXACT_FLIP:
            return node.model_copy(update={"cmp": _FLIP[node.cmp]})
        if node.cmp in _ORDER_FLIP and node.field in NEVER_EMPTY:
            return node.model_copy(update={"cmp": _ORDER_FLIP[node.cmp]})
        return Group(op="and", negate=True, rules=[node])
    if not node.rules:
        return node  # "not" of everyone: ignored rather than matching no one
    return node.model_copy(update={"negate": not node.negate})


def simplify(node: Rule) -> Rule:
    """The same audience as a plainer tree: same-op groups flattened, empty groups and duplicate
    children dropped, single children unwrapped, a negated single child negated."""
    if isinstance(node, Condition):
        return node
    children: list[Rule] = []
    for child in (simplify(c) for c in node.rules):
        if isinstance(child, Group) and not child.rules:
            continue
        if isinstance(child, Group) and child.op == node.op and not child.negate:
            children.extend(child.rules)
        else:
            children.append(child)
    unique = list({_key(c): c for c in children}.values())
    if not unique:
        return node.model_copy(update={"rules": [], "negate": False})  # "not" of everyone: ignored
    if len(unique) == 1:
        return negate(unique[0]) if node.negate else unique[0]
    return node.model_copy(update={"rules": unique})


def _key(node: Rule) -> str:
    return repr(node.model_dump(mode="json", by_alias=True))
