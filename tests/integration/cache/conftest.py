"""Fixtures for the cache cleanup integration tests (helpers in cache_standin.py)."""

from pathlib import Path

import pytest
from cache_standin import Instance, build_standin_repo, make_instance


@pytest.fixture(scope="session")
def standin_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_standin_repo(tmp_path_factory.mktemp("standin") / "mastodon.git")


@pytest.fixture
def instance(standin_repo: Path, tmp_path: Path) -> Instance:
    return make_instance(standin_repo, tmp_path)
