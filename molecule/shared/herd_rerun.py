"""Re-run a scenario's converge playbook from a test, as an operator re-runs herd.

Molecule's verifier environment names the scenario's inventory and ansible.cfg; the
playbook runs unchanged against them and the recap is read per host.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$", re.MULTILINE)


def converge(scenario: Path) -> subprocess.CompletedProcess:
    """Run the scenario's converge.yml against its inventory, unchanged."""
    return playbook(scenario, scenario / "converge.yml")


def playbook(scenario: Path, path: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run a playbook (one of herd's, or the scenario's) against the scenario's
    inventory, with the options an operator would add (`-e mastodon_version=...`)."""
    repo = scenario.parents[1]
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    return subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")),
         "-i", str(ephemeral / "inventory"), str(path), *extra],
        capture_output=True, text=True, check=False, timeout=1800, cwd=repo,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
             "ANSIBLE_ROLES_PATH": os.environ.get("ANSIBLE_ROLES_PATH", str(repo / "roles"))})


def recap(result: subprocess.CompletedProcess) -> dict[str, dict[str, int]]:
    """PLAY RECAP counts per host: {'host': {'ok': 12, 'changed': 1, 'failed': 0, ...}}."""
    _, _, tail = result.stdout.rpartition("PLAY RECAP")
    return {match["host"]: {key: int(value) for key, value in
                            (pair.split("=") for pair in match["counts"].split())}
            for match in RECAP.finditer(tail)}
