"""The campaign report: read from the campaign's counters only, so it costs the same at ten
messages and a million."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from pulsecrm.campaigns import variants
from pulsecrm.campaigns.models import Campaign
from pulsecrm.campaigns.variants import VariantFigures
from pulsecrm.outcomes import lift as lift_math
from pulsecrm.outcomes.money import minor_to_text, to_minor
from pulsecrm.outcomes.schemas import Attributed, Funnel, Group, LiftOut, ReportOut, VariantOut, Window

METHOD = (
    "Conversion = at least one order within attribution_days of the launch, for everyone messaged "
    "(treatment) and everyone held out (control). Lift = treatment rate - control rate, with a 95% "
    "Newcombe hybrid score interval for the difference of two independent proportions; "
    "significant when the interval leaves out zero."
)


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 6) if d else None


def _group(customers: int, converted: int, orders: int, revenue_minor: int) -> Group:
    return Group(
        customers=customers,
        converted=converted,
        conversion_rate=_rate(converted, customers),
        orders=orders,
        revenue=minor_to_text(revenue_minor),
        revenue_per_customer=minor_to_text(Decimal(revenue_minor) / customers) if customers else None,
    )


def _variants(c: Campaign, found: Sequence[VariantFigures]) -> tuple[list[VariantOut], str | None]:
    if not c.variants:
        return [], None
    out = [
        VariantOut(
            variant=f.index,
            label=f.label,
            subject=c.variants[f.index].get("subject") or c.subject,
            customers=f.customers,
            sent=f.went_out,
            delivered=f.delivered,
            opened=f.opened,
            clicked=f.clicked,
            converted=f.converted,
            orders=f.orders,
            revenue=minor_to_text(to_minor(Decimal(f.revenue))),
            click_rate=_rate(f.clicked, f.went_out),
            conversion_rate=_rate(f.converted, f.went_out),
            winner=c.winner == f.index,
        )
        for f in found
    ]
    if c.winner is not None:
        return out, c.winner_reason
    if c.variant_test_percent:
        return (
            out,
            f"Testing on {c.variant_test_percent}% of the audience; the winner is picked "
            f"{c.variant_test_hours} h after the launch.",
        )
    _, note = variants.verdict(list(found), "clicked")
    return out, note


def report(c: Campaign, *, now: datetime, variant_figures: Sequence[VariantFigures] = ()) -> ReportOut:
    listed, variants_note = _variants(c, variant_figures)
    went_out = c.sent + c.delivered + c.unknown
    excluded = c.unsubscribed_excluded + c.no_consent_excluded + c.unreachable_excluded
    ends = c.launched_at + timedelta(days=c.attribution_days) if c.launched_at else None
    treatment = _group(c.audience, c.treatment_converted, c.treatment_orders, c.treatment_revenue_minor)
    control = (
        _group(c.control, c.control_converted, c.control_orders, c.control_revenue_minor)
        if c.holdout_percent > 0 and c.launched_at is not None
        else None
    )
    lifted, note = None, None
    if c.launched_at is None:
        note = "Not launched yet."
    elif control is None:
        note = "No control group: lift can't be measured. Set holdout_percent on the next campaign."
    elif c.control == 0:
        note = "The control group is empty: the audience was too small for the holdout share."
    else:
        result = lift_math.lift(c.treatment_converted, c.audience, c.control_converted, c.control)
        if result is None:
            note = "Nobody was messaged, so there is nothing to compare."
        else:
            per_customer = (
                Decimal(c.treatment_revenue_minor) / c.audience - Decimal(c.control_revenue_minor) / c.control
            )
            lifted = LiftOut(
                absolute=round(result.absolute, 6),
                relative=None if result.relative is None else round(result.relative, 6),
                ci95=(round(result.low, 6), round(result.high, 6)),
                significant=result.significant,
                incremental_revenue=minor_to_text(per_customer * c.audience),
                sentence=lift_math.sentence(result),
            )
    return ReportOut(
        campaign_id=c.id,
        status=c.status,
        attribution_days=c.attribution_days,
        holdout_percent=c.holdout_percent,
        window=Window(starts=c.launched_at, ends=ends, closed=ends is not None and now >= ends),
        funnel=Funnel(
            audience=c.audience + c.control + excluded,
            reachable=c.audience + c.control,
            sent=went_out,
            delivered=c.delivered,
            opened=c.opened,
            clicked=c.clicked,
            converted=c.converted,
        ),
        attributed=Attributed(
            converted=c.converted,
            orders=c.orders,
            revenue=minor_to_text(c.revenue_minor),
            conversion_rate=_rate(c.converted, went_out),
            revenue_per_message=minor_to_text(Decimal(c.revenue_minor) / went_out) if went_out else None,
        ),
        treatment=treatment,
        control=control,
        lift=lifted,
        lift_note=note,
        method=METHOD,
        variants=listed,
        variants_note=variants_note,
    )
