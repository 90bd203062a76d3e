"""Run a role's input checks alone, against this machine, changing nothing.

Each role tags its argument validation and `tasks/preflight.yml` with `preflight`;
`run_preflight` applies the whole role with `--tags preflight --check` on
localhost, so a test proves that bad input is refused by the checks that run
before any change, with the message the operator will see.
"""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")

PLAYBOOK = """\
- name: Preflight of {role}
  hosts: localhost
  connection: local
  gather_facts: true
  roles:
    - role: {role}
"""


@pytest.fixture
def run_preflight(tmp_path: Path) -> Callable[[str, dict], subprocess.CompletedProcess]:
    def run(role: str, extra_vars: dict) -> subprocess.CompletedProcess:
        playbook = tmp_path / f"preflight-{role}.yml"
        playbook.write_text(PLAYBOOK.format(role=role))
        variables = tmp_path / "vars.json"
        # The control node's own interpreter: discovery on localhost may pick
        # another Python (pyenv shims) that lacks Ansible's dependencies.
        variables.write_text(json.dumps({"ansible_python_interpreter": sys.executable,
                                         **extra_vars}))
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_NOCOLOR": "true",
        }
        return subprocess.run(
            [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "--check", "--tags", "preflight",
             "-e", f"@{variables}", str(playbook)],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False,
        )

    return run


def refused(result: subprocess.CompletedProcess, *needles: str) -> bool:
    """True when the run failed and its output names every needle (variable, fix)."""
    output = result.stdout + result.stderr
    return result.returncode != 0 and all(needle in output for needle in needles)


def changed_nothing(result: subprocess.CompletedProcess) -> bool:
    """The recap shows no changed task."""
    return "changed=0" in result.stdout and "changed=1" not in result.stdout
