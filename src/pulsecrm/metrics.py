"""Prometheus metrics: the metric objects, the one-line helpers the domains call, and the
figures read from PostgreSQL and Redis when `/metrics` is scraped.

Two kinds of figure, on purpose:

- *events* a process sees (requests, records accepted and written, vendor calls, pauses, the
  connections it holds) are counters and histograms in this process. With several processes on
  a host (`serve --workers N`, or `serve` and `worker` side by side) each writes them to files
  in one directory (`PULSECRM_METRICS_DIR`, prometheus-client's multiprocess mode) and a
  scrape adds them up;
- *state* every process shares (stream backlogs, dead letters, deliveries by status, paused
  campaigns) is read from Redis and the database at scrape time. Counting deliveries as they
  are written would put a metrics write on the sending path and still disagree with the
  campaigns' own counters after a crash; reading those counters costs one small GROUP BY per
  scrape and is exact across any number of workers.

The multiprocess directory must be chosen before this module is first imported (the CLI
does it, see `cli._metrics_dir`): prometheus-client picks its storage at import time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# Request latency buckets: a 202 ingest is ~1-5 ms, a segment count ~100 ms, an import minutes.
_LATENCY = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "pulsecrm_http_requests", "HTTP requests answered, by route template and status.", ["route", "status"]
)
REQUEST_SECONDS = Histogram(
    "pulsecrm_http_request_duration_seconds",
    "Time from a request's first byte to its response's last, by route template.",
    ["route"],
    buckets=_LATENCY,
)
RECORDS_ACCEPTED = Counter(
    "pulsecrm_records_accepted", "Records the API acknowledged (201 or 202), by kind.", ["kind"]
)
RECORDS_WRITTEN = Counter(
    "pulsecrm_records_written", "Records committed to the database by the batch writer, by kind.", ["kind"]
)
VENDOR_SECONDS = Histogram(
    "pulsecrm_vendor_call_duration_seconds",
    "Time of one call to the messaging vendor (a batch of up to 1,000 messages).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
VENDOR_ERRORS = Counter(
    "pulsecrm_vendor_errors",
    "Vendor calls that did not succeed, by error (unreachable, timeout, http_<status>).",
    ["error"],
)
CAMPAIGN_PAUSES = Counter(
    "pulsecrm_campaign_pauses", "Campaigns paused, by reason (a short code, e.g. error_policy).", ["reason"]
)
DB_POOL_IN_USE = Gauge(
    "pulsecrm_db_pool_connections_in_use",
    "Database connections checked out of this process's pool (summed over live processes).",
    multiprocess_mode="livesum",
)


# --- the helpers the domains call (one line at each call site) --------------------------------


def records_accepted(kind: str, n: int) -> None:
    RECORDS_ACCEPTED.labels(kind).inc(n)


def records_written(kind: str, n: int) -> None:
    RECORDS_WRITTEN.labels(kind).inc(n)


def vendor_call(seconds: float, error: str | None = None) -> None:
    """One call to the vendor took `seconds`; `error` names how it failed, None if it did not."""
    VENDOR_SECONDS.observe(seconds)
    if error is not None:
        VENDOR_ERRORS.labels(error).inc()


def campaign_paused(reason: str) -> None:
    """A campaign was paused; `reason` is a short fixed code, never free text (label cardinality)."""
    CAMPAIGN_PAUSES.labels(reason).inc()


# (route, status) -> the two labelled children: `.labels()` takes a lock and builds a tuple,
# a third of the per-request cost; routes are templates and statuses few, so this stays small.
_request_children: dict[tuple[str, int], tuple[Any, Any]] = {}


def request_done(route: str, status: int, seconds: float) -> None:
    children = _request_children.get((route, status))
    if children is None:
        children = (REQUESTS.labels(route, str(status)), REQUEST_SECONDS.labels(route))
        _request_children[(route, status)] = children
    children[0].inc()
    children[1].observe(seconds)


def watch_pool(engine: AsyncEngine) -> None:
    """Keep DB_POOL_IN_USE current from the pool's own checkout and checkin events."""
    pool = engine.sync_engine.pool
    event.listen(pool, "checkout", lambda *_: DB_POOL_IN_USE.inc())
    event.listen(pool, "checkin", lambda *_: DB_POOL_IN_USE.dec())


def process_exited() -> None:
    """Forget this process's live gauges (the pool in use) once it stops serving."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if MULTIPROCESS and directory:
        mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


class Stopwatch:
    """`with Stopwatch() as t: ...; t.seconds` -- a monotonic interval, for the call sites."""

    seconds: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self._start


# --- state read at scrape time ------------------------------------------------------------------


@dataclass
class StreamState:
    length: int  # entries not yet written (written entries are deleted)
    pending: int  # read by a worker, not yet acknowledged
    oldest_age_seconds: float  # age of the oldest entry not yet written; 0 when empty
    held: int  # entries our own code failed on, kept for a person


@dataclass
class Snapshot:
    """Shared state, read by `telemetry.read_snapshot` before the text is rendered."""

    up: dict[str, bool] = field(default_factory=dict)  # source -> answered
    streams: dict[str, StreamState] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)  # stream -> not replayed
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, status) -> n
    paused: dict[str, int] = field(default_factory=dict)  # "policy" | "person" -> campaigns


class SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield _family(
            "pulsecrm_scrape_source_up",
            "1 when the source answered during this scrape (database, redis).",
            ["source"],
            {(k,): float(v) for k, v in s.up.items()},
        )
        for name, doc, attr in (
            ("pulsecrm_stream_length", "Entries on the stream not yet written.", "length"),
            ("pulsecrm_stream_pending", "Entries read by a worker and not yet acknowledged.", "pending"),
            (
                "pulsecrm_stream_oldest_pending_age_seconds",
                "Age of the oldest entry not yet written (0 when the stream is empty).",
                "oldest_age_seconds",
            ),
            ("pulsecrm_stream_held", "Entries held for a person because our code failed on them.", "held"),
        ):
            yield _family(
                name, doc, ["stream"], {(k,): float(getattr(v, attr)) for k, v in s.streams.items()}
            )
        yield _family(
            "pulsecrm_dead_letters",
            "Dead letters not replayed, by stream.",
            ["stream"],
            {(k,): float(v) for k, v in s.dead_letters.items()},
        )
        yield _family(
            "pulsecrm_deliveries",
            "Messages of all campaigns by channel and status (the campaigns' counters).",
            ["channel", "status"],
            {k: float(v) for k, v in s.deliveries.items()},
        )
        yield _family(
            "pulsecrm_campaigns_paused",
            "Campaigns paused now, by who paused them (policy = the error policy, person).",
            ["by"],
            {(k,): float(v) for k, v in s.paused.items()},
        )


def _family(
    name: str, doc: str, labels: list[str], values: Mapping[tuple[str, ...], float]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def render(snapshot: Snapshot) -> bytes:
    """The exposition text: this host's process metrics, then the shared state."""
    if MULTIPROCESS:
        events = CollectorRegistry()
        MultiProcessCollector(events)  # type: ignore[no-untyped-call]
    else:
        events = REGISTRY
    state = CollectorRegistry(auto_describe=False)
    state.register(SnapshotCollector(snapshot))
    return generate_latest(events) + generate_latest(state)
