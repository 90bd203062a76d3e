"""The fleet inventory on the control node: its machines, its plans, the orders it
accepted, and safe writes into it.

Layout (inventories/fleet/, README "Hosting co-op"):

    machines.yml               the operator's machines and what each can hold
    plans.yml                  the plans: role variables and what an instance takes
    group_vars/all/main.yml    fleet-wide role settings (TLS, release, SMTP)
    hosts.yml                  generated: every instance in the roles' groups
    orders/NAME.json           generated: the order as accepted (canonical JSON)
    host_vars/NAME/main.yml    generated: the instance's role variables
    host_vars/NAME/vault.yml   generated: its secrets, ansible-vault encrypted

Ansible reads it with `-i inventories/fleet/hosts.yml` (host_vars and group_vars
beside it); machines.yml, plans.yml and orders/ are herd's alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from herd.errors import ConfigError, LockHeld

REPO = Path(__file__).resolve().parents[3]
ROLES = REPO / "roles"
DEFAULT_FLEET = REPO / "inventories" / "fleet"

# The shapes of machines.yml and plans.yml (checked with jsonschema, like orders).
_SIZE = {"type": "integer", "minimum": 1}
MACHINES_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["machines"], "additionalProperties": False,
    "properties": {"machines": {"type": "object", "additionalProperties": {
        "type": "object", "additionalProperties": False,
        "required": ["address", "memory_mb", "disk_gb"],
        "properties": {"address": {"type": "string", "minLength": 1},
                       "memory_mb": _SIZE, "disk_gb": _SIZE, "max_instances": _SIZE,
                       "variables": {"type": "object"}}}}},
}
PLANS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["plans"], "additionalProperties": False,
    "properties": {"plans": {"type": "object", "additionalProperties": {
        "type": "object", "additionalProperties": False,
        "required": ["memory_mb", "disk_gb", "variables"],
        "properties": {"description": {"type": "string"}, "memory_mb": _SIZE,
                       "disk_gb": _SIZE, "variables": {"type": "object"}}}}},
}


@dataclass(frozen=True)
class Machine:
    name: str
    address: str
    memory_mb: int
    disk_gb: int
    # Until the roles take the instance as a parameter, one instance per machine.
    max_instances: int = 1
    variables: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    name: str
    memory_mb: int
    disk_gb: int
    variables: Mapping[str, Any]
    description: str = ""


@cache
def role_inputs() -> frozenset[str]:
    """Every variable some role declares in meta/argument_specs.yml."""
    names: set[str] = set()
    for specs in ROLES.glob("*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(specs.read_text()) or {}).get("argument_specs", {}).values():
            names.update((entry or {}).get("options") or {})
    return frozenset(names)


def _load_yaml(path: Path, schema: dict[str, Any]) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: missing; the fleet inventory needs it (see README, "
                          "\"Hosting co-op\")")
    data = yaml.safe_load(path.read_text()) or {}
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data),
                    key=lambda error: list(error.absolute_path))
    if errors:
        where = ".".join(str(part) for part in errors[0].absolute_path)
        raise ConfigError(f"{path}: {where}: {errors[0].message}")
    return data


class Fleet:
    """One fleet inventory directory."""

    def __init__(self, root: Path | str = DEFAULT_FLEET):
        self.root = Path(root)

    # --- what the operator wrote ---------------------------------------------------------
    def machines(self) -> dict[str, Machine]:
        data = _load_yaml(self.root / "machines.yml", MACHINES_SCHEMA)
        return {name: Machine(name=name, **spec) for name, spec in data["machines"].items()}

    def plans(self) -> dict[str, Plan]:
        data = _load_yaml(self.root / "plans.yml", PLANS_SCHEMA)
        plans = {name: Plan(name=name, **spec) for name, spec in data["plans"].items()}
        known = role_inputs()
        for plan in plans.values():
            unknown = sorted(set(plan.variables) - known)
            if unknown:
                raise ConfigError(
                    f"{self.root / 'plans.yml'}: plans.{plan.name}.variables: {', '.join(unknown)} "
                    "is no role's input (roles/*/meta/argument_specs.yml); fix the name")
        return plans

    # --- what herd wrote -------------------------------------------------------------------
    @property
    def orders_dir(self) -> Path:
        return self.root / "orders"

    def order_path(self, name: str) -> Path:
        return self.orders_dir / f"{name}.json"

    def host_vars(self, name: str) -> Path:
        return self.root / "host_vars" / name

    @property
    def hosts_file(self) -> Path:
        return self.root / "hosts.yml"

    def orders(self) -> dict[str, dict[str, Any]]:
        """Every accepted order by instance name (the canonical JSON herd wrote)."""
        if not self.orders_dir.is_dir():
            return {}
        return {path.stem: json.loads(path.read_text())
                for path in sorted(self.orders_dir.glob("*.json")) if not path.is_symlink()}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One order at a time per fleet (a lock on the directory itself)."""
        self.root.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.root, os.O_RDONLY)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockHeld(f"{self.root}: another herd instance command is writing "
                               "this fleet; try again when it is done") from None
            yield
        finally:
            os.close(descriptor)

    def refuse_symlinks(self, path: Path) -> None:
        """Refuse a symlink at `path` or at any directory between the fleet root and it:
        herd writes only files it owns, never through a link to somewhere else."""
        relative = path.relative_to(self.root)
        current = self.root
        for part in relative.parts:
            current = current / part
            if current.is_symlink():
                raise ConfigError(f"{current}: is a symbolic link; herd writes the fleet "
                                  "inventory's own files only. Replace it with the file "
                                  "(or remove it) and order again")


def write_atomic(path: Path, data: bytes, mode: int) -> bool:
    """Write `data` to `path` through a private temporary file in the same directory,
    renamed over it; nothing when the file already holds exactly these bytes.
    Returns whether the file changed."""
    if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600 whatever the umask; the mode is set before the rename.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True


def make_private_dir(path: Path) -> None:
    """Create `path` (and parents) as directories only their owner can enter."""
    for directory in reversed([path, *path.parents]):
        if not directory.exists():
            directory.mkdir(mode=0o700)
    path.chmod(0o700)
