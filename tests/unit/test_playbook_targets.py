"""Every play of every playbook targets the hosts it is meant to, on every shipped
inventory: a play that matches no host where it should (a group no inventory has)
fails here, not silently in production. The expected hosts are written from the
inventories' hosts.yml by hand, not computed from the playbooks."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")

DB = ["db1.example.coop"]
WEB = ["web1.example.coop", "web2.example.coop"]
APPS = ["web1.example.coop", "web2.example.coop", "worker1.example.coop"]
EVERY = DB + APPS

# playbook -> the hosts of each of its plays, in order, for inventories/production.
PRODUCTION = {
    "site.yml": [EVERY, DB, DB, WEB, APPS],
    "data-tier.yml": [DB, DB],
    "web.yml": [WEB],
    "mastodon.yml": [APPS],
    "upgrade.yml": [EVERY, APPS, DB, APPS],
    "pre-upgrade-backup.yml": [DB],
    "backup.yml": [EVERY, DB],
    "restore.yml": [EVERY, DB, APPS, DB, APPS],
    "maintenance.yml": [EVERY, APPS],
    "self-check.yml": [EVERY, APPS, WEB],
    "preflight.yml": [EVERY],
}
ONE_HOST = {"local": "herd-local", "staging": "staging.social.example.coop"}


def plays(inventory: str, playbook: str) -> list[list[str]]:
    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", f"inventories/{inventory}/hosts.yml", "--list-hosts",
         f"playbooks/{playbook}"],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=120,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found: list[list[str]] = []
    for block in re.split(r"\n\s*play #\d+", result.stdout)[1:]:
        match = re.search(r"hosts \((\d+)\):\n((?:\s+\S+\n?)*)", block)
        hosts = sorted(match.group(2).split()) if match else []
        found.append(hosts)
    return found


def test_every_playbook_has_an_expectation():
    shipped = {path.name for path in (REPO / "playbooks").glob("*.yml")}
    assert shipped == set(PRODUCTION)


@pytest.mark.parametrize("playbook", sorted(PRODUCTION))
def test_production_plays_target_their_hosts(playbook):
    assert plays("production", playbook) == [sorted(hosts) for hosts in PRODUCTION[playbook]]


@pytest.mark.parametrize("inventory", sorted(ONE_HOST))
@pytest.mark.parametrize("playbook", sorted(PRODUCTION))
def test_one_host_inventories_run_every_play_on_their_host(inventory, playbook):
    expected = [[ONE_HOST[inventory]]] * len(PRODUCTION[playbook])
    assert plays(inventory, playbook) == expected


def included_roles(node):
    """(role, tasks_from) of every include_role/import_role in a parsed playbook."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                yield value["name"], value.get("tasks_from", "main")
            else:
                yield from included_roles(value)
    elif isinstance(node, list):
        for item in node:
            yield from included_roles(item)


@pytest.mark.parametrize("playbook", sorted(PRODUCTION))
def test_included_role_steps_are_validated_entry_points(playbook):
    """Ansible validates a role's argument spec only for the entry point named exactly
    like tasks_from: `tasks_from: acme.yml` would skip the spec of entry point `acme`."""
    import yaml

    parsed = yaml.safe_load((REPO / "playbooks" / playbook).read_text())
    for role, step in included_roles(parsed):
        if "{{" in step:
            continue
        specs = yaml.safe_load((REPO / "roles" / role / "meta/argument_specs.yml").read_text())
        assert step in specs["argument_specs"], f"{playbook}: {role} tasks_from {step}"
