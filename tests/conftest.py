"""Shared test helpers: facts come from the roles' defaults, never copied into tests."""

import os
import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def role_defaults(role: str) -> dict:
    """The role's defaults/main.yml as data (templated values stay as strings)."""
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def promtool() -> str:
    """Prometheus' promtool (Debian's prometheus package, which tools/setup.sh installs):
    skipped where it is missing, except under CI=true, where that is a failure."""
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("promtool is missing: tools/setup.sh installs Debian's prometheus package")
    pytest.skip("promtool is missing (Debian's prometheus package; make setup installs it)")
