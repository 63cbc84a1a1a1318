"""The vendor's wire format: what a send carries and what it answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_BATCH = 1000


class Message(BaseModel):
    # Unknown fields are refused so a client drifting from the contract hears it at once.
    model_config = ConfigDict(extra="forbid", frozen=True)

    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    to: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    channel: Literal["sms", "email"]
    subject: str | None = None
    body: str


class MessageBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[Message] = Field(min_length=1)  # the upper bound is a 413, checked first


class SendResult(BaseModel):
    idempotency_key: str
    message_id: str
    duplicate: bool
