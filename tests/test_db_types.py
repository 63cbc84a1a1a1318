"""The portable column types (pulsecrm.db) write what SQLAlchemy's own SQLite types would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from pulsecrm.db import UTCDateTime

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30), timezones=offsets)


@given(moments)
def test_a_time_binds_on_sqlite_as_the_datetime_type_writes_it(moment: datetime) -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    theirs = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None


def test_a_naive_time_is_refused_on_sqlite_too() -> None:
    bind = UTCDateTime().bind_processor(sqlite.dialect())
    assert bind is not None
    with pytest.raises(ValueError, match="naive"):
        bind(datetime(2025, 1, 1))
