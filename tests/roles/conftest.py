"""Run a role's input checks alone, against this machine, changing nothing.

Each role tags its argument validation and `tasks/preflight.yml` with `preflight`;
`run_preflight` applies the whole role with `--tags preflight --check` on
localhost, so a test proves that bad input is refused by the checks that run
before any change, with the message the operator will see.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")

# The mastodon preflight probes every outside source from the host
# (test_mastodon_sources.py): here they are this repository as the git source and
# Debian's Node and Ruby, so the mastodon tests reach nothing outside this machine.
MASTODON_LOCAL_SOURCES = {
    "mastodon_git_url": str(REPO),
    "mastodon_node_source": "debian",
    "mastodon_ruby_source": "debian",
}

PLAYBOOK = """\
- name: Preflight of {role}
  hosts: localhost
  connection: local
  gather_facts: true
  roles:
    - role: {role}
"""


@pytest.fixture(scope="session", autouse=True)
def cached_localhost_facts(tmp_path_factory) -> None:
    """Gather this machine's facts once for the whole session: every test here runs
    ansible-playbook on localhost, and gathering took half of each run. Inputs under
    test come as extra vars, which take precedence over facts, so a cached fact never
    hides one. Tests that reach other hosts set ANSIBLE_CACHE_PLUGIN back to memory."""
    os.environ["ANSIBLE_CACHE_PLUGIN"] = "jsonfile"
    os.environ["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = str(tmp_path_factory.mktemp("facts"))


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


def preflight_of(role: str, valid: dict):
    """A `preflight(**overrides)` fixture for one role's test module: the role's valid
    inputs with the overrides under test, so each test names only what it changes."""

    @pytest.fixture
    def preflight(run_preflight):
        return lambda **overrides: run_preflight(role, {**valid, **overrides})

    return preflight


def refused(result: subprocess.CompletedProcess, *needles: str) -> bool:
    """True when the run failed and its output names every needle (variable, fix)."""
    output = result.stdout + result.stderr
    return result.returncode != 0 and all(needle in output for needle in needles)


def changed_nothing(result: subprocess.CompletedProcess) -> bool:
    """The recap shows no changed task."""
    return "changed=0" in result.stdout and "changed=1" not in result.stdout

def documented_inputs(repo_root: Path, role: str) -> str:
    """Compare the role's inputs in argument_specs, defaults and the README table."""
    base = repo_root / "roles" / role
    specs = yaml.safe_load((base / "meta/argument_specs.yml").read_text())
    spec_names = set(specs["argument_specs"]["main"]["options"])
    defaults_text = (base / "defaults/main.yml").read_text()
    # Inputs without a safe default stay commented out in defaults/main.yml.
    default_names = set(re.findall(rf"^#? ?({role}_\w+):", defaults_text, re.MULTILINE))
    readme_names = set(re.findall(rf"^\| `({role}_\w+)` \|", (base / "README.md").read_text(),
                                  re.MULTILINE))
    if spec_names == default_names == readme_names:
        return "consistent"
    return (f"argument_specs only: {sorted(spec_names - readme_names - default_names)}; "
            f"defaults only: {sorted(default_names - spec_names)}; "
            f"README only: {sorted(readme_names - spec_names)}; "
            f"missing from README: {sorted(spec_names - readme_names)}; "
            f"missing from defaults: {sorted(spec_names - default_names)}")
