"""What goes in (strict: unknown keys, wrong types and bad values are refused) and what comes out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from pulsecrm.customers.models import EXTERNAL_ID_LENGTH

# PostgreSQL text cannot hold NUL; refusing it here keeps it a 422 instead of a failed write.
_NO_NUL = r"^[^\x00]*$"


Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NO_NUL)]
City = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_NO_NUL)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_NO_NUL)]
ItemName = Annotated[str, StringConstraints(max_length=200, pattern=_NO_NUL)]
AttributeText = Annotated[str, StringConstraints(max_length=500, pattern=_NO_NUL)]


ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=EXTERNAL_ID_LENGTH, pattern=_NO_NUL),
]
AttributeKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
AttributeValue = AttributeText | int | float | bool | None
Amount = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class CustomerIn(_Strict):
    external_id: ExternalId
    name: Name
    email: EmailStr | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()./-]{5,24}$")] | None = None
    city: City | None = None
    attributes: dict[AttributeKey, AttributeValue] = Field(default_factory=dict, max_length=50)
    created_at: AwareDatetime | None = Field(
        default=None, description="Signup time; defaults to when the record was first received."
    )
    updated_at: AwareDatetime | None = Field(
        default=None,
        description="The record's version at the source. A write older than the stored one is "
        "ignored; defaults to the time the API received it.",
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
    ordered_at: AwareDatetime
    items: list[OrderItem] = Field(default_factory=list, max_length=500)
    updated_at: AwareDatetime | None = Field(
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


class CustomerDetail(CustomerOut):
    recent_orders: list[OrderOut]


class IngestAccepted(BaseModel):
    status: str = Field(description='"queued" (202, in a Redis Stream) or "written" (201).')
    count: int
