"""What goes in (strict: unknown keys, wrong types and bad values are refused) and what comes out.

Times are `Timestamp`s (1900 to 2199 in UTC, see pulsecrm.validation), text never holds NUL,
and attribute numbers are finite and within int64's range: what both databases store
exactly, so an accepted record is never refused by the database later.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pulsecrm.customers.consent import ChannelName
from pulsecrm.customers.models import EXTERNAL_ID_LENGTH, Customer
from pulsecrm.validation import (
    INT64_MAX,
    INT64_MIN,
    NO_NUL,
    NUL_MESSAGE,
    Email,
    Timestamp,
    int64_problem,
    number_problem,
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
City = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]
ItemName = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]


ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=EXTERNAL_ID_LENGTH, pattern=NO_NUL),
]
AttributeKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
ATTRIBUTE_TEXT_LENGTH = 500


def _attribute_value(value: Any) -> Any:
    """Text (at most 500 characters, no NUL), a number both databases keep exactly, a boolean or
    null. A number must lie within int64 (SQLite keeps a larger JSON integer as a float, 1e+26,
    and the JSON parser already reads one as a float), and a float must be finite."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = value.strip()  # as every other text of the record (str_strip_whitespace)
        if len(value) > ATTRIBUTE_TEXT_LENGTH:
            raise PydanticCustomError(
                "string_too_long", f"must be at most {ATTRIBUTE_TEXT_LENGTH} characters"
            )
        if "\x00" in value:
            raise PydanticCustomError("nul_character", NUL_MESSAGE)
        return value
    if isinstance(value, int):
        problem = int64_problem(value)
    elif isinstance(value, float):
        in_range = INT64_MIN < value < 2**63  # a float at -2**63 was a larger integer, rounded
        problem = number_problem(value) or (
            None if in_range else f"must be a number between {INT64_MIN} and {INT64_MAX}"
        )
    else:
        problem = "must be text, a number, true, false or null"
    if problem:
        raise PydanticCustomError("attribute_value", problem)
    return value


AttributeValue = Annotated[
    str | int | float | bool | None,
    PlainValidator(_attribute_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": ATTRIBUTE_TEXT_LENGTH},
                {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX},
                {"type": "number", "minimum": INT64_MIN, "maximum": INT64_MAX},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]
Amount = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


ConsentState = Literal["opted_in", "opted_out", "unknown"]


class ConsentIn(_Strict):
    """Marketing consent per channel, as of the record's `updated_at`; a channel left out (or
    null) keeps what is stored."""

    email: ConsentState | None = None
    sms: ConsentState | None = None

    def stated(self) -> dict[ChannelName, ConsentState]:
        """The channels this states consent for."""
        pairs: tuple[tuple[ChannelName, ConsentState | None], ...] = (
            ("email", self.email),
            ("sms", self.sms),
        )
        return {channel: status for channel, status in pairs if status is not None}


class ConsentUpdate(ConsentIn):
    """`PUT /customers/{id}/consent`: at least one channel."""

    @model_validator(mode="after")
    def _names_a_channel(self) -> ConsentUpdate:
        if self.email is None and self.sms is None:
            raise PydanticCustomError("no_channel", 'name at least one channel: "email" or "sms"')
        return self


class CustomerIn(_Strict):
    external_id: ExternalId
    name: Name
    email: Email | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()./-]{5,24}$")] | None = None
    city: City | None = None
    attributes: dict[AttributeKey, AttributeValue] = Field(default_factory=dict, max_length=50)
    created_at: Timestamp | None = Field(
        default=None, description="Signup time; defaults to when the record was first received."
    )
    updated_at: Timestamp | None = Field(
        default=None,
        description="The record's version at the source. A write older than the stored one is "
        "ignored; defaults to the time the API received it.",
    )
    consent: ConsentIn | None = Field(
        default=None,
        description="Consent per channel. It replaces the stored one only when at least as new "
        "(it is dated by `updated_at`); a record without it leaves consent as it is.",
    )


class OrderItem(_Strict):
    sku: Sku
    name: ItemName | None = None
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    unit_price: Amount | None = None


class OrderIn(_Strict):
    external_id: ExternalId
    customer_external_id: ExternalId
    amount: Amount
    currency: Currency | None = Field(default=None, description="ISO 4217; default from settings.")
    ordered_at: Timestamp
    items: list[OrderItem] = Field(default_factory=list, max_length=500)
    updated_at: Timestamp | None = Field(
        default=None,
        description="The order's version at the source (send a newer one to amend an order).",
    )


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    external_id: str
    customer_external_id: str
    amount: Decimal
    currency: str
    ordered_at: datetime
    items: list[dict[str, Any]]
    updated_at: datetime


class ChannelConsentOut(BaseModel):
    status: ConsentState
    at: datetime | None = Field(description="When it was given or withdrawn; null if never stated.")
    source: str | None = Field(
        description='Where it came from: "ingest", "import", "unsubscribe", "unsubscribe_link" or '
        '"user:<who>"; null if never stated.'
    )


class ConsentOut(BaseModel):
    email: ChannelConsentOut
    sms: ChannelConsentOut


def consent_of(customer: Customer) -> ConsentOut:
    return ConsentOut(
        email=ChannelConsentOut(
            status=customer.email_consent,
            at=customer.email_consent_at,
            source=customer.email_consent_source,
        ),
        sms=ChannelConsentOut(
            status=customer.sms_consent,
            at=customer.sms_consent_at,
            source=customer.sms_consent_source,
        ),
    )


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    external_id: str
    name: str
    email: str | None
    phone: str | None
    city: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    total_spend: Decimal
    order_count: int
    avg_order_value: Decimal | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    unsubscribed_at: datetime | None
    consent: ConsentOut

    @model_validator(mode="before")
    @classmethod
    def _consent_from_columns(cls, data: Any) -> Any:
        # The table keeps consent as three columns per channel; the API shows one object.
        if isinstance(data, Customer):
            fields = {name: getattr(data, name) for name in CustomerOut.model_fields if name != "consent"}
            return fields | {"consent": consent_of(data)}
        return data


class CustomerDetail(CustomerOut):
    recent_orders: list[OrderOut]


class IngestAccepted(BaseModel):
    status: str = Field(description='"queued" (202, in a Redis Stream) or "written" (201).')
    count: int
