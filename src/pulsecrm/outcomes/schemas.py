"""The campaign report's shape (DESIGN §3 "Additions")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Funnel(BaseModel):
    audience: int = Field(description="Matched the rules at launch, reachable or not.")
    reachable: int = Field(description="Could be messaged: the messaged group plus the control group.")
    sent: int = Field(description="Messages that went out and did not fail.")
    delivered: int
    opened: int = Field(description="Customers who opened (a click counts as an open).")
    clicked: int
    converted: int = Field(description="Customers with an order credited to this campaign (last touch).")


class Group(BaseModel):
    customers: int
    converted: int = Field(description="Customers with at least one order within the window after launch.")
    conversion_rate: float | None
    orders: int
    revenue: str = Field(description="Decimal string.")
    revenue_per_customer: str | None


class LiftOut(BaseModel):
    absolute: float = Field(description="Treatment conversion rate minus control's (0.021 = +2.1 points).")
    relative: float | None = Field(
        description="absolute / control's rate; null when control converted no one."
    )
    ci95: tuple[float, float] = Field(description="95% interval of `absolute` (Newcombe hybrid score).")
    significant: bool = Field(description="The interval leaves out zero.")
    incremental_revenue: str = Field(
        description="(treatment revenue per customer - control's) x treatment customers, a decimal string."
    )
    sentence: str = Field(description='"+2.1 pts conversion, 95% CI 0.8-3.4, significant"')


class Attributed(BaseModel):
    converted: int
    orders: int
    revenue: str
    conversion_rate: float | None = Field(description="converted / messages sent (not failed)")
    revenue_per_message: str | None


class Window(BaseModel):
    starts: datetime | None = Field(description="The launch.")
    ends: datetime | None = Field(description="Launch + attribution_days: group figures are final after it.")
    closed: bool


class VariantOut(BaseModel):
    variant: int
    label: str = Field(description="A, B, C…")
    subject: str | None
    customers: int = Field(description="Deliveries given this variant.")
    sent: int = Field(description="Went out and did not fail.")
    delivered: int
    opened: int
    clicked: int
    converted: int
    orders: int
    revenue: str
    click_rate: float | None = Field(description="clicked / sent")
    conversion_rate: float | None = Field(description="converted / sent")
    winner: bool


class ReportOut(BaseModel):
    campaign_id: int
    status: str
    attribution_days: int
    holdout_percent: int
    window: Window
    funnel: Funnel
    attributed: Attributed = Field(description="Last-touch: orders credited to this campaign's messages.")
    treatment: Group = Field(description="Everyone messaged, whatever happened to the message.")
    control: Group | None = Field(description="The held-out group; null without a holdout.")
    lift: LiftOut | None
    lift_note: str | None = Field(description="Why there is no lift, when there is none.")
    method: str = Field(description="How the interval is computed.")
    variants: list[VariantOut] = Field(default_factory=list, description="Per-variant figures (A/B).")
    variants_note: str | None = Field(
        default=None,
        description="Which variant leads and whether the difference is significant, or why the test's "
        "winner was picked.",
    )


class TimelineBucket(BaseModel):
    starts: datetime = Field(description="The bucket's first instant (UTC); it lasts `bucket_seconds`.")
    sent: int | None = Field(description="Messages sent in the bucket; null when sends are not charted.")
    opened: int = Field(description="Open events (a customer opening twice counts twice).")
    clicked: int = Field(description="Click events.")
    orders: int = Field(description="Orders placed in the bucket and credited to this campaign.")
    revenue: str = Field(description="Their total, a decimal string.")


class TimelineOut(BaseModel):
    campaign_id: int
    bucket_seconds: int = Field(
        description="300 when the span is up to 2 hours, 3600 up to 48 hours, 86400 (or a multiple, "
        "to keep at most 60 buckets) beyond; buckets start on whole UTC minutes, hours and days."
    )
    starts: datetime | None = Field(description="The first bucket's start; null before launch.")
    ends: datetime | None = Field(
        description="The last bucket's end. The span runs from launch to now, and stops "
        "attribution_days after sending ended (nothing later can be credited)."
    )
    sent_charted: bool = Field(
        description=f"False for campaigns of more than {200_000:,} messages: their sends are not "
        "bucketed (it would scan every delivery); the counters still give the totals."
    )
    buckets: list[TimelineBucket]
