"""Fixtures of the delivery tests that run real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.procs import Processes


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """`pulsecrm` processes of this test (serve, worker, vendor); all stopped at teardown."""
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()
