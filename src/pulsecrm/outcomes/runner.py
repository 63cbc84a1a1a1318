"""The attribution pass, run in the background by workers (and by the web process without Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.config import Settings
from pulsecrm.db import Database, utcnow
from pulsecrm.failures import Failure, OutageLog, classify
from pulsecrm.outcomes import attribution

log = logging.getLogger(__name__)
LIMIT = 2_000


class Attributor:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.outage = OutageLog(log, "attribution: the database")

    async def run_once(self) -> attribution.Pass:
        async def work(conn: AsyncConnection) -> attribution.Pass:
            return await attribution.catch_up(conn, now=utcnow(), limit=LIMIT)

        return await self.db.write(work)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            busy = False
            try:
                done = await self.run_once()
                busy = done.customers >= LIMIT or done.seeded > 0
                self.outage.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if classify(exc) is Failure.OUTAGE:
                    self.outage.failed(exc)
                else:
                    log.exception("attribution pass failed; retrying")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.attribution_interval_seconds)
