"""Quiet hours: the span of each day (store time) in which no campaign message of a channel
goes out. Every campaign message is promotional, so the rule applies to all of them; due
messages are not claimed in the span and go out when it ends, nothing fails."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pulsecrm.config import Settings


def parse(span: str) -> tuple[time, time]:
    """ "21:00-09:00" -> (21:00, 09:00); the settings' pattern has checked the shape."""
    start, end = span.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def until(now: datetime, span: str | None, zone: ZoneInfo) -> datetime | None:
    """If `now` falls within the quiet `span`, when the span ends (UTC); else None.

    A span may wrap past midnight (21:00-09:00); one whose start equals its end is empty."""
    if not span:
        return None
    start, end = parse(span)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        quiet, end_day = start <= clock < end, local.date()
    else:
        quiet = start != end and (clock >= start or clock < end)
        end_day = local.date() + timedelta(days=1 if clock >= start else 0)
    if not quiet:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def for_channel(now: datetime, channel: str, settings: Settings) -> datetime | None:
    """When the quiet hours of `channel` end, if it is in them at `now`; else None."""
    span = settings.email_quiet_hours if channel == "email" else settings.sms_quiet_hours
    return until(now, span, settings.zone)
