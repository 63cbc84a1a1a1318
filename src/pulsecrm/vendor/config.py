"""Settings of the mock vendor, read from the environment (prefix PULSECRM_VENDOR_) and `.env`."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class VendorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PULSECRM_VENDOR_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # Tests and callers pass `webhook_secret=...`; the environment uses the product's name.
        validate_by_name=True,
        validate_by_alias=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=0, le=65535)
    success_rate: float = Field(default=0.9, ge=0, le=1, description="Share of messages delivered.")
    min_delay_ms: float = Field(default=20, ge=0, description="Shortest time from accept to outcome.")
    max_delay_ms: float = Field(default=300, ge=0, description="Longest time from accept to outcome.")
    error_500_rate: float = Field(default=0, ge=0, le=1, description="Share of sends answered 500.")
    error_429_rate: float = Field(default=0, ge=0, le=1, description="Share of sends answered 429.")
    timeout_rate: float = Field(
        default=0, ge=0, le=1, description="Share of sends accepted but answered after timeout_seconds."
    )
    timeout_seconds: float = Field(
        default=5, ge=0, description="How long a 'timeout' send sleeps; set it above the client's timeout."
    )
    webhook_url: str = "http://127.0.0.1:8000/api/v1/receipts"
    webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias="PULSECRM_WEBHOOK_SECRET",
        description="The product's receipts webhook secret; receipts are signed with it.",
    )
    log_path: str | None = Field(
        default=None,
        description="Append one JSON line per newly accepted message; read back at start, so a "
        "restarted vendor still knows every idempotency key it accepted.",
    )
    seed: int | None = Field(default=None, description="Seed of outcomes, delays and injected errors.")
    # Engagement, as a real vendor's tracking reports it: some delivered messages are opened,
    # some of those clicked, each a receipt of its own on the same webhook, a while later.
    open_rate: float = Field(default=0.40, ge=0, le=1, description="Share of delivered messages opened.")
    click_rate: float = Field(
        default=0.08, ge=0, le=1, description="Share of delivered messages clicked (all of them opened too)."
    )
    engagement_min_delay_ms: float = Field(
        default=1000, ge=0, description="Shortest time from delivery to the open (and from open to click)."
    )
    engagement_max_delay_ms: float = Field(
        default=5000, ge=0, description="Longest time from delivery to the open (and from open to click)."
    )
    # Receipt batching and retrying; rarely changed except to make tests fast.
    receipt_batch_size: int = Field(default=500, ge=1, le=10_000)
    receipt_linger_ms: float = Field(default=100, ge=0, description="How long a batch collects.")
    retry_initial_ms: float = Field(default=200, gt=0)
    retry_max_ms: float = Field(default=5000, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_delay_ms > self.max_delay_ms:
            raise ValueError("min_delay_ms must not exceed max_delay_ms")
        if self.engagement_min_delay_ms > self.engagement_max_delay_ms:
            raise ValueError("engagement_min_delay_ms must not exceed engagement_max_delay_ms")
        if self.click_rate > self.open_rate:
            raise ValueError("click_rate must not exceed open_rate: a click is an open too")
        if self.error_500_rate + self.error_429_rate + self.timeout_rate > 1:
            raise ValueError("error_500_rate + error_429_rate + timeout_rate must not exceed 1")
        return self
