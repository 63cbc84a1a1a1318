"""Segment API shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pulsecrm.segments.catalog import Catalog
from pulsecrm.validation import Text


class FieldOut(BaseModel):
    name: str
    label: str
    type: str
    operators: list[str]
    description: str
    values: list[str] = Field(default_factory=list, description="Known values, where cheap (cities).")


class FieldCatalogOut(BaseModel):
    fields: list[FieldOut]

    @classmethod
    def of(cls, catalog: Catalog) -> FieldCatalogOut:
        return cls(
            fields=[
                FieldOut(
                    name=f.name,
                    label=f.label,
                    type=f.type,
                    operators=list(f.comparators),
                    description=f.description,
                    values=list(f.values),
                )
                for f in catalog.fields
            ]
        )


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: Any = Field(description="A rule tree (see the field catalog for fields and comparators).")
    exact: bool = Field(
        default=True,
        description="false: stop counting at `cap` matches (the answer says so), which keeps a "
        "preview fast on large audiences while rules are being edited.",
    )
    cap: int = Field(default=10_000, ge=1, le=1_000_000, description="Where a non-exact count stops.")


class SampleCustomer(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    external_id: str
    name: str
    email: str | None
    city: str | None
    total_spend: Decimal
    order_count: int
    last_order_at: datetime | None


class PreviewOut(BaseModel):
    count: int
    count_is_lower_bound: bool = Field(
        default=False, description="true when a non-exact preview stopped at `cap`: show it as “10,000+”."
    )
    sample: list[SampleCustomer]
    answered_by: Literal["memory", "database"] = Field(
        description="memory: the audience engine's snapshot answered; database: SQL did."
    )
    fallback: str | None = Field(
        default=None,
        description="Why the database answered although the engine is on: building (the snapshot "
        "is being loaded), stale (it has not caught up with writes within the lag bound), "
        "field_not_in_memory (a field it has not loaded yet), engagement_condition and "
        "list_segment_condition (facts the snapshot does not hold), engine_failed.",
    )
    lag_ms: float | None = Field(
        default=None,
        description="memory: the snapshot had applied every write committed up to this long "
        "before the query.",
    )


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Text = Field(min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=1000)
    rules: Any


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    kind: Literal["rules", "list"] = Field(
        description="rules: evaluated when used; list: explicit members saved once (a lookalike), "
        "its rules being the one condition `segment in_segment <id>`."
    )
    rules: dict[str, Any]
    last_count: int | None
    last_counted_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
