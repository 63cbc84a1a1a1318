"""AI assistant API shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pulsecrm.ai.lookalike import MAX_SIZE as MAX_LOOKALIKE
from pulsecrm.ai.offline import MAX_PROMPT
from pulsecrm.segments.schemas import SegmentOut
from pulsecrm.validation import DbId, Text


class SegmentPromptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    prompt: Text = Field(
        min_length=1,
        max_length=MAX_PROMPT,
        description="Who to reach, in plain words: “spent over 5k but haven't ordered in 3 months, in Pune”.",
    )


class ConditionNote(BaseModel):
    path: str = Field(description="JSON path of the node in `rules`, e.g. `$.rules[1].rules[0]`.")
    text: str


class SegmentSuggestionOut(BaseModel):
    rules: dict[str, Any] = Field(description="A rule tree, checked like any other; edit and save it freely.")
    explanation: str = Field(description="The whole tree as one sentence.")
    conditions: list[ConditionNote] = Field(description="One line per condition (and per nested group).")
    not_understood: list[str] = Field(description="Parts of the prompt that were not used. Show them!")
    notes: list[str] = Field(description="Defaults assumed, e.g. “lapsed” with no period: 90 days.")
    engine: Literal["offline", "model"]
    fallback_reason: str | None = Field(
        default=None, description="Set when a model is configured but its answer was not used."
    )
    count: int = Field(description="Matching customers now (capped: see count_is_lower_bound).")
    count_is_lower_bound: bool = False


class MessagesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    goal: Text = Field(min_length=1, max_length=500, description="“Win back lapsed customers with 10% off”.")
    rules: Any = Field(default=None, description="The audience as a rule tree…")
    segment_id: DbId | None = Field(default=None, description="…or a saved segment; neither = everyone.")
    count: int = Field(default=3, ge=1, le=8)
    channel: Literal["sms", "email"] = "sms"


class AudienceOut(BaseModel):
    size: int
    with_orders: int
    median_spend: Decimal | None
    avg_spend: Decimal | None
    median_days_since_order: int | None
    lapsed_share: float = Field(
        description="Share with no order in the last 90 days (never ordered included)."
    )
    top_city: str | None


class VariantOut(BaseModel):
    angle: str = Field(description="What sets this variant apart: “urgency”, “their history” …")
    message: str = Field(
        description="A template over the campaign variables; use it as a campaign `message`."
    )
    subject: str | None = Field(description="E-mail only; also a template.")
    engine: Literal["offline", "model"]
    preview: str = Field(description="The message rendered for one customer of the audience.")
    preview_subject: str | None = None
    length: int = Field(description="Characters of the preview.")


class MessagesOut(BaseModel):
    variants: list[VariantOut]
    audience: AudienceOut
    channel: Literal["sms", "email"]


class SummaryOut(BaseModel):
    sentences: list[str] = Field(description="3-6 plain sentences; every number in them is in `facts`.")
    text: str
    facts: dict[str, Any] = Field(description="Delivered and failed overall and by city, spend and recency.")
    engine: Literal["offline"] = "offline"


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    # With the tzdata package installed, a directory of zones ("America") is an IsADirectoryError.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name like 'Asia/Kolkata'") from None
    return name


class SendTimeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rules: Any = Field(default=None, description="The audience as a rule tree…")
    segment_id: DbId | None = Field(default=None, description="…or a saved segment; neither = everyone.")
    timezone: Annotated[str, AfterValidator(_zone)] = Field(
        default="UTC", max_length=64, description="Hours are given in this IANA time zone."
    )


class SendTimeOut(BaseModel):
    orders: int = Field(description="Orders of the audience counted.")
    hours: list[int] = Field(description="Orders by local hour of day, 0-23.")
    suggested_hour: int | None = Field(description="Start of the busiest three-hour window (local).")
    share: float = Field(description="Of all orders, the share placed in that window.")
    timezone: str
    sentence: str
    next_at: datetime | None = Field(
        default=None,
        description="The next time the suggested hour starts in `timezone`, with that zone's offset: "
        "what the wizard's “Suggest a time” puts in the campaign's schedule.",
    )


class LookalikeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    segment_id: DbId | None = Field(default=None, description="The seed: a saved segment's customers…")
    campaign_id: DbId | None = Field(
        default=None, description="…or a campaign's converters (an order attributed to its messages)."
    )
    size: int = Field(default=1000, ge=1, le=MAX_LOOKALIKE, description="How many lookalikes to find.")
    preview: int = Field(default=20, ge=0, le=100, description="How many of them to list, best first.")


class LookalikeSaveIn(LookalikeIn):
    name: Text = Field(min_length=1, max_length=200, description="The new list segment's name.")
    description: Text | None = Field(default=None, max_length=1000)


class SeedOut(BaseModel):
    kind: Literal["segment", "campaign"]
    id: int
    name: str
    customers: int = Field(description="Seed members in all.")


class DriverOut(BaseModel):
    feature: str = Field(description="The catalog field it comes from (`city`, `attributes.vip` …).")
    label: str
    weight: float = Field(description="Its share of the ranking's weight, 0-1.")
    difference: float = Field(description="Seed average minus everyone's, in standard deviations.")
    seed_value: str = Field(description="Typical in the seed (median, or share), as shown.")
    base_value: str = Field(description="Typical among all customers scanned.")
    text: str


class LookalikeCustomer(BaseModel):
    external_id: str
    name: str
    city: str | None
    total_spend: Decimal
    order_count: int
    last_order_at: datetime | None
    similarity: float = Field(description="0-1: exp(-d²/2) of the weighted distance to the seed's centroid.")


class LookalikeOut(BaseModel):
    seed: SeedOut
    size: int = Field(
        description="Lookalikes found: the size asked, or fewer when fewer are outside the seed."
    )
    scanned: int = Field(description="Customers outside the seed that were ranked.")
    sampled: bool = Field(
        description="true when the seed or the customers outside it were over the scan caps and an "
        "even sample by id was read."
    )
    drivers: list[DriverOut] = Field(description="What sets the seed apart, most decisive first.")
    min_similarity: float | None = Field(description="The similarity of the last lookalike found.")
    customers: list[LookalikeCustomer] = Field(description="The first `preview` lookalikes, best first.")
    method: str


class LookalikeSavedOut(LookalikeOut):
    segment: SegmentOut = Field(description="The new list segment holding the lookalikes.")
