"""A fleet inventory as an operator writes it (machines, plans, fleet-wide settings) in a
temporary directory, an order a customer sends, and `herd` run in-process."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from herd.cli import instance as cli
from instance_support import MACHINES, ORDER, PASSWORD, PLANS


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    root = tmp_path / "fleet"
    (root / "group_vars/all").mkdir(parents=True)
    (root / "machines.yml").write_text(yaml.safe_dump(MACHINES))
    (root / "plans.yml").write_text(yaml.safe_dump(PLANS))
    (root / "group_vars/all/main.yml").write_text("tls_mode: selfsigned\n")
    return root


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "vault-password"
    path.write_text(PASSWORD + "\n")
    return path


@pytest.fixture
def order_file(tmp_path: Path) -> Callable[..., Path]:
    """`order_file(**changes)`: the co-op's order with top-level fields changed (None
    removes one), written as YAML (or JSON with suffix=".json")."""
    count = 0

    def write(suffix: str = ".yml", **changes: Any) -> Path:
        nonlocal count
        count += 1
        order = copy.deepcopy(ORDER)
        for key, value in changes.items():
            if value is None:
                order.pop(key, None)
            else:
                order[key] = value
        path = tmp_path / f"order-{count}{suffix}"
        path.write_text(yaml.safe_dump(order, allow_unicode=True) if suffix != ".json"
                        else __import__("json").dumps(order))
        return path

    return write


@pytest.fixture
def herd(fleet: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
         ) -> Callable[..., tuple[int, str, str]]:
    """`herd("order", path)`: exit code, stdout and stderr of `herd instance ...`."""

    def run(command: str, *args: str, fleet_dir: Path | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(["instance", command, "--fleet", str(fleet_dir or fleet),
                         "--vault-password-file", str(password_file), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
