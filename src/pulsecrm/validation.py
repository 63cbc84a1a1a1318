"""Types that refuse, at the edge, what the databases would refuse later: one of each, used everywhere.

PostgreSQL and SQLite disagree about what they store, and a value either one refuses would be
a 500 in a request or a poison record in a stream. So every id, text, time and number the API
takes is one of these types, and the error says, in plain words, what the value must be:

- `DbId`: an id of a row, 1 to 2^63-1 (BIGINT). Works as a path, query or body parameter;
  `IdCursor` is the cursor of a list ordered by id.
- `Int64`: any whole number a BIGINT (and SQLite's INTEGER) holds.
- `Text`: text without NUL, which PostgreSQL cannot store (add a length with `Field(...)`).
- `Timestamp`: a date-time with a UTC offset whose UTC instant lies in 1900-01-01 to
  2199-12-31 (see `TIMESTAMP_MIN`/`TIMESTAMP_MAX`), inside what both databases, Python and
  every offset can represent.
- `Email`: pydantic's `EmailStr` (email-validator's rules and normal form), at a fraction of
  its cost on ordinary addresses.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from annotated_types import Interval
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, EMAIL_MAX_LENGTH
from fastapi import Query
from pydantic import AfterValidator, GetPydanticSchema, StringConstraints, WithJsonSchema
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError, core_schema

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
NUL_MESSAGE = "must not contain a NUL character"
# A pattern, not a Python validator: pydantic checks it in Rust on every ingested string, and
# errors.plain_message turns its error into NUL_MESSAGE.
NO_NUL = r"^[^\x00]*$"

TIMESTAMP_MIN = datetime(1900, 1, 1, tzinfo=UTC)
TIMESTAMP_MAX = datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
TIMESTAMP_RANGE = "between 1900-01-01T00:00:00Z and 2199-12-31T23:59:59Z"

DbId = Annotated[int, Interval(ge=1, le=INT64_MAX)]
# `next_cursor` of an id-ordered list: an id, as digits (18 of them always fit in int64).
IdCursor = Annotated[str | None, Query(pattern=r"^\d{1,18}$", description="`next_cursor` of the last page.")]
Int64 = Annotated[int, Interval(ge=INT64_MIN, le=INT64_MAX)]
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]


def utc_instant(value: datetime) -> datetime | None:
    """The UTC instant of an aware date-time, or None when it lies outside Python's years 1-9999
    (`0001-01-01T00:00:00+05:30` is in year 0 in UTC)."""
    offset = value.utcoffset() or timedelta(0)
    try:
        return (value.replace(tzinfo=None) - offset).replace(tzinfo=UTC)
    except OverflowError:
        return None


def in_timestamp_range(value: datetime) -> bool:
    instant = utc_instant(value)
    return instant is not None and TIMESTAMP_MIN <= instant <= TIMESTAMP_MAX


def _timestamp_schema() -> core_schema.CoreSchema:
    """Text or a datetime (never a number: pydantic alone reads 0 as 1970-01-01, and the API
    documents ISO 8601 text), then an aware date-time within the range.

    Written as a core schema rather than Python validators: pydantic checks it in Rust,
    comparing UTC instants (so year 1 at +05:30 is refused), and a 1,000-record batch parses
    as fast as it did before these checks existed. errors.plain_message words the range error.
    """
    text_or_datetime = core_schema.custom_error_schema(
        core_schema.union_schema(
            [core_schema.str_schema(strict=True), core_schema.datetime_schema(strict=True)]
        ),
        custom_error_type="timestamp_type",
        custom_error_message="must be an ISO 8601 date-time with a UTC offset",
    )
    in_range = core_schema.datetime_schema(tz_constraint="aware", ge=TIMESTAMP_MIN, le=TIMESTAMP_MAX)
    return core_schema.chain_schema([text_or_datetime, in_range])


Timestamp = Annotated[
    datetime,
    GetPydanticSchema(lambda _type, _handler: _timestamp_schema()),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def int64_problem(value: int) -> str | None:
    if INT64_MIN <= value <= INT64_MAX:
        return None
    return f"must be a whole number between {INT64_MIN} and {INT64_MAX}"


def number_problem(value: float) -> str | None:
    return None if math.isfinite(value) else "must be a finite number"


# email-validator spends ~30 us on an address, most of it checking the domain character by
# character, which made it the larger part of reading a customers file. Most addresses are a
# plain ASCII dot-atom at a domain seen many times ("...@gmail.com"): for those it returns the
# local part as given, so only the domain needs its check, and that check is the same every time.
# Anything else (display names, quoting, Unicode, mixed-case or punycode domains, the RFC 2142
# names it lowercases, long addresses) takes the full check, which also words every error.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
_LOWERCASED_NAMES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


@functools.lru_cache(maxsize=4096)
def _plain_domain(domain: str) -> bool:
    """Whether email-validator takes `domain` as it is written (checked once per domain)."""
    try:
        return validate_email(f"a@{domain}")[1] == f"a@{domain}"
    except PydanticCustomError:
        return False


def _email(value: str) -> str:
    if len(value) <= EMAIL_MAX_LENGTH and _PLAIN.fullmatch(value):
        local, _, domain = value.partition("@")
        if local.lower() not in _LOWERCASED_NAMES and _plain_domain(domain):
            return value
    return validate_email(value)[1]


Email = Annotated[str, AfterValidator(_email), WithJsonSchema({"type": "string", "format": "email"})]
