"""The production scenario, seen from outside its hosts: the control node reaches
each container on the scenario's private network, as a user or an operator would.

Expected values come from the scenario's inventory (molecule.yml), which has the
shipped production inventory's group layout."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
REPO = SCENARIO.parents[1]
INVENTORY = yaml.safe_load((SCENARIO / "molecule.yml").read_text())["provisioner"]["inventory"]
ALL = INVENTORY["group_vars"]["all"]
MASTODON = INVENTORY["group_vars"]["mastodon"]
ADDRESS = {host: values["herd_private_address"] for host, values in INVENTORY["host_vars"].items()}
WEB_DOMAIN = ALL["mastodon_web_domain"]
WEB_HOSTS = ["web1", "web2"]
APP_HOSTS = ["web1", "web2", "worker1"]
# Upstream's streaming PORT default (streaming/index.js) and the inventory's count.
STREAMING_PORTS = [4000 + n for n in range(MASTODON["mastodon_streaming_instances"])]


def on(host: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command inside a scenario host."""
    return subprocess.run(["podman", "exec", host, *argv], capture_output=True, text=True,
                          check=check, timeout=120)


def https(web_host: str, path: str, *extra: str) -> subprocess.CompletedProcess:
    """curl from the control node to one web host's nginx, by the instance's name."""
    return subprocess.run(
        ["curl", "-sk", "--max-time", "20", "--resolve", f"{WEB_DOMAIN}:443:{ADDRESS[web_host]}",
         "-w", "\n%{http_code}", *extra, f"https://{WEB_DOMAIN}{path}"],
        capture_output=True, text=True, check=False, timeout=60)


def status_and_body(result: subprocess.CompletedProcess) -> tuple[int, str]:
    body, _, status = result.stdout.rpartition("\n")
    return int(status or 0), body


def playbook(name: str, *extra: str) -> subprocess.CompletedProcess:
    """Run one of herd's playbooks against the scenario's inventory, as an operator does."""
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    return subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")),
         "-i", str(ephemeral / "inventory"),
         str(REPO / "playbooks" / name), *extra],
        capture_output=True, text=True, check=False, timeout=1800, cwd=REPO,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"})


@pytest.fixture(scope="session")
def sql():
    def run(query: str) -> str:
        database = "mastodon_production"
        return on("db1", "runuser", "-u", "postgres", "--", "psql", "-XAt", "-d", database,
                  "-c", query).stdout.strip()
    return run
