"""E-mail over SMTP: being written in parallel (issue 11); until it lands, choosing it is a clear error."""

from __future__ import annotations

from pulsecrm.config import Settings
from pulsecrm.delivery.channels import Channel


def smtp_channel(settings: Settings) -> Channel:
    raise RuntimeError("PULSECRM_EMAIL_TRANSPORT=smtp is not available in this build yet")
