"""`herd instance list`: the fleet's instances, one row each.

From the fleet inventory: name, domain, machine, plan and the release the inventory
deploys. With --facts, from what the roles record on each host, read through Ansible
(one `setup` and one `slurp` over the fleet): the mastodon role's local fact
(/etc/ansible/facts.d/herd_mastodon.fact: the release it built and its app
directory), the disk use of the filesystem holding that directory (Ansible's mount
facts), and the backup role's status file (backup_status_file: the last run's result,
backup id and end time).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import yaml

from herd.errors import CommandFailed, ConfigError
from herd.instance.fleet import REPO, ROLES, Fleet

UNKNOWN = "unknown"
COLUMNS = ("name", "domain", "host", "plan", "release", "state", "last_backup", "backup_age",
           "disk_use")


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def _read_vars(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return yaml.load(path.read_text(), Loader=_Loader) or {}  # noqa: S506 - SafeLoader subclass


def _role_default(role: str, name: str) -> Any:
    return (yaml.safe_load((ROLES / role / "defaults/main.yml").read_text()) or {}).get(name)


def inventory_rows(fleet: Fleet) -> list[dict[str, Any]]:
    fleet_vars = _read_vars(fleet.root / "group_vars/all/main.yml")
    rows = []
    for name, order in sorted(fleet.orders().items()):
        host_vars = _read_vars(fleet.host_vars(name) / "main.yml")
        release = host_vars.get("mastodon_version") or fleet_vars.get("mastodon_version") \
            or _role_default("mastodon", "mastodon_version")
        rows.append({"name": name, "domain": order["domain"],
                     "host": order["placement"]["host"], "plan": order["plan"],
                     "release": f"{release} (inventory)", "state": UNKNOWN,
                     "last_backup": UNKNOWN, "backup_age": UNKNOWN, "disk_use": UNKNOWN,
                     "_status_file": host_vars.get("backup_status_file")
                     or _role_default("backup", "backup_status_file")})
    return rows


def _ansible(fleet: Fleet, hosts: Sequence[str], module: str, arguments: str,
             become: bool, vault_password_file: str | None) -> dict[str, Mapping[str, Any]]:
    """One ad-hoc module run over `hosts`; each host's result (Ansible's json callback)."""
    ansible = shutil.which("ansible")
    if ansible is None:
        raise ConfigError("ansible: not found on PATH; run `make setup` and use .venv")
    command = [ansible, "-i", str(fleet.hosts_file), ",".join(hosts), "-m", module,
               "-a", arguments, *(["--become"] if become else []),
               *(["--vault-password-file", vault_password_file] if vault_password_file else [])]
    env = {**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "true",
           "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True,  # noqa: S603
                            text=True, check=False)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        raise CommandFailed(command, result.returncode, result.stderr) from None
    found: dict[str, Mapping[str, Any]] = {}
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            found.update(task.get("hosts", {}))
    return found


def _age(finished: str, now: datetime) -> str:
    try:
        seconds = (now - datetime.fromisoformat(finished)).total_seconds()
    except (TypeError, ValueError):
        return UNKNOWN
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def _size(count: float) -> str:
    """Bytes in binary units, as `df -h` writes them (e.g. 200G, 9.5G)."""
    units = ["B", "K", "M", "G", "T"]
    while count >= 1024 and len(units) > 1:
        count /= 1024
        units.pop(0)
    return f"{count:.1f}{units[0]}" if count < 10 and units[0] != "B" else f"{count:.0f}{units[0]}"


def disk_use(mounts: Sequence[Mapping[str, Any]], path: str) -> str:
    """"<used>% of <size>" of the filesystem holding `path`: the mount with the longest
    mount point above it (Ansible's mount facts); used is what is not available to
    the Mastodon user (blocks reserved for root count as used)."""
    if not path.startswith("/"):
        return UNKNOWN
    best: Mapping[str, Any] | None = None
    for mount in mounts:
        point = str(mount.get("mount") or "")
        above = point == "/" or path == point or path.startswith(point.rstrip("/") + "/")
        if above and (best is None or len(point) > len(str(best["mount"]))):
            best = mount
    try:
        total = int(best["size_total"]) if best else 0
        available = int(best["size_available"]) if best else 0
    except (TypeError, ValueError):
        return UNKNOWN
    if total <= 0:
        return UNKNOWN
    used = round(100 * (total - available) / total)
    return f"{used}% of {_size(total)}"


def add_facts(fleet: Fleet, rows: list[dict[str, Any]], vault_password_file: str | None,
              now: datetime | None = None) -> None:
    if not rows:
        return
    now = now or datetime.now(UTC)
    names = [row["name"] for row in rows]
    facts = _ansible(fleet, names, "ansible.builtin.setup", "filter=ansible_local,ansible_mounts",
                     False, vault_password_file)
    for row in rows:
        result = facts.get(row["name"], {})
        if result.get("unreachable") or result.get("failed"):
            row["state"] = "unreachable"
            continue
        host_facts = result.get("ansible_facts") or {}
        recorded = (host_facts.get("ansible_local") or {}).get("herd_mastodon")
        row["state"] = "deployed" if recorded is not None else "not deployed"
        if isinstance(recorded, Mapping):
            if recorded.get("release"):
                row["release"] = str(recorded["release"])
            row["disk_use"] = disk_use(host_facts.get("ansible_mounts") or [],
                                       str(recorded.get("app_dir") or ""))
    reachable = [row for row in rows if row["state"] != "unreachable"]
    by_file: dict[str, list[dict[str, Any]]] = {}
    for row in reachable:
        by_file.setdefault(row["_status_file"], []).append(row)
    for status_file, group in by_file.items():
        results = _ansible(fleet, [row["name"] for row in group], "ansible.builtin.slurp",
                           f"src={status_file}", True, vault_password_file)
        for row in group:
            result = results.get(row["name"], {})
            if "content" not in result:
                row["last_backup"] = "none" if row["state"] != "unreachable" else UNKNOWN
                continue
            try:
                status = json.loads(base64.b64decode(result["content"]))
            except ValueError:
                continue
            if status.get("result") == "success":
                row["last_backup"] = status.get("backup_id") or UNKNOWN
                row["backup_age"] = _age(status.get("finished_at"), now)
            else:
                # The status file holds the last run only: a failed one hides the one before.
                row["last_backup"] = "last run failed"


def show(rows: Sequence[Mapping[str, Any]], out: TextIO, as_json: bool) -> None:
    public = [{column: row[column] for column in COLUMNS} for row in rows]
    if as_json:
        out.write(json.dumps(public, indent=2, ensure_ascii=False) + "\n")
        return
    widths = {column: max([len(column), *(len(str(row[column])) for row in public)])
              for column in COLUMNS}
    out.write("  ".join(column.upper().ljust(widths[column]) for column in COLUMNS).rstrip()
              + "\n")
    for row in public:
        out.write("  ".join(str(row[column]).ljust(widths[column]) for column in COLUMNS)
                  .rstrip() + "\n")
