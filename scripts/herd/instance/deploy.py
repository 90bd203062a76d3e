"""`herd instance deploy NAME`: playbooks/site.yml on that instance's hosts only."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from herd.errors import CommandFailed, ConfigError
from herd.instance.fleet import REPO, Fleet
from herd.log import StepLog

PLAYBOOK = REPO / "playbooks" / "site.yml"


def known(fleet: Fleet, name: str) -> None:
    names = sorted(fleet.orders())
    if name not in names:
        raise ConfigError(f"NAME: {name!r} is no instance of {fleet.root} "
                          f"(instances: {', '.join(names) or 'none yet'}); "
                          "order it first (herd instance order ORDER)")


def argv(fleet: Fleet, name: str, vault_password_file: str | None,
         extra: Sequence[str] = ()) -> list[str]:
    playbook = shutil.which("ansible-playbook")
    if playbook is None:
        raise ConfigError("ansible-playbook: not found on PATH; run `make setup` and use .venv")
    command = [playbook, "-i", str(fleet.hosts_file), "--limit", name, str(PLAYBOOK)]
    if vault_password_file:
        command[1:1] = ["--vault-password-file", str(vault_password_file)]
    return command + list(extra)


def deploy(fleet: Fleet, name: str, log: StepLog, vault_password_file: str | None = None,
           extra: Sequence[str] = (), dry_run: bool = False) -> int:
    known(fleet, name)
    command = argv(fleet, name, vault_password_file, extra)
    log.step("run", command=shlex.join(command), dry_run=dry_run)
    if dry_run:
        return 0
    # The repository's ansible.cfg (roles, plugins) unless the operator chose another.
    env = {**os.environ}
    env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    # Ansible's output goes straight to the operator's terminal.
    result = subprocess.run(command, env=env, cwd=Path(REPO), check=False)  # noqa: S603
    if result.returncode != 0:
        raise CommandFailed(command, result.returncode, "")
    return 0
