"""Real PostgreSQL and Redis on loopback, one of each per test module that asks for them
(the tests of the stand-in's processes)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "molecule" / "shared" / "standin"))

import harness  # noqa: E402


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    with harness.integration_servers().running_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def redis_env() -> Iterator[dict[str, str]]:
    with harness.running_redis() as env:
        yield env
