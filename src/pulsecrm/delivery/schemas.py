"""Delivery API shapes read by clients: a customer's message history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from pulsecrm.delivery.history import Message

CENT = Decimal("0.01")


class CreditedOrderOut(BaseModel):
    external_id: str
    amount: str = Field(description='Decimal string, e.g. "1499.00".')
    currency: str
    ordered_at: datetime


class MessageOut(BaseModel):
    campaign_id: int
    campaign_name: str
    channel: str
    launched_at: datetime | None = Field(description="When the campaign launched: the list's order.")
    status: Literal["pending", "sent", "delivered", "failed", "unknown", "cancelled", "control"] = Field(
        description="The message's delivery status, or `control`: the campaign held this customer "
        "out as its control group and sent nothing."
    )
    sent_at: datetime | None
    opened_at: datetime | None = Field(description="The first open (a click counts as one).")
    clicked_at: datetime | None = Field(description="The first click.")
    opens: int = Field(description="Open events recorded for the message.")
    clicks: int = Field(description="Click events recorded for the message.")
    orders: list[CreditedOrderOut] = Field(description="Orders credited to the message (last touch).")

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(
            campaign_id=m.campaign_id,
            campaign_name=m.campaign_name,
            channel=m.channel,
            launched_at=m.launched_at,
            status=m.status,
            sent_at=m.sent_at,
            opened_at=m.opened_at,
            clicked_at=m.clicked_at,
            opens=m.opens,
            clicks=m.clicks,
            orders=[
                CreditedOrderOut(
                    external_id=o.external_id,
                    amount=str(o.amount.quantize(CENT)),
                    currency=o.currency,
                    ordered_at=o.ordered_at,
                )
                for o in m.orders
            ],
        )
