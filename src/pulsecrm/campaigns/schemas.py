"""Campaign API shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from pulsecrm.ai.tags import TAGS, Tag
from pulsecrm.campaigns import templates
from pulsecrm.campaigns.models import Campaign
from pulsecrm.campaigns.variants import LABELS
from pulsecrm.config import Settings
from pulsecrm.db import utcnow
from pulsecrm.delivery import quiet
from pulsecrm.delivery.models import Delivery
from pulsecrm.outcomes.money import minor_to_text
from pulsecrm.validation import DbId, Text


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    message: Text = Field(min_length=1, max_length=templates.MAX_LENGTH)
    subject: Text | None = Field(default=None, max_length=300, description="E-mail: this variant's subject.")


class VariantTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percent: int = Field(default=20, ge=2, le=50, description="Share of the audience the test goes to.")
    hours: int = Field(
        default=4, ge=1, le=72, description="How long the test runs before the winner is picked."
    )
    metric: Literal["clicked", "converted"] = Field(
        default="clicked", description="What the winner is chosen by."
    )


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Text = Field(min_length=1, max_length=200)
    channel: Literal["sms", "email"] = "sms"
    message: Text | None = Field(
        default=None,
        min_length=1,
        max_length=templates.MAX_LENGTH,
        description="A template: {{ first_name | default('there') }} … (absent when `variants` are given)",
    )
    subject: Text | None = Field(default=None, max_length=300, description="E-mail only; also a template.")
    variants: list[VariantIn] | None = Field(
        default=None,
        min_length=2,
        max_length=5,
        description="A/B: 2-5 message variants instead of `message`, split evenly (or tested first: "
        "`variant_test`).",
    )
    variant_test: VariantTestIn | None = Field(
        default=None, description="Test the variants on a share first, then send the winner to the rest."
    )
    rules: Any = Field(default=None, description="The audience as a rule tree…")
    segment_id: DbId | None = Field(default=None, description="…or a saved segment (its rules are copied).")
    rate_limit: int | None = Field(default=None, ge=1, le=100_000, description="Messages per second.")
    tags: list[Tag] | None = Field(
        default=None,
        max_length=len(TAGS),
        description="Leave out to have them suggested from the rules and message.",
    )
    # Strict: `false` is not a percentage (lax mode would read it as 0).
    holdout_percent: int = Field(
        default=0,
        strict=True,
        ge=0,
        le=50,
        description="Share of the reachable audience held out as a control group and sent nothing, "
        "to measure the lift (0 = no control group).",
    )
    attribution_days: int = Field(
        default=5,
        strict=True,
        ge=1,
        le=30,
        description="An order counts for a message when placed this many days after it at most.",
    )
    scheduled_at: AwareDatetime | None = Field(
        default=None,
        description="When to send, ISO 8601 with offset, in the future: launching before then arms "
        "the campaign (status `scheduled`) and it starts by itself at that time, its audience "
        "frozen then.",
    )
    send_at: Literal["now", "best_hour"] = Field(
        default="now",
        description="`now`: every message as soon as it starts; `best_hour`: each customer's "
        "message at the hour of day they most often order (store time), within 24 hours.",
    )


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: AwareDatetime | None = Field(
        description="The new time, in the future; null unschedules (an armed campaign goes back to draft)."
    )


class SendHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["sms", "email"] = "sms"
    rules: Any = Field(default=None, description="The audience as a rule tree…")
    segment_id: DbId | None = Field(default=None, description="…or a saved segment.")


class SendHoursOut(BaseModel):
    timezone: str = Field(description="The store's time zone, in which the hours are given.")
    hours: dict[int, int] = Field(
        description="Hour of day (0-23) -> customers a best-hour launch now would message then."
    )


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[Tag] = Field(max_length=len(TAGS), description=f"Any of: {', '.join(TAGS)}.")


class Stats(BaseModel):
    audience: int
    pending: int
    sent: int
    delivered: int
    failed: int
    unknown: int
    cancelled: int
    capped: int = Field(
        description="Left out when their turn came: the customer had had the store's frequency cap "
        "of campaign messages."
    )
    unsubscribed_excluded: int = Field(description="Matched, but unsubscribed from everything.")
    no_consent_excluded: int = Field(
        description="Matched, but opted out of the channel (or consent unknown where the store "
        "messages only those who opted in)."
    )
    unreachable_excluded: int = Field(
        description="Matched and consenting, but with no address for the channel."
    )
    delivery_rate: float | None = Field(description="delivered / (delivered + failed)")
    control: int = Field(description="Held out as the control group: sent nothing.")
    opened: int = Field(description="Customers who opened (a click counts as an open).")
    clicked: int = Field(description="Customers who clicked a link.")
    converted: int = Field(
        description="Customers with an order credited to this campaign (last touch, within attribution_days)."
    )
    orders: int = Field(description="Orders credited to this campaign.")
    revenue: str = Field(description="Their total, a decimal string.")
    conversion_rate: float | None = Field(description="converted / messages that went out (not failed)")
    revenue_per_message: str | None = Field(description="revenue / messages that went out, a decimal string")


class Winner(BaseModel):
    variant: int
    label: str
    reason: str
    at: datetime | None


class Pause(BaseModel):
    reason: str
    since: datetime | None
    by_policy: bool = Field(
        description="Paused by the error policy, not by a person: it resumes by itself when the "
        "transport answers again (unless delivery_auto_resume is off)."
    )


class CampaignOut(BaseModel):
    id: int
    name: str
    status: str
    channel: str
    subject: str | None
    message: str
    rules: dict[str, Any]
    segment_id: int | None
    rate_limit: int | None
    stats: Stats
    pause: Pause | None = Field(description="Why the campaign is paused, while it is.")
    created_by: str
    created_at: datetime
    launched_at: datetime | None
    completed_at: datetime | None
    scheduled_at: datetime | None
    send_at: str
    tags: list[str] = Field(description="Auto-suggested at creation, editable.")
    holdout_percent: int
    attribution_days: int
    variants: list[VariantIn] | None = None
    variant_test: VariantTestIn | None = None
    winner: Winner | None = Field(default=None, description="The A/B test's winner, once picked.")
    quiet_until: datetime | None = Field(
        default=None,
        description="While it runs and its channel is in its quiet hours: when they end and "
        "sending resumes (its messages wait, none fails).",
    )

    @classmethod
    def of(cls, c: Campaign, *, settings: Settings | None = None) -> CampaignOut:
        """The campaign as the API shows it; with `settings`, also whether quiet hours hold it now."""
        settled = c.delivered + c.failed
        went_out = c.sent + c.delivered + c.unknown
        stats = Stats(
            audience=c.audience,
            pending=c.pending,
            sent=c.sent,
            delivered=c.delivered,
            failed=c.failed,
            unknown=c.unknown,
            cancelled=c.cancelled,
            capped=c.capped,
            unsubscribed_excluded=c.unsubscribed_excluded,
            no_consent_excluded=c.no_consent_excluded,
            unreachable_excluded=c.unreachable_excluded,
            delivery_rate=round(c.delivered / settled, 4) if settled else None,
            control=c.control,
            opened=c.opened,
            clicked=c.clicked,
            converted=c.converted,
            orders=c.orders,
            revenue=minor_to_text(c.revenue_minor),
            conversion_rate=round(c.converted / went_out, 4) if went_out else None,
            revenue_per_message=minor_to_text(Decimal(c.revenue_minor) / went_out) if went_out else None,
        )
        return cls(
            id=c.id,
            name=c.name,
            status=c.status,
            channel=c.channel,
            subject=c.subject,
            message=c.message,
            rules=c.rules,
            segment_id=c.segment_id,
            rate_limit=c.rate_limit,
            stats=stats,
            pause=Pause(reason=c.pause_reason or "paused", since=c.paused_at, by_policy=c.paused_by_policy)
            if c.status == "paused"
            else None,
            created_by=c.created_by,
            created_at=c.created_at,
            launched_at=c.launched_at,
            completed_at=c.completed_at,
            scheduled_at=c.scheduled_at,
            send_at=c.send_at,
            tags=[t for t in c.tags.split(",") if t],
            holdout_percent=c.holdout_percent,
            attribution_days=c.attribution_days,
            variants=[VariantIn.model_validate(v) for v in c.variants] if c.variants else None,
            variant_test=VariantTestIn(
                percent=c.variant_test_percent,
                hours=c.variant_test_hours or 4,
                metric=c.variant_metric or "clicked",
            )
            if c.variant_test_percent
            else None,
            winner=Winner(
                variant=c.winner, label=LABELS[c.winner], reason=c.winner_reason or "", at=c.winner_at
            )
            if c.winner is not None
            else None,
            quiet_until=quiet.for_channel(utcnow(), c.channel, settings)
            if settings is not None and c.status == "running"
            else None,
        )


class DeliveryOut(BaseModel):
    id: int
    customer_external_id: str
    status: str
    attempts: int
    vendor_message_id: str | None
    error: str | None
    sent_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, d: Delivery, customer_external_id: str) -> DeliveryOut:
        return cls(
            id=d.id,
            customer_external_id=customer_external_id,
            status=d.status,
            attempts=d.attempts,
            vendor_message_id=d.vendor_message_id,
            error=d.error,
            sent_at=d.sent_at,
            finished_at=d.finished_at,
            updated_at=d.updated_at,
        )


class ReachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["sms", "email"]
    rules: Any = Field(default=None, description="The audience as a rule tree…")
    segment_id: DbId | None = Field(default=None, description="…or a saved segment.")


class Excluded(BaseModel):
    unsubscribed: int = Field(description="Unsubscribed from everything.")
    no_consent: int = Field(
        description="Opted out of the channel, or consent unknown where only opt-ins are messaged."
    )
    no_address: int = Field(description="No phone number (SMS) or e-mail address (e-mail).")


class ReachOut(BaseModel):
    matched: int = Field(description="Customers the rules match now.")
    reachable: int = Field(description="Of those, how many a launch now would message on the channel.")
    excluded: Excluded


class MessagePreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Text = Field(min_length=1, max_length=templates.MAX_LENGTH)
    subject: Text | None = Field(default=None, max_length=300)
    customer_external_id: Text | None = Field(
        default=None, max_length=128, description="Default: a customer of the audience, if one is given."
    )
    rules: Any = Field(default=None, description="The audience to take the customer from…")
    segment_id: DbId | None = Field(default=None, description="…or a saved segment's audience.")


class TestSendIn(BaseModel):
    """A test of a campaign not saved yet (the wizard's review step): its message, audience and
    channel, as `POST /campaigns` takes them."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["sms", "email"]
    message: Text = Field(min_length=1, max_length=templates.MAX_LENGTH)
    subject: Text | None = Field(default=None, max_length=300)
    rules: Any = Field(default=None, description="The audience whose first customer fills in the message…")
    segment_id: DbId | None = Field(default=None, description="…or a saved segment's.")
    phone: Text | None = Field(default=None, max_length=32, description="SMS: where to send the test.")


class CampaignTestSendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Text | None = Field(default=None, max_length=32, description="SMS: where to send the test.")


class TestSendOut(BaseModel):
    channel: Literal["sms", "email"]
    to: str = Field(description="The signed-in user's e-mail address, or the phone number given.")
    customer_name: str | None = Field(description="The customer of the audience whose details filled it in.")
    message_id: str = Field(description="The transport's id for the message.")
    counted: Literal[False] = Field(
        default=False, description="Never a delivery of the campaign: no counter or report includes it."
    )


class MessagePreviewOut(BaseModel):
    customer_external_id: str | None
    customer_name: str | None = None
    subject: str | None
    message: str
    characters: int = Field(description="Its length as sent: with its links tracked (`/r/<token>`).")
    sms_segments: int = Field(description="160-character SMS parts the message needs, as sent.")
