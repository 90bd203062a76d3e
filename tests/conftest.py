"""Shared test helpers: facts come from the roles' defaults, never copied into tests."""

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
