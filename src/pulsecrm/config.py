"""Settings, read once from the environment (prefix PULSECRM_) and from `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, StringConstraints, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CHANNELS: tuple[Literal["email", "sms"], ...] = ("email", "sms")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PULSECRM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path("data"), description="Where the embedded mode keeps its SQLite file.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL. Empty = SQLite file under data_dir. "
        "Production: postgresql+asyncpg://user:pass@host/db",
    )
    database_pool_size: int = Field(default=10, ge=1)
    redis_url: str | None = Field(
        default=None,
        description="Set to use Redis Streams for ingestion (202); unset = write in-request (201).",
    )
    redis_prefix: str = Field(
        default="pulsecrm:",
        description="Prefix of every Redis key, so several installs share one Redis.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    default_currency: str = Field(default="INR", pattern=r"^[A-Z]{3}$")
    max_batch_records: int = Field(default=10_000, ge=1, description="Records per request; more is 413.")
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_import_bytes: int = Field(
        default=2 * 1024**3, ge=1024, description="Largest file `POST /api/v1/import/{kind}` takes."
    )
    api_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a verified API key is trusted without asking the database; "
        "a revoke reaches other processes within this time.",
    )
    api_key_grace_seconds: float = Field(
        default=300.0,
        ge=0,
        description="While the database cannot be asked, a key verified within this time is still "
        "trusted, so stream-mode ingestion keeps answering 202 through a database outage.",
    )
    outage_retry_after_seconds: int = Field(
        default=5, ge=1, description="The Retry-After of a 503 answered while a service is away."
    )
    # Stream consumer tuning.
    ingest_entry_records: int = Field(
        default=1000, ge=1, description="Records per stream entry (a request is split into these)."
    )
    ingest_batch_entries: int = Field(
        default=500, ge=1, description="Most stream entries a worker reads at once."
    )
    ingest_batch_records: int = Field(
        default=5000,
        ge=1,
        description="Records a worker writes per transaction; also sizes its reads, so a stream "
        "of single-record entries is written thousands at a time.",
    )
    ingest_reclaim_idle_ms: int = Field(
        default=30_000,
        ge=1,
        description="An entry unacked this long is taken over by another worker.",
    )
    ingest_max_attempts: int = Field(
        default=3,
        ge=1,
        description="Tries of a record that fails to write, once isolated from its batch, before it "
        "is dead-lettered (an outage is waited out and not counted).",
    )
    receipts_reclaim_idle_ms: int = Field(
        default=30_000,
        ge=1,
        description="A receipts entry unacked this long is taken over by another worker.",
    )
    receipts_max_attempts: int = Field(
        default=3, ge=1, description="Tries of a receipt that fails to apply before it is dead-lettered."
    )
    stream_hold_retry_seconds: float = Field(
        default=600.0,
        gt=0,
        description="An entry our own code failed on is held (kept, not acked) and tried again this often.",
    )
    stream_max_deliveries: int = Field(
        default=10,
        ge=2,
        description="An entry delivered this often without ever finishing (a worker crashing on it) "
        "is dead-lettered whole.",
    )
    redis_allow_volatile: bool = Field(
        default=False,
        description="Run stream mode on a Redis without AOF persistence (appendonly no). A Redis "
        "restart then loses what was acknowledged but not yet written; /readyz says so.",
    )

    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret of the signed receipts webhook (and of the mock vendor). "
        "Unset = the webhook answers 503.",
    )

    vendor_url: str = Field(default="http://127.0.0.1:8025", description="The messaging vendor's API.")
    delivery_batch_size: int = Field(default=1000, ge=1, le=1000, description="Messages per vendor call.")
    delivery_concurrency: int = Field(
        default=4, ge=1, le=64, description="Vendor calls in flight per sender."
    )
    delivery_max_attempts: int = Field(
        default=5, ge=1, description="Vendor calls per message before it fails."
    )
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    delivery_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed message is reserved; a crashed sender's "
        "claims are retried after it (the vendor drops the duplicate by idempotency key).",
    )
    delivery_unconfirmed_seconds: float = Field(
        default=900.0, gt=0, description="A message sent but never confirmed this long becomes `unknown`."
    )
    # Channels: which transport carries each channel, and its ceiling for all workers together.
    sms_transport: Literal["vendor"] = Field(default="vendor", description="How SMS leave: the vendor API.")
    email_transport: Literal["vendor", "smtp"] = Field(
        default="vendor", description="How e-mail leaves: the vendor API, or SMTP (the smtp_* settings)."
    )
    sms_max_rate: int | None = Field(
        default=None, ge=1, description="SMS per second across every worker and campaign; unset = no ceiling."
    )
    email_max_rate: int | None = Field(
        default=None,
        ge=1,
        description="E-mails per second across all workers and campaigns; unset = none.",
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="starttls", description="none, STARTTLS on a plain port (587), or TLS from the start (465)."
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(default="Pulse CRM <marketing@localhost>", description="The From header.")
    smtp_pool_size: int = Field(default=4, ge=1, le=64, description="SMTP connections kept open per worker.")
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where Pulse is reached from outside: unsubscribe links, tracked links and the "
        "open pixel in messages point here.",
    )
    track_links: bool = Field(
        default=True,
        description="Send every http(s) link in a message through `/r/<token>` (counting clicks) "
        "and put an open pixel in e-mails' HTML part; false = messages go out as rendered.",
    )
    engagement_flush_seconds: float = Field(
        default=0.1,
        gt=0,
        le=10,
        description="Clicks and opens a web process sees are kept in memory and written (or queued "
        "on Redis) this often; a crash loses at most this long's worth (the visitor was redirected).",
    )
    engagement_flush_events: int = Field(
        default=500, ge=1, le=10_000, description="...or as soon as this many are waiting."
    )

    # Consent: whether a customer who never said yes or no may get marketing.
    message_unknown_consent: bool = Field(
        default=True,
        description="Message customers whose consent for the channel is unknown. Turn off where the "
        "law wants an explicit opt-in; opted-out customers are never messaged.",
    )

    consent_attributes: dict[
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")],
        list[Literal["email", "sms"]],
    ] = Field(
        default_factory=lambda: {"marketing_opt_in": list(CHANNELS)},
        description="Customer attributes that carry consent (JSON: attribute -> channels): true "
        "opts in, false opts out, anything else says nothing. An explicit `consent` field in the "
        "same record wins. `{}` turns the mapping off.",
    )

    # Timing: the store's clock, when messages may go out, and how many a customer gets.
    timezone: str = Field(
        default="Asia/Kolkata",
        description="The store's IANA time zone: pages show times in it, best-hour sending and "
        "quiet hours are reckoned in it.",
    )
    sms_quiet_hours: str | None = Field(
        default="21:00-09:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="HH:MM-HH:MM, store time: no campaign SMS goes out in this span; messages "
        "due within it wait for its end. Empty = SMS at any hour.",
    )
    email_quiet_hours: str | None = Field(
        default=None,
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="The same for campaign e-mail; unset = e-mail at any hour.",
    )
    frequency_cap_messages: int | None = Field(
        default=None,
        ge=1,
        description="At most this many campaign messages per customer within frequency_cap_days, "
        "across all campaigns; the rest are left out as `capped`. Unset = no cap.",
    )
    frequency_cap_days: float = Field(default=7.0, gt=0, le=365)

    # The error policy: transient transport errors pause a campaign instead of using up attempts.
    delivery_pause_after_failed_batches: int = Field(
        default=3, ge=1, description="Consecutive batches the transport refused before the campaign pauses."
    )
    delivery_pause_error_rate: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of a campaign's messages deferred within the window that pauses it.",
    )
    delivery_error_window_seconds: float = Field(default=30.0, gt=0)
    delivery_auto_resume: bool = Field(
        default=True,
        description="Resume a campaign the error policy paused once its transport answers again; "
        "off = a person resumes it.",
    )
    delivery_probe_seconds: float = Field(
        default=2.0, gt=0, description="How often a paused campaign's transport is asked whether it is back."
    )
    attribution_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="How often workers credit new orders, sends and bounces to campaigns (the "
        "outcome figures lag by about this much).",
    )

    audience_engine: bool = Field(
        default=True,
        description="Answer segment previews from an in-memory snapshot of the customers (built "
        "on a process's first preview, kept fresh from the change feed); false = always SQL.",
    )
    audience_max_lag_seconds: float = Field(
        default=2.0,
        gt=0,
        description="A preview is answered from memory only if the snapshot caught up with every "
        "committed write at most this long ago; otherwise SQL answers.",
    )
    audience_poll_seconds: float = Field(
        default=0.2, gt=0, description="How often the snapshot reads the change feed."
    )
    audience_share_dir: str = Field(
        default="auto",
        max_length=1024,
        description="Where the processes of one machine share the snapshot: the first builds it "
        "and writes it here as an Arrow file, the others map that file read-only. auto = a "
        "directory of this user's under /dev/shm (else the temporary directory); empty = each "
        "process builds and holds its own.",
    )

    # Operations: logs and metrics.
    log_format: Literal["plain", "json"] = Field(
        default="plain", description="plain: readable lines for a terminal; json: one JSON object per event."
    )
    log_level: str = Field(default="INFO", pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    access_log: bool = Field(default=True, description="One log line per HTTP request, with its request id.")
    request_metrics: bool = Field(
        default=True,
        description="Count and time every request for /metrics; off only to measure what that costs "
        "(bench/scaleout.py). The request id is answered either way.",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="A worker serves its own `GET /metrics` on this port (same API-key `metrics` "
        "scope as serve's), for a worker on a host without `serve`. Unset: none.",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="The address a worker's own /metrics listens on."
    )
    metrics_dir: Path | None = Field(
        default=None,
        description="A directory every pulsecrm process on this host writes its metrics to, so one "
        "/metrics adds them up (prometheus-client multiprocess mode). Empty it at boot. Unset: "
        "`serve --workers N` (N > 1) uses a fresh temporary one.",
    )

    background_work: bool = Field(
        default=True,
        description="Without Redis, `serve` sends campaigns in-process; tests turn it off.",
    )

    # Web sign-in.
    session_secret: SecretStr | None = Field(
        default=None,
        description="Signs the session cookie. Unset = a random one per process (sessions end at "
        "restart and are not shared between processes); `pulsecrm run` keeps one in data_dir.",
    )
    session_max_age_seconds: int = Field(default=12 * 3600, ge=60, description="How long a sign-in lasts.")
    cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (set behind TLS)."
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer, e.g. https://accounts.google.com. Unset = local accounts.",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_allowed_domains: list[str] = Field(
        default_factory=list,
        description="E-mail domains allowed to sign in with OIDC (JSON list). Empty with an empty "
        "oidc_allowed_emails = anyone the provider vouches for.",
    )
    oidc_allowed_emails: list[str] = Field(default_factory=list, description="Addresses allowed (JSON list).")
    login_attempts_per_minute: int = Field(
        default=10, ge=1, description="Failed sign-ins per address and per client before a 429."
    )

    # AI assistant: any OpenAI-compatible chat-completions endpoint; unset = the offline engine only.
    ai_base_url: str | None = Field(
        default=None, description="e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1 (Ollama)."
    )
    ai_api_key: SecretStr | None = None
    ai_model: str | None = None
    ai_timeout_seconds: float = Field(default=15.0, gt=0)

    @field_validator(
        "redis_url",
        "oidc_issuer",
        "ai_base_url",
        "sms_max_rate",
        "email_max_rate",
        "smtp_username",
        "smtp_password",
        "sms_quiet_hours",
        "email_quiet_hours",
        "frequency_cap_messages",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like 'Asia/Kolkata'") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'pulsecrm.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
