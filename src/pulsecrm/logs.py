"""Logging for every process: plain lines in a terminal, one JSON object per event with
`PULSECRM_LOG_FORMAT=json`, a request id on each line, and nothing said twice.

The request id is born in the API (`telemetry.RequestTelemetry`, or taken from a sane
`X-Request-ID`), travels in ingest stream entries (`ingest.codec`, field `rid`) and is named
by the worker that writes them, so a worker's line leads back to the request that caused it.

Quiet by design: httpx's line per HTTP call (one per vendor call and per receipt batch) is
turned down to warnings, and an unhandled error is logged once, by our handler, with its
traceback: uvicorn's second copy of the same traceback is dropped (`OnceOnly`).
"""

from __future__ import annotations

import contextlib
import logging
import logging.config
import os
import re
import uuid
from contextvars import ContextVar
from typing import Any, Literal

LogFormat = Literal["plain", "json"]

request_id: ContextVar[str | None] = ContextVar("pulsecrm_request_id", default=None)
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
PLAIN = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(process)d"
# Loggers that speak once per HTTP call: fine when debugging, a flood in production.
CHATTY = ("httpx", "httpcore", "uvicorn.access")


def new_request_id(offered: str | None = None) -> str:
    """The caller's id when it looks like one (a balancer's, a client's), else a fresh one."""
    if offered and _VALID_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or "-") on every record, as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get() or "-"
        return True


class OnceOnly(logging.Filter):
    """Drops a record whose exception our error handler has already logged with its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not getattr(exc, "_pulsecrm_logged", False)


def mark_logged(exc: BaseException) -> None:
    """Call after logging `exc` with its traceback, so no other logger repeats it."""
    # An exception type with __slots__ refuses the mark: a second copy is the lesser harm.
    with contextlib.suppress(AttributeError):
        exc._pulsecrm_logged = True  # type: ignore[attr-defined]


def config(fmt: LogFormat = "plain", level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` dict; uvicorn applies it in each of its worker processes."""
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.orjson.OrjsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        }
        if fmt == "json"
        else {"format": PLAIN}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "pulsecrm.logs.RequestIdFilter"},
            "once": {"()": "pulsecrm.logs.OnceOnly"},
        },
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id", "once"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own loggers go through ours (one format), not their own handlers.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            **{name: {"level": "WARNING", "handlers": [], "propagate": True} for name in CHATTY},
        },
    }


def configure(fmt: LogFormat | None = None, level: str | None = None) -> dict[str, Any]:
    """Configure this process's logging (from PULSECRM_LOG_FORMAT / _LOG_LEVEL by default)."""
    chosen = config(
        fmt or ("json" if os.environ.get("PULSECRM_LOG_FORMAT", "").lower() == "json" else "plain"),
        level or os.environ.get("PULSECRM_LOG_LEVEL", "INFO"),
    )
    logging.config.dictConfig(chosen)
    return chosen
